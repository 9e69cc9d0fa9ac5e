"""`make package`: the CloudFormation template holds the whole stack, and cfn-lint accepts it.

What each policy grants is checked in test_policy_files.py; here, that the template carries
them: one role per function, the DiagnoseRole, the topic policy, KMS encryption, the reserved
concurrency and the Parameters wired to the functions' environment.
"""

import json
from pathlib import Path

from chalicelib.collect.shared_cache import (
    CACHE_TABLE_DEFINITION,
    CACHE_TTL_ATTRIBUTE,
    DEFAULT_TTL_SECONDS,
)
from chalicelib.events import ACCESS_DENIED_PATTERN
from chalicelib.publish.store import TABLE_DEFINITION

PROJECT = Path(__file__).resolve().parents[3]
MERGE_TEMPLATE = PROJECT / ".chalice" / "resources.json"
RULE_STATE = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
# `packaged` (conftest.py): (stage, template) after scripts/package.py, cfn-lint included.


def _resources(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _event_handler(template):
    functions = _resources(template, "AWS::Serverless::Function")
    handlers = {
        name: f for name, f in functions.items()
        if any(e["Type"] == "CloudWatchEvent" for e in f["Properties"].get("Events", {}).values())
    }  # fmt: skip
    assert len(handlers) == 1, sorted(functions)
    return next(iter(handlers.items()))


def test_rule_matches_denied_s3_calls_including_read_only_management_events(packaged):
    _, template = packaged
    _, handler = _event_handler(template)
    (rule,) = handler["Properties"]["Events"].values()
    assert rule["Properties"]["Pattern"] == ACCESS_DENIED_PATTERN
    assert rule["Properties"]["State"] == RULE_STATE


def test_failed_events_go_to_the_dead_letter_queue(packaged):
    _, template = packaged
    _, handler = _event_handler(template)
    assert "DeadLetterQueue" in _resources(template, "AWS::SQS::Queue")
    on_failure = handler["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure == {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}


def test_table_is_the_one_the_store_expects(packaged):
    _, template = packaged
    tables = _resources(template, "AWS::DynamoDB::Table")
    properties = dict(tables["FindingsTable"]["Properties"])
    properties.pop("SSESpecification")
    assert properties == TABLE_DEFINITION
    assert "FindingsTopic" in _resources(template, "AWS::SNS::Topic")


def test_each_function_gets_the_resources_it_uses(packaged):
    _, template = packaged
    event = _variables(template, "OnAccessDenied")
    assert event["FINDINGS_TABLE_NAME"] == {"Ref": "FindingsTable"}
    assert event["FINDINGS_TOPIC_ARN"] == {"Ref": "FindingsTopic"}
    api = _variables(template, "APIHandler")
    assert api["FINDINGS_TABLE_NAME"] == {"Ref": "FindingsTable"}
    assert "FINDINGS_TOPIC_ARN" not in api  # the API never publishes


def test_collection_cache_table_is_the_one_the_event_function_shares(packaged):
    _, template = packaged
    resources = template["Resources"]
    properties = dict(resources["CollectionCacheTable"]["Properties"])
    sse = properties.pop("SSESpecification")
    ttl = properties.pop("TimeToLiveSpecification")
    assert properties == CACHE_TABLE_DEFINITION  # on demand, keyed by pk
    assert ttl == {"AttributeName": CACHE_TTL_ATTRIBUTE, "Enabled": True}
    assert sse == resources["FindingsTable"]["Properties"]["SSESpecification"]  # same KMS
    event = _variables(template, "OnAccessDenied")
    assert event["COLLECTION_CACHE_TABLE_NAME"] == {"Ref": "CollectionCacheTable"}
    assert event["SHARED_CACHE_TTL_SECONDS"] == {"Ref": "SharedCacheTtlSeconds"}
    assert template["Parameters"]["SharedCacheTtlSeconds"]["Default"] == DEFAULT_TTL_SECONDS
    api = _variables(template, "APIHandler")
    assert "COLLECTION_CACHE_TABLE_NAME" not in api  # the API reads as DiagnoseRole, uncached


def _variables(template, function):
    return template["Resources"][function]["Properties"]["Environment"]["Variables"]


def _policy_file(name):
    return json.loads((PROJECT / ".chalice" / name).read_text())


def test_each_function_has_its_own_role_with_its_hand_kept_policy(packaged):
    _, template = packaged
    merge = json.loads(MERGE_TEMPLATE.read_text())["Resources"]
    diagnose = merge["DiagnoseRole"]["Properties"]["Policies"]
    expected = {
        "OnAccessDeniedRole": [_policy_file("policy-on-access-denied.json")],
        "ApiHandlerRole": [_policy_file("policy-api-handler.json")],
        "DiagnoseRole": [p["PolicyDocument"] for p in diagnose],
    }
    roles = _resources(template, "AWS::IAM::Role")
    assert sorted(roles) == sorted(expected)
    for name, role in roles.items():
        policies = role["Properties"].get("Policies", [])
        assert [p["PolicyDocument"] for p in policies] == expected[name], name
        assert not role["Properties"].get("ManagedPolicyArns"), name
    functions = template["Resources"]
    assert functions["OnAccessDenied"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["OnAccessDeniedRole", "Arn"]
    }
    assert functions["APIHandler"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["ApiHandlerRole", "Arn"]
    }
    # the only other IAM policy: the API role may assume DiagnoseRole, when POST /diagnose is on
    (extra,) = _resources(template, "AWS::IAM::Policy").values()
    assert extra["Condition"] == "DiagnoseApiEnabled"
    assert extra["Properties"]["Roles"] == [{"Ref": "ApiHandlerRole"}]
    assert roles["DiagnoseRole"]["Condition"] == "DiagnoseApiEnabled"


def test_every_topic_has_its_policy(packaged):
    _, template = packaged
    policies = _resources(template, "AWS::SNS::TopicPolicy")
    topics = set(_resources(template, "AWS::SNS::Topic"))
    assert topics == {"FindingsTopic", "ChatTopic", "AlarmTopic"}
    assert sorted(p["Properties"]["Topics"][0]["Ref"] for p in policies.values()) == sorted(topics)
    for policy in policies.values():
        (topic,) = policy["Properties"]["Topics"]
        assert policy.get("Condition") == template["Resources"][topic["Ref"]].get("Condition")


def test_topic_queue_and_table_are_encrypted_with_kms(packaged):
    _, template = packaged
    resources = template["Resources"]
    customer_key = {"Ref": "KmsKeyArn"}
    topic = resources["FindingsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::If": ["UseCustomerKey", customer_key, "alias/aws/sns"]}
    queue = resources["DeadLetterQueue"]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Fn::If": ["UseCustomerKey", customer_key, "alias/aws/sqs"]}
    assert "SqsManagedSseEnabled" not in queue
    table = resources["FindingsTable"]["Properties"]
    assert table["SSESpecification"] == {
        "Fn::If": [
            "UseCustomerKey",
            {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": customer_key},
            {"SSEEnabled": True},
        ]
    }
    assert template["Conditions"]["UseCustomerKey"] == {
        "Fn::Not": [{"Fn::Equals": [customer_key, ""]}]
    }


def test_event_function_has_reserved_concurrency(packaged):
    _, template = packaged
    properties = template["Resources"]["OnAccessDenied"]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == 10


# Parameter -> (default, environment variable, functions that get it)
PARAMETERS = {
    "DiagnoseApi": (None, "DIAGNOSE_API", ("APIHandler",)),
    "FullDetailPrincipals": ("", "FULL_DETAIL_PRINCIPALS", ("APIHandler",)),
    "AlertDetail": ("references", "ALERT_DETAIL", ("OnAccessDenied",)),
    "AlertBudget": (10, "ALERT_BUDGET", ("OnAccessDenied",)),
    "ReadObjects": ("true", "READ_OBJECTS", ("OnAccessDenied", "APIHandler")),
    "OrganizationAccountIds": ("", "ORGANIZATION_ACCOUNT_IDS", ("OnAccessDenied",)),
    "OrgReadRoleArn": ("", "ORG_READ_ROLE_ARN", ("OnAccessDenied", "APIHandler")),
    "MaxKeysPerEvent": (25, "MAX_KEYS_PER_EVENT", ("OnAccessDenied",)),
    "SecurityHub": ("disabled", "SECURITY_HUB", ("OnAccessDenied",)),
    "MemberRoleName": ("", "MEMBER_ROLE_NAME", ("OnAccessDenied",)),
    "SharedCacheTtlSeconds": (60, "SHARED_CACHE_TTL_SECONDS", ("OnAccessDenied",)),
    "OrganizationId": ("", None, ()),  # the central bus and its rule, when set
    "KmsKeyArn": ("", None, ()),
    "ReservedConcurrency": (10, None, ()),
    "ChatNotifications": ("disabled", None, ()),  # CHAT_TOPIC_ARN: the topic's ARN or ""
    "LogRetentionDays": (30, None, ()),
    "AlertEmail": ("", None, ()),
    "Tracing": ("PassThrough", None, ()),
}


def test_parameters_have_their_defaults_and_reach_the_functions(packaged):
    _, template = packaged
    assert sorted(template["Parameters"]) == sorted(PARAMETERS)
    for name, (default, variable, functions) in PARAMETERS.items():
        parameter = template["Parameters"][name]
        if default is not None:
            assert parameter["Default"] == default, name
        for function in functions:
            assert _variables(template, function)[variable] == {"Ref": name}, (name, function)
        for function in {"OnAccessDenied", "APIHandler"} - set(functions):
            assert variable is None or variable not in _variables(template, function), name


def test_diagnose_api_is_on_in_dev_and_off_in_prod(packaged):
    stage, template = packaged
    expected = {"dev": "enabled", "prod": "disabled"}[stage]
    assert template["Parameters"]["DiagnoseApi"]["Default"] == expected
    assert _variables(template, "APIHandler")["DIAGNOSE_ROLE_ARN"] == {
        "Fn::If": ["DiagnoseApiEnabled", {"Fn::GetAtt": ["DiagnoseRole", "Arn"]}, ""]
    }
    assert template["Conditions"]["DiagnoseApiEnabled"] == {
        "Fn::Equals": [{"Ref": "DiagnoseApi"}, "enabled"]
    }


def test_the_event_function_knows_the_deployments_own_roles(packaged):
    _, template = packaged
    ours = {"Fn::GetAtt": ["OnAccessDeniedRole", "Arn"]}
    assert _variables(template, "OnAccessDenied")["DIAGNOSER_ROLE_ARNS"] == {
        "Fn::If": [
            "DiagnoseApiEnabled",
            {"Fn::Join": [",", [ours, {"Fn::GetAtt": ["DiagnoseRole", "Arn"]}]]},
            ours,
        ]
    }


def test_no_organization_read_role_is_baked_into_the_configuration():
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    assert "ORG_READ_ROLE_ARN" not in json.dumps(config)


def test_every_api_route_requires_sigv4(packaged):
    _, template = packaged
    (api,) = _resources(template, "AWS::Serverless::Api").values()
    paths = api["Properties"]["DefinitionBody"]["paths"]
    assert set(paths) >= {"/findings", "/findings/{finding_id}", "/diagnose"}
    for path, methods in paths.items():
        for method, spec in methods.items():
            assert spec.get("security") == [{"sigv4": []}], f"{method.upper()} {path}"
