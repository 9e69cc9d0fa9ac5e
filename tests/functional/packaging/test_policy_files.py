"""The hand-kept policies grant exactly what the code uses: no more, no less.

Four documents, each checked under every combination of the template's Conditions:
- `.chalice/policy-on-access-denied.json`: the event function's role;
- `.chalice/policy-api-handler.json` (+ `ApiHandlerAssumeDiagnoseRole` in the merge template):
  the API function's role;
- `DiagnoseRole` in `.chalice/resources.json`: what POST /diagnose reads through;
- `FindingsTopicPolicy`, `ChatTopicPolicy` and `AlarmTopicPolicy` in `.chalice/resources.json`:
  who may publish to each topic.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.collect.permissions import MEMBERSHIP_PERMISSIONS, READ_PERMISSIONS
from chalicelib.collect.s3 import ObjectCollector

PROJECT = Path(__file__).resolve().parents[3]
CHALICE = PROJECT / ".chalice"
PUBLISH = PROJECT / "chalicelib" / "publish"

OBJECT_READS = frozenset(ObjectCollector.permissions)
# The organization collector's sts:AssumeRole is granted on OrgReadRoleArn only, when it is set.
LAYER_READS = READ_PERMISSIONS - {"sts:AssumeRole"}
# The event function also lists the organization's accounts (collect/membership.py).
EVENT_READS = LAYER_READS | MEMBERSHIP_PERMISSIONS
# The stack creates the log groups (with retention): the roles may not create them.
LOGS = frozenset({"logs:CreateLogStream", "logs:PutLogEvents"})
LOG_STREAMS = {
    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
    "log-group:/aws/lambda/*:*"
}
TRACES = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})
SECURITY_HUB_IMPORT = "securityhub:BatchImportFindings"
SECURITY_HUB_PRODUCT = {
    "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/"
    "${AWS::AccountId}/default"
}
KMS_FOR_MESSAGES = frozenset({"kms:Decrypt", "kms:GenerateDataKey"})
MEMBER_ROLES = {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
ORGANIZATION_RESOURCES = {"StringEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}}
READ_SERVICES = ("s3:", "iam:", "kms:", "ec2:", "organizations:")

CONDITIONS = (
    "ReadObjectsEnabled",
    "HasOrgReadRole",
    "UseCustomerKey",
    "DiagnoseApiEnabled",
    "ChatEnabled",
    "SecurityHubEnabled",
    "TracingActive",
    "HasMemberRole",
)
COMBINATIONS = [
    dict(zip(CONDITIONS, values, strict=True))
    for values in itertools.product((True, False), repeat=len(CONDITIONS))
]
COMBINATION_IDS = [
    "-".join(name if on else f"not{name}" for name, on in c.items()) for c in COMBINATIONS
]

# boto3 DynamoDB calls -> the IAM action each needs (TransactWriteItems is authorised per item).
DYNAMODB_CALLS = {
    "get_item": "dynamodb:GetItem",
    "put_item": "dynamodb:PutItem",
    "update_item": "dynamodb:UpdateItem",
    "delete_item": "dynamodb:DeleteItem",
    "query": "dynamodb:Query",
    "scan": "dynamodb:Scan",
    "batch_get_item": "dynamodb:BatchGetItem",
    "batch_write_item": "dynamodb:BatchWriteItem",
}
TRANSACT_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}


def dynamodb_actions_used() -> frozenset[str]:
    """Every DynamoDB action the publish adapters call (read from their source)."""
    actions: set[str] = set()
    for path in PUBLISH.glob("*.py"):
        text = path.read_text()
        for call in re.findall(r"_client\.(\w+)\(", text):
            if call in DYNAMODB_CALLS:
                actions.add(DYNAMODB_CALLS[call])
        if "transact_write_items" in text:
            for kind in re.findall(r"\"(Put|Update|Delete|ConditionCheck)\":\s*[\w{]", text):
                actions.add(TRANSACT_ITEMS[kind])
    return frozenset(actions)


# The dynamodb actions the API's routes make (FindingStore.get / .list).
API_TABLE_READS = frozenset({"dynamodb:GetItem", "dynamodb:Query"})


def _load(name: str) -> Any:
    return json.loads((CHALICE / name).read_text())


def _resolve(node: Any, conditions: dict[str, bool]) -> Any:
    """The document as CloudFormation sees it under `conditions` (Fn::If and AWS::NoValue)."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return _resolve(yes if conditions[name] else no, conditions)
        return {k: _resolve(v, conditions) for k, v in node.items()}
    if isinstance(node, list):
        items = [_resolve(v, conditions) for v in node]
        return [v for v in items if v != {"Ref": "AWS::NoValue"}]
    return node


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: Any, conditions: dict[str, bool]) -> list[dict[str, Any]]:
    resolved = _resolve(document, conditions)
    statements: list[dict[str, Any]] = resolved["Statement"]
    return statements


def _grants(document: Any, conditions: dict[str, bool]) -> Iterator[tuple[str, list[Any], Any]]:
    """(action, resources, condition) of every Allow; the files hold no Deny and no NotAction."""
    for statement in _statements(document, conditions):
        assert statement["Effect"] == "Allow", statement
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        for action in _as_list(statement["Action"]):
            yield action, _as_list(statement["Resource"]), statement.get("Condition")


def event_policy() -> Any:
    return _load("policy-on-access-denied.json")


def api_policies(conditions: dict[str, bool]) -> list[Any]:
    """The API role's documents: its policy file, plus the AssumeDiagnoseRole policy when on."""
    documents = [_load("policy-api-handler.json")]
    extra = _load("resources.json")["Resources"]["ApiHandlerAssumeDiagnoseRole"]
    assert extra["Condition"] == "DiagnoseApiEnabled"
    assert extra["Properties"]["Roles"] == [{"Ref": "ApiHandlerRole"}]
    if conditions["DiagnoseApiEnabled"]:
        documents.append(extra["Properties"]["PolicyDocument"])
    return documents


def diagnose_role() -> dict[str, Any]:
    role: dict[str, Any] = _load("resources.json")["Resources"]["DiagnoseRole"]
    return role


def expected_reads(conditions: dict[str, bool]) -> frozenset[str]:
    if conditions["ReadObjectsEnabled"]:
        return LAYER_READS
    return LAYER_READS - OBJECT_READS


# ------------------------------------------------------------------ the event function's role


def test_the_store_calls_are_known() -> None:
    used = dynamodb_actions_used()
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= used
    assert "dynamodb:Query" in used


@pytest.mark.parametrize("conditions", COMBINATIONS, ids=COMBINATION_IDS)
def test_event_role_grants_exactly_the_reads_and_the_writes_the_code_makes(
    conditions: dict[str, bool],
) -> None:
    granted = {action for action, _, _ in _grants(event_policy(), conditions)}
    expected = (
        expected_reads(conditions)
        | MEMBERSHIP_PERMISSIONS
        | dynamodb_actions_used()
        | {"sns:Publish", "sqs:SendMessage"}
        | KMS_FOR_MESSAGES
        | LOGS
        | (
            {"sts:AssumeRole"}
            if conditions["HasOrgReadRole"] or conditions["HasMemberRole"]
            else set()
        )
        | ({SECURITY_HUB_IMPORT} if conditions["SecurityHubEnabled"] else set())
        | (TRACES if conditions["TracingActive"] else set())
    )
    assert sorted(granted - expected) == [], "granted but never used"
    assert sorted(expected - granted) == [], "used but not granted"


@pytest.mark.parametrize("conditions", COMBINATIONS, ids=COMBINATION_IDS)
def test_event_role_limits_every_write_to_the_stack_resource(conditions: dict[str, bool]) -> None:
    targets = {"dynamodb:": "FindingsTable", "sns:": "FindingsTopic", "sqs:": "DeadLetterQueue"}
    for action, resources, condition in _grants(event_policy(), conditions):
        text = json.dumps(resources)
        if action in EVENT_READS:
            continue
        if action in TRACES:
            assert resources == ["*"], action  # X-Ray has no resource-level permissions
            continue
        assert resources[0] != "*", action
        if action in LOGS:
            assert resources == [LOG_STREAMS], action
        elif action == SECURITY_HUB_IMPORT:
            assert resources == [SECURITY_HUB_PRODUCT]
        elif action == "sns:Publish":
            topics = [{"Ref": "FindingsTopic"}]
            if conditions["ChatEnabled"]:
                topics.append({"Ref": "ChatTopic"})
            assert resources == topics
        elif action == "sts:AssumeRole":
            assert resources in ([{"Ref": "OrgReadRoleArn"}], [MEMBER_ROLES]), resources
            if resources == [MEMBER_ROLES]:  # only roles of this organization's accounts
                assert condition == ORGANIZATION_RESOURCES
        elif action in KMS_FOR_MESSAGES:
            via = condition["StringEquals"]["kms:ViaService"]
            assert via == [
                {"Fn::Sub": "sns.${AWS::Region}.amazonaws.com"},
                {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"},
            ]
            if conditions["UseCustomerKey"]:
                assert resources == [{"Ref": "KmsKeyArn"}]
            else:
                assert resources == [
                    {"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"}
                ]
        elif resources == [CACHE_TABLE]:
            assert action in cache_actions_used(), action
        else:
            (target,) = [t for prefix, t in targets.items() if action.startswith(prefix)]
            assert target in text, f"{action} is not limited to {target}: {text}"
            assert all(target in json.dumps(r) for r in resources), action


CACHE_TABLE = {"Fn::GetAtt": ["CollectionCacheTable", "Arn"]}


def cache_actions_used() -> frozenset[str]:
    """The DynamoDB actions of the shared collection cache (read from its source)."""
    text = (PROJECT / "chalicelib" / "collect" / "shared_cache.py").read_text()
    calls = set(re.findall(r"_client\.(\w+)\(", text))
    return frozenset(DYNAMODB_CALLS[c] for c in calls if c in DYNAMODB_CALLS)


@pytest.mark.parametrize("conditions", COMBINATIONS, ids=COMBINATION_IDS)
def test_only_the_event_role_uses_the_collection_cache_and_only_as_the_code_does(
    conditions: dict[str, bool],
) -> None:
    on_cache = {
        a for a, resources, _ in _grants(event_policy(), conditions) if resources == [CACHE_TABLE]
    }
    assert on_cache == cache_actions_used() == {"dynamodb:GetItem", "dynamodb:PutItem"}
    for document in api_policies(conditions):
        assert "CollectionCacheTable" not in json.dumps(document)
    assert "CollectionCacheTable" not in json.dumps(diagnose_role())


@pytest.mark.parametrize("conditions", COMBINATIONS, ids=COMBINATION_IDS)
def test_object_reads_are_granted_only_when_enabled(conditions: dict[str, bool]) -> None:
    for document in (event_policy(), diagnose_role()["Properties"]["Policies"][0]):
        document = document.get("PolicyDocument", document)
        granted = {action for action, _, _ in _grants(document, conditions)}
        assert (granted & OBJECT_READS == OBJECT_READS) is conditions["ReadObjectsEnabled"]
        assert granted & OBJECT_READS in (set(), OBJECT_READS)


@pytest.mark.parametrize("document", ["policy-on-access-denied.json", "policy-api-handler.json"])
def test_policy_has_no_wildcard_actions(document: str) -> None:
    for conditions in COMBINATIONS:
        assert [a for a, _, _ in _grants(_load(document), conditions) if "*" in a] == []


# ------------------------------------------------------------------ the API function's role


@pytest.mark.parametrize("conditions", COMBINATIONS, ids=COMBINATION_IDS)
def test_api_role_reads_its_table_and_assumes_the_diagnose_role_only_when_enabled(
    conditions: dict[str, bool],
) -> None:
    grants = [g for document in api_policies(conditions) for g in _grants(document, conditions)]
    granted = {action for action, _, _ in grants}
    expected = API_TABLE_READS | LOGS
    if conditions["DiagnoseApiEnabled"]:
        expected |= {"sts:AssumeRole"}
    if conditions["TracingActive"]:
        expected |= TRACES
    assert granted == expected
    for action, resources, _ in grants:
        if action in LOGS:
            assert resources == [LOG_STREAMS], action
        if action.startswith("dynamodb:"):
            assert all("FindingsTable" in json.dumps(r) for r in resources), action
        if action == "sts:AssumeRole":
            assert resources == [{"Fn::GetAtt": ["DiagnoseRole", "Arn"]}]


@pytest.mark.parametrize("conditions", COMBINATIONS, ids=COMBINATION_IDS)
def test_api_role_never_publishes_writes_or_reads_policy_layers(
    conditions: dict[str, bool],
) -> None:
    for document in api_policies(conditions):
        for action, _, _ in _grants(document, conditions):
            assert not action.startswith(("sns:", "sqs:", "securityhub:")), action
            assert action not in dynamodb_actions_used() - API_TABLE_READS, action
            assert not action.startswith(READ_SERVICES), action


# ------------------------------------------------------------------ DiagnoseRole


def test_diagnose_role_exists_only_when_the_diagnose_api_is_enabled() -> None:
    assert diagnose_role()["Condition"] == "DiagnoseApiEnabled"


def test_diagnose_role_trusts_the_api_function_role_only() -> None:
    trust = diagnose_role()["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]}},
            "Action": "sts:AssumeRole",
        }
    ]


@pytest.mark.parametrize("conditions", COMBINATIONS, ids=COMBINATION_IDS)
def test_diagnose_role_holds_exactly_the_read_permissions(conditions: dict[str, bool]) -> None:
    (policy,) = diagnose_role()["Properties"]["Policies"]
    grants = list(_grants(policy["PolicyDocument"], conditions))
    granted = {action for action, _, _ in grants}
    expected = expected_reads(conditions) | (
        {"sts:AssumeRole"} if conditions["HasOrgReadRole"] else set()
    )
    assert granted == expected
    for action, resources, _ in grants:
        if action == "sts:AssumeRole":
            assert resources == [{"Ref": "OrgReadRoleArn"}]
    assert not diagnose_role()["Properties"].get("ManagedPolicyArns")


# ------------------------------------------------------------------ the topic policies

EVENT_ROLE = {"Fn::GetAtt": ["OnAccessDeniedRole", "Arn"]}
CLOUDWATCH = "cloudwatch.amazonaws.com"
ALARMS_OF_THIS_STACK = {
    "ArnLike": {
        "aws:SourceArn": {
            "Fn::Sub": [
                "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
                "s3-403-doctor-${Stage}-*",
                {"Stage": {"Fn::FindInMap": ["Deployment", "Stage", "Name"]}},
            ]
        }
    },
    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
}


def _topic_policy(name: str, topic: str, condition: str | None) -> Any:
    policy = _load("resources.json")["Resources"][name]
    assert policy["Type"] == "AWS::SNS::TopicPolicy"
    assert policy.get("Condition") == condition
    assert policy["Properties"]["Topics"] == [{"Ref": topic}]
    return policy["Properties"]["PolicyDocument"]


def _publish_from_the_event_function(topic: Any) -> dict[str, Any]:
    return {
        "Sid": "PublishFromTheEventFunctionOnly",
        "Effect": "Allow",
        "Principal": {"AWS": EVENT_ROLE},
        "Action": "sns:Publish",
        "Resource": topic,
    }


def _alarms(topic: Any) -> dict[str, Any]:
    return {
        "Sid": "AlarmsOfThisStack",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDWATCH},
        "Action": "sns:Publish",
        "Resource": topic,
        "Condition": ALARMS_OF_THIS_STACK,
    }


@pytest.mark.parametrize("customer_key", [True, False])
def test_findings_topic_accepts_the_event_function_and_with_a_customer_key_our_alarms(
    customer_key: bool,
) -> None:
    document = _topic_policy("FindingsTopicPolicy", "FindingsTopic", None)
    statements = _statements(document, {"UseCustomerKey": customer_key})
    topic = {"Ref": "FindingsTopic"}
    expected = [
        _publish_from_the_event_function(topic),
        {
            "Sid": "NoOtherPublisher",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic,
            # a missing key makes a negated operator true: other principals are denied, the
            # CloudWatch service principal (no aws:PrincipalArn) only needs an Allow
            "Condition": {
                "ArnNotEquals": {"aws:PrincipalArn": EVENT_ROLE},
                "StringNotEquals": {"aws:PrincipalServiceName": CLOUDWATCH},
            },
        },
    ]
    # CloudWatch cannot use the AWS managed aws/sns key: alarms publish here only with a
    # customer key (whose key policy lets cloudwatch.amazonaws.com use it), else to AlarmTopic.
    if customer_key:
        expected.append(_alarms(topic))
    assert statements == expected


def test_chat_topic_accepts_publishes_from_the_event_function_role_only() -> None:
    document = _topic_policy("ChatTopicPolicy", "ChatTopic", "ChatEnabled")
    topic = {"Ref": "ChatTopic"}
    assert document["Statement"] == [
        _publish_from_the_event_function(topic),
        {
            "Sid": "NoOtherPublisher",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": EVENT_ROLE}},
        },
    ]


def test_alarm_topic_accepts_the_stacks_alarms_only() -> None:
    document = _topic_policy("AlarmTopicPolicy", "AlarmTopic", "NeedsAlarmTopic")
    topic = {"Ref": "AlarmTopic"}
    assert document["Statement"] == [
        _alarms(topic),
        {
            "Sid": "NoOtherPublisher",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {"StringNotEquals": {"aws:PrincipalServiceName": CLOUDWATCH}},
        },
    ]


def test_the_security_hub_grant_is_the_one_call_the_publisher_makes():
    source = (PUBLISH / "securityhub.py").read_text()
    calls = set(re.findall(r"_client\.([a-z_]+)\(", source))
    # the grant (SECURITY_HUB_IMPORT, checked above on the event role) is for exactly this call
    assert calls == {"batch_import_findings"}, calls
