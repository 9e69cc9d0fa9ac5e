"""Issue 14.1: the central stack's organization bus and the member template, read as data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.collect.permissions import READ_PERMISSIONS
from chalicelib.collect.s3 import ObjectCollector
from chalicelib.events import ACCESS_DENIED_PATTERN

PROJECT = Path(__file__).resolve().parents[3]
CHALICE = PROJECT / ".chalice"
# What the member role may read: every declared collector read but the organization's (SCPs
# and RCPs are read centrally, with ORG_READ_ROLE_ARN) and sts:AssumeRole (it assumes nothing).
MEMBER_READS = frozenset(
    a for a in READ_PERMISSIONS if not a.startswith("organizations:") and a != "sts:AssumeRole"
)
OBJECT_READS = frozenset(ObjectCollector.permissions)


def _load(name: str) -> dict[str, Any]:
    return json.loads((CHALICE / name).read_text())  # type: ignore[no-any-return]


def _central() -> dict[str, Any]:
    return _load("resources.json")


def _member() -> dict[str, Any]:
    return _load("member.json")


def _statements(document: dict[str, Any], conditions: dict[str, bool]) -> list[dict[str, Any]]:
    out = []
    for statement in document["Statement"]:
        if "Fn::If" in statement:
            name, when_true, when_false = statement["Fn::If"]
            statement = when_true if conditions[name] else when_false
            if statement == {"Ref": "AWS::NoValue"}:
                continue
        out.append(statement)
    return out


def test_central_bus_admits_put_events_from_the_organization_only():
    resources = _central()["Resources"]
    for name in ("CentralEventBus", "CentralEventBusPolicy", "CentralBusRule"):
        assert resources[name]["Condition"] == "HasOrganization", name
    assert _central()["Conditions"]["HasOrganization"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]
    }
    policy = resources["CentralEventBusPolicy"]["Properties"]
    assert policy["EventBusName"] == {"Ref": "CentralEventBus"}
    assert policy["Statement"] == {
        "Sid": "OrganizationPutEvents",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "events:PutEvents",
        "Resource": {"Fn::GetAtt": ["CentralEventBus", "Arn"]},
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}},
    }


def test_central_bus_has_the_same_rule_and_function():
    resources = _central()["Resources"]
    rule = resources["CentralBusRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "CentralEventBus"}
    assert rule["EventPattern"] == ACCESS_DENIED_PATTERN
    assert rule["Targets"] == [
        {"Id": "OnAccessDenied", "Arn": {"Fn::GetAtt": ["OnAccessDenied", "Arn"]}}
    ]
    permission = resources["CentralBusRulePermission"]
    assert permission["Condition"] == "HasOrganization"
    assert permission["Properties"] == {
        "FunctionName": {"Ref": "OnAccessDenied"},
        "Action": "lambda:InvokeFunction",
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": ["CentralBusRule", "Arn"]},
    }


def test_member_rule_forwards_from_the_default_bus_to_the_central_bus():
    resources = _member()["Resources"]
    rule = resources["ForwardRule"]["Properties"]
    assert "EventBusName" not in rule  # the account's default bus
    assert rule["EventPattern"] == ACCESS_DENIED_PATTERN
    assert rule["State"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    assert rule["Targets"] == [
        {
            "Id": "CentralBus",
            "Arn": {"Ref": "CentralEventBusArn"},
            "RoleArn": {"Fn::GetAtt": ["ForwardRole", "Arn"]},
        }
    ]
    forward = resources["ForwardRole"]["Properties"]
    (trust,) = forward["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    (policy,) = forward["Policies"]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "ForwardToCentralBus",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": {"Ref": "CentralEventBusArn"},
        }
    ]


def test_member_role_trusts_the_central_event_function_role_only():
    role = _member()["Resources"]["MemberReadRole"]["Properties"]
    assert role["RoleName"] == {"Ref": "MemberRoleName"}
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {
                "AWS": {
                    "Fn::Sub": "arn:${AWS::Partition}:iam::${CentralAccountId}:role/"
                    "s3-403-doctor-${CentralStage}-${CentralRegion}-events"
                }
            },
            "Action": "sts:AssumeRole",
        }
    ]
    # ... the name the central template gives its event function's role
    central_name = _central()["Resources"]["OnAccessDeniedRole"]["Properties"]["RoleName"]
    assert central_name["Fn::Sub"][0] == "s3-403-doctor-${Stage}-${AWS::Region}-events"
    assert not role.get("ManagedPolicyArns")


@pytest.mark.parametrize("read_objects", [True, False])
def test_member_role_holds_exactly_the_declared_collector_reads(read_objects):
    (policy,) = _member()["Resources"]["MemberReadRole"]["Properties"]["Policies"]
    statements = _statements(policy["PolicyDocument"], {"ReadObjectsEnabled": read_objects})
    granted = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}
        granted |= set(statement["Action"])
    assert granted == (MEMBER_READS if read_objects else MEMBER_READS - OBJECT_READS)
    assert not any("*" in action for action in granted)


def test_the_member_role_name_defaults_agree():
    member = _member()["Parameters"]["MemberRoleName"]
    central = _central()["Parameters"]["MemberRoleName"]
    assert member["Default"] == "s3-403-doctor-member-read"
    assert central["Default"] == ""  # single-account mode stays the default
    assert member["AllowedPattern"] == "^[A-Za-z0-9+=,.@_-]{1,64}$"


@pytest.mark.parametrize("stage", ["prod"])
def test_make_package_writes_and_lints_both_templates(stage, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "scripts/package.py", "--stage", stage, "--out", str(tmp_path)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # cfn-lint on both
    member = json.loads((tmp_path / "member.json").read_text())
    assert member["Parameters"]["CentralStage"]["Default"] == stage
    assert "member.json" in result.stdout
