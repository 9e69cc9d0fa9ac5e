"""The packaged template as an admin deploys it unmodified: what to watch, what to subscribe to,
names that exist before the stack does, and what the CLI needs from its Outputs.

Read as data from `scripts/package.py`'s output (fixture `packaged`, cfn-lint clean).
"""

import json
import re

import pytest

from chalicelib.observability import SERVICE

STAGE_NAME = {"Fn::FindInMap": ["Deployment", "Stage", "Name"]}
ALARM_TARGET = [{"Fn::If": ["UseCustomerKey", {"Ref": "FindingsTopic"}, {"Ref": "AlarmTopic"}]}]


def _of_type(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _named(text):
    """A `Fn::Sub` with the stage as its only variable."""
    return {"Fn::Sub": [text, {"Stage": STAGE_NAME}]}


def test_the_stage_is_set_in_the_template(packaged):
    stage, template = packaged
    assert template["Mappings"]["Deployment"]["Stage"]["Name"] == stage


@pytest.mark.parametrize(
    ("role", "suffix"),
    [("OnAccessDeniedRole", "events"), ("ApiHandlerRole", "api"), ("DiagnoseRole", "diagnose")],
)
def test_roles_have_fixed_names_an_organization_role_can_trust_in_advance(packaged, role, suffix):
    _, template = packaged
    properties = template["Resources"][role]["Properties"]
    assert properties["RoleName"] == _named(f"s3-403-doctor-${{Stage}}-${{AWS::Region}}-{suffix}")
    # the longest region name keeps the role name within IAM's 64 characters
    assert len(f"s3-403-doctor-prod-ap-southeast-4-{suffix}") <= 64


def test_each_function_has_a_log_group_with_the_chosen_retention(packaged):
    _, template = packaged
    groups = _of_type(template, "AWS::Logs::LogGroup")
    assert {g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups.values()} == {
        "/aws/lambda/${OnAccessDenied}",
        "/aws/lambda/${APIHandler}",
    }
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    parameter = template["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 30
    assert 30 in parameter["AllowedValues"]


def test_no_role_creates_log_groups(packaged):
    _, template = packaged
    text = json.dumps(template)
    assert "logs:CreateLogGroup" not in text
    assert "log_retention_in_days" not in json.dumps(template["Resources"])


def _alarms(template):
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    return {a["Properties"]["AlarmName"]["Fn::Sub"][0]: a["Properties"] for a in alarms.values()}


def test_alarms_watch_the_dead_letter_queue_errors_and_throttles(packaged):
    _, template = packaged
    alarms = _alarms(template)
    assert sorted(alarms) == [
        "s3-403-doctor-${Stage}-dlq-depth",
        "s3-403-doctor-${Stage}-errors",
        "s3-403-doctor-${Stage}-throttles",
    ]
    dlq = alarms["s3-403-doctor-${Stage}-dlq-depth"]
    assert (dlq["Namespace"], dlq["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert dlq["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
    ]
    for name, metric in (("errors", "Errors"), ("throttles", "Throttles")):
        alarm = alarms[f"s3-403-doctor-${{Stage}}-{name}"]
        assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Lambda", metric)
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "OnAccessDenied"}}]
    for alarm in alarms.values():
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Threshold"] == 0
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == ALARM_TARGET


def test_alarms_reach_a_topic_cloudwatch_can_publish_to(packaged):
    _, template = packaged
    resources = template["Resources"]
    # CloudWatch cannot use the AWS managed aws/sns key of the findings topic: without a customer
    # key the alarms get their own topic, which has no KMS key
    alarm_topic = resources["AlarmTopic"]
    assert alarm_topic["Condition"] == "NeedsAlarmTopic"
    assert "KmsMasterKeyId" not in alarm_topic["Properties"]
    assert template["Conditions"]["NeedsAlarmTopic"] == {
        "Fn::Not": [{"Condition": "UseCustomerKey"}]
    }
    # every alarm's SourceArn falls under the pattern the topic policies allow
    allowed = resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    pattern = allowed["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"][0]
    assert pattern.endswith(":alarm:s3-403-doctor-${Stage}-*")
    prefix = pattern.rsplit(":", 1)[1].rstrip("*")
    assert all(name.startswith(prefix) for name in _alarms(template))


def test_alert_email_subscribes_only_when_given(packaged):
    _, template = packaged
    subscriptions = _of_type(template, "AWS::SNS::Subscription")
    assert {s["Properties"]["TopicArn"]["Ref"]: s["Condition"] for s in subscriptions.values()} == {
        "FindingsTopic": "HasAlertEmail",
        "AlarmTopic": "HasAlertEmailAndAlarmTopic",
    }
    for subscription in subscriptions.values():
        assert subscription["Properties"]["Protocol"] == "email"
        assert subscription["Properties"]["Endpoint"] == {"Ref": "AlertEmail"}
    assert template["Conditions"]["HasAlertEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]
    }
    assert template["Parameters"]["AlertEmail"]["Default"] == ""
    assert re.fullmatch(template["Parameters"]["AlertEmail"]["AllowedPattern"], "")


def test_chat_topic_exists_only_when_enabled_and_is_encrypted_like_the_findings_topic(packaged):
    _, template = packaged
    resources = template["Resources"]
    chat = resources["ChatTopic"]
    assert chat["Condition"] == "ChatEnabled"
    key = resources["FindingsTopic"]["Properties"]["KmsMasterKeyId"]
    assert chat["Properties"]["KmsMasterKeyId"] == key
    assert template["Conditions"]["ChatEnabled"] == {
        "Fn::Equals": [{"Ref": "ChatNotifications"}, "enabled"]
    }
    variables = resources["OnAccessDenied"]["Properties"]["Environment"]["Variables"]
    assert variables["CHAT_TOPIC_ARN"] == {"Fn::If": ["ChatEnabled", {"Ref": "ChatTopic"}, ""]}
    assert "CHAT_TOPIC_ARN" not in resources["APIHandler"]["Properties"]["Environment"]["Variables"]


def test_security_hub_import_is_granted_on_the_default_product_only_when_enabled(packaged):
    _, template = packaged
    role = template["Resources"]["OnAccessDeniedRole"]["Properties"]["Policies"][0]
    statements = [s["Fn::If"] for s in role["PolicyDocument"]["Statement"] if "Fn::If" in s]
    (grant,) = [(c, yes, no) for c, yes, no in statements if c == "SecurityHubEnabled"]
    _, statement, otherwise = grant
    assert otherwise == {"Ref": "AWS::NoValue"}
    assert statement["Action"] == ["securityhub:BatchImportFindings"]
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:"
        "product/${AWS::AccountId}/default"
    }
    assert template["Conditions"]["SecurityHubEnabled"] == {
        "Fn::Equals": [{"Ref": "SecurityHub"}, "enabled"]
    }
    assert "securityhub" not in json.dumps(template["Resources"]["ApiHandlerRole"])


def test_tracing_is_a_parameter_of_both_functions_with_its_permissions(packaged):
    _, template = packaged
    for function, role in (
        ("OnAccessDenied", "OnAccessDeniedRole"),
        ("APIHandler", "ApiHandlerRole"),
    ):
        assert template["Resources"][function]["Properties"]["Tracing"] == {"Ref": "Tracing"}
        document = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
        (traces,) = [
            s["Fn::If"]
            for s in document["Statement"]
            if s.get("Fn::If", [None])[0] == "TracingActive"
        ]
        assert traces[1]["Action"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    parameter = template["Parameters"]["Tracing"]
    assert (parameter["Default"], parameter["AllowedValues"]) == (
        "PassThrough",
        ["PassThrough", "Active"],
    )


def _dashboard(template):
    (dashboard,) = _of_type(template, "AWS::CloudWatch::Dashboard").values()
    return dashboard["Properties"]


def test_dashboard_shows_the_emf_metrics_the_handler_emits(packaged):
    _, template = packaged
    properties = _dashboard(template)
    assert properties["DashboardName"] == _named("s3-403-doctor-${Stage}-${AWS::Region}")
    body = properties["DashboardBody"]["Fn::Sub"]
    document = json.loads(body)  # valid JSON once the ${...} references are substituted
    config = json.loads((_project() / ".chalice" / "config.json").read_text())
    namespace = config["environment_variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    named = set()
    for widget in document["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):  # a SEARCH expression
                expression = row[0]["expression"]
                assert f"{{{namespace},".lower() in expression.lower()
                named.add(re.search(r'MetricName="(\w+)"', expression).group(1))
            elif row[0] == namespace:
                assert row[2:4] == ["service", SERVICE]
                named.add(row[1])
            elif row[0] == ".":
                named.add(row[1])
    assert {
        "Diagnoses", "Findings", "Alerts", "Decisions", "BlockedBy", "CollectionCalls", "Duration",
        "SuppressedAlerts", "Failures",
    } <= named  # fmt: skip
    alarms = [w for w in document["widgets"] if w["type"] == "alarm"]
    assert alarms[0]["properties"]["alarms"] == [
        "${DeadLetterQueueAlarm.Arn}",
        "${ErrorsAlarm.Arn}",
        "${ThrottlesAlarm.Arn}",
    ]
    # every ${...} reference names a resource of the template (or a pseudo parameter)
    for reference in re.findall(r"\$\{([^}]+)\}", body):
        assert reference.startswith("AWS::") or reference.split(".")[0] in template["Resources"]


def _project():
    from pathlib import Path

    return Path(__file__).resolve().parents[3]


def test_outputs_give_the_cli_everything_it_needs(packaged):
    _, template = packaged
    outputs = template["Outputs"]
    assert outputs["Region"]["Value"] == {"Ref": "AWS::Region"}
    assert outputs["FindingsTableName"]["Value"] == {"Ref": "FindingsTable"}
    assert outputs["FindingsTopicArn"]["Value"] == {"Ref": "FindingsTopic"}
    assert outputs["ChatTopicArn"] == {
        "Condition": "ChatEnabled",
        "Value": {"Ref": "ChatTopic"},
        "Description": outputs["ChatTopicArn"]["Description"],
    }
    assert outputs["AlarmTopicArn"]["Value"] == ALARM_TARGET[0]
    assert outputs["DeadLetterQueueUrl"]["Value"] == {"Ref": "DeadLetterQueue"}
    assert "${RestAPI}.execute-api" in outputs["EndpointURL"]["Value"]["Fn::Sub"]
    for role in ("OnAccessDeniedRole", "ApiHandlerRole"):
        assert outputs[f"{role}Arn"]["Value"] == {"Fn::GetAtt": [role, "Arn"]}
    assert outputs["DiagnoseRoleArn"]["Condition"] == "DiagnoseApiEnabled"
    assert "DashboardUrl" in outputs


def test_every_conditional_output_and_reference_is_guarded(packaged):
    """A Ref to a conditional resource outside its condition fails at deploy, not at lint."""
    _, template = packaged
    conditional = {n for n, r in template["Resources"].items() if "Condition" in r}
    for name, output in template["Outputs"].items():
        text = json.dumps(output["Value"])
        for resource in conditional:
            if f'"{resource}"' in text and "Fn::If" not in text:
                assert output.get("Condition") == template["Resources"][resource]["Condition"], name
