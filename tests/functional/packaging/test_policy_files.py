"""The hand-kept Lambda policies grant exactly what the code uses: no more, no less."""

import json
from pathlib import Path

import pytest

from chalicelib.collect.permissions import READ_PERMISSIONS

CHALICE = Path(__file__).resolve().parents[3] / ".chalice"
STAGES = ("dev", "prod")

# The writes the app makes, and the template resource each one must be limited to.
WRITES = {
    "dynamodb:GetItem": "FindingsTable",
    "dynamodb:PutItem": "FindingsTable",
    "dynamodb:UpdateItem": "FindingsTable",
    "dynamodb:Query": "FindingsTable",
    "sns:Publish": "FindingsTopic",
    "sqs:SendMessage": "DeadLetterQueue",
    "logs:CreateLogGroup": "logs",
    "logs:CreateLogStream": "logs",
    "logs:PutLogEvents": "logs",
}


def _policy(stage):
    return json.loads((CHALICE / f"policy-{stage}.json").read_text())


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _grants(stage):
    """(action, resources) for every Allow statement; the files hold no Deny and no NotAction."""
    for statement in _policy(stage)["Statement"]:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}
        for action in _as_list(statement["Action"]):
            yield action, _as_list(statement["Resource"])


@pytest.mark.parametrize("stage", STAGES)
def test_policy_grants_exactly_the_collector_reads_and_the_app_writes(stage):
    granted = {action for action, _ in _grants(stage)}
    assert sorted(granted - (READ_PERMISSIONS | set(WRITES))) == [], "granted but never used"
    assert sorted((READ_PERMISSIONS | set(WRITES)) - granted) == [], "used but not granted"


@pytest.mark.parametrize("stage", STAGES)
def test_policy_limits_every_write_to_the_stack_resource(stage):
    for action, resources in _grants(stage):
        if action not in WRITES:
            continue
        target = WRITES[action]
        assert "*" not in resources, action
        text = json.dumps(resources)
        if target == "logs":
            assert all(r.startswith("arn:*:logs:") for r in resources), action
        else:
            assert target in text, f"{action} is not limited to {target}: {text}"


@pytest.mark.parametrize("stage", STAGES)
def test_policy_assumes_only_the_organization_read_role(stage):
    resources = [r for action, rs in _grants(stage) if action == "sts:AssumeRole" for r in rs]
    assert resources == ["arn:aws:iam::*:role/s3-403-doctor-org-read"]


@pytest.mark.parametrize("stage", STAGES)
def test_policy_has_no_wildcard_actions(stage):
    assert [a for a, _ in _grants(stage) if "*" in a] == []
