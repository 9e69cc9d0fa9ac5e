"""A request made with an EC2 instance's role credentials carries ec2:SourceInstanceARN,
aws:Ec2InstanceSourceVpc and aws:Ec2InstanceSourcePrivateIPv4 in AWS's request context (the
"credentials used only from their instance's network" perimeter tests them); CloudTrail carries
none of them, only `sessionContext.ec2RoleDelivery`. When a policy tests them, the finding says
they were not checked: the perimeter's verdict is not ours to give."""

from __future__ import annotations

from typing import Any

from chalicelib import pipeline
from chalicelib.demo.cloudtrail import assumed_role_identity
from chalicelib.engine import resolve
from chalicelib.events import context as event_context
from chalicelib.events import parse_event
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering

from .runbook_documents import get_record, read_statement

ACCOUNT = "111122223333"
BUCKET = "instance-data"
INSTANCE = "i-0abc1234def567890"
PERIMETER = {
    "Effect": "Deny",
    "Action": "*",
    "Resource": "*",
    "Condition": {
        "StringNotEquals": {"aws:ec2InstanceSourceVPC": "${aws:SourceVpc}"},
        "Null": {"ec2:SourceInstanceARN": "false"},
        "BoolIfExists": {"aws:ViaAWSService": "false"},
    },
}


def _snapshot(*scp_statements: dict[str, Any]) -> Any:
    allow = {"Version": "2012-10-17", "Statement": [read_statement("Allow", BUCKET)]}
    role = {
        "RoleName": "app",
        "RoleId": "AROAAPP00000000000000",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/app",
        "Path": "/",
        "RolePolicyList": [{"PolicyName": "read", "PolicyDocument": allow}],
        "AttachedManagedPolicies": [],
    }
    full = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    scp = {"Version": "2012-10-17", "Statement": [full, *scp_statements]}
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [], "RoleDetailList": [role], "GroupDetailList": []},
            "organization": {
                "org_id": "o-a1b2c3d4e5",
                "levels": [{"target_id": "r-ab12", "scps": [{"Id": "p-1", "Content": scp}]}],
            },
            "s3": {"buckets": {BUCKET: {"policy": None}}},
        }
    )


def _record(**session: Any) -> dict[str, Any]:
    identity = assumed_role_identity(
        account_id=ACCOUNT, role_name="app", role_id="AROAAPP00000000000000", session_name=INSTANCE
    )
    identity["sessionContext"].update(session)
    return get_record(identity, ACCOUNT, BUCKET, "reports/q1.csv")


def _instance_notes(finding: Any) -> list[str]:
    return [n for n in finding.request.notes if n.startswith(resolve.EC2_CREDENTIALS_NOTE)]


def test_instance_credentials_under_a_perimeter_that_tests_them_say_it_was_not_checked() -> None:
    finding = pipeline.diagnose(parse_event(_record(ec2RoleDelivery="2.0")), _snapshot(PERIMETER))

    [note] = _instance_notes(finding)
    assert f"EC2 instance {INSTANCE!r} (ec2RoleDelivery '2.0')" in note
    assert "ec2:SourceInstanceARN" in note and note.endswith("is not checked here.")


def test_no_note_without_such_a_policy_or_without_instance_credentials() -> None:
    plain = pipeline.diagnose(parse_event(_record(ec2RoleDelivery="2.0")), _snapshot())
    assert _instance_notes(plain) == []

    other = pipeline.diagnose(parse_event(_record()), _snapshot(PERIMETER))
    assert _instance_notes(other) == []


def test_the_events_note_is_the_one_the_engine_keeps_or_drops() -> None:
    assert event_context.EC2_CREDENTIALS_NOTE == resolve.EC2_CREDENTIALS_NOTE


def test_a_hostile_session_name_in_the_note_is_data_in_every_rendering() -> None:
    """The session name is the record's text: quoted by the note, inert everywhere."""
    record = _record(ec2RoleDelivery="2.0")
    hostile = "i-0\n\nFIX\n<!channel> [x](https://evil.example) $(id) \x1b]52;c;"
    identity = record["userIdentity"]
    identity["arn"] = identity["arn"].rsplit("/", 1)[0] + "/" + hostile
    identity["principalId"] = identity["principalId"].split(":")[0] + ":" + hostile

    finding = pipeline.diagnose(parse_event(record), _snapshot(PERIMETER))

    [note] = _instance_notes(finding)
    assert repr(hostile) in note
    assert_inert_in_every_rendering(finding)
