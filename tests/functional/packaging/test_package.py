"""`make package`: the CloudFormation template holds the whole stack, and cfn-lint accepts it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.events import ACCESS_DENIED_PATTERN
from chalicelib.publish.store import TABLE_DEFINITION

PROJECT = Path(__file__).resolve().parents[3]
RULE_STATE = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"


@pytest.fixture(scope="module", params=["dev", "prod"])
def packaged(request, tmp_path_factory):
    """(stage, template) after running scripts/package.py, which also runs cfn-lint."""
    stage = request.param
    out = tmp_path_factory.mktemp(f"package-{stage}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "scripts/package.py", "--stage", stage, "--out", str(out)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # cfn-lint included
    return stage, json.loads((out / "sam.json").read_text())


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
    assert tables["FindingsTable"]["Properties"] == TABLE_DEFINITION
    assert "FindingsTopic" in _resources(template, "AWS::SNS::Topic")


def test_every_function_gets_the_table_and_topic_of_the_stack(packaged):
    _, template = packaged
    for name, function in _resources(template, "AWS::Serverless::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["FINDINGS_TABLE_NAME"] == {"Ref": "FindingsTable"}, name
        assert variables["FINDINGS_TOPIC_ARN"] == {"Ref": "FindingsTopic"}, name


def test_every_role_has_exactly_the_hand_kept_policy(packaged):
    stage, template = packaged
    expected = json.loads((PROJECT / ".chalice" / f"policy-{stage}.json").read_text())
    roles = _resources(template, "AWS::IAM::Role")
    assert roles
    for name, role in roles.items():
        policies = role["Properties"].get("Policies", [])
        assert [p["PolicyDocument"] for p in policies] == [expected], name
        assert not role["Properties"].get("ManagedPolicyArns"), name


def test_every_api_route_requires_sigv4(packaged):
    _, template = packaged
    (api,) = _resources(template, "AWS::Serverless::Api").values()
    paths = api["Properties"]["DefinitionBody"]["paths"]
    assert set(paths) >= {"/findings", "/findings/{finding_id}", "/diagnose"}
    for path, methods in paths.items():
        for method, spec in methods.items():
            assert spec.get("security") == [{"sigv4": []}], f"{method.upper()} {path}"
