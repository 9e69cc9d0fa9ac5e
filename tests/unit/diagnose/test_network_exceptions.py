"""A network-pinned Deny (only from our endpoint, only from the office) that refuses a request
which cannot comply: an AWS service's own call, or a request through a VPC endpoint denied on
aws:SourceIp, which such a request never carries. The fix is an exception in the Deny, verified;
"send it through the endpoint" or "send it from the office" would be advice nobody can follow."""

from __future__ import annotations

import json
import shlex
from typing import Any

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering
from tests.unit.engine.runbook_documents import user_get_record
from tests.unit.events.eventdata import load

from .diagnose_builders import ACCT as ACCOUNT
from .diagnose_builders import account_snapshot, iam_user

ENDPOINT = "vpce-0aaa1111bbbb2222c"


def _snapshot(bucket: str, *statements: dict[str, Any], region: str = "us-east-1") -> Any:
    everything = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    return account_snapshot(
        iam_user("alice", everything),
        buckets={bucket: {"policy": policy}},
        region=region,
        vpc_endpoints={ENDPOINT: {"VpcEndpointId": ENDPOINT, "VpcId": "vpc-1"}},
    )


def _deny(bucket: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Sid": "Pinned",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": condition,
    }


def _exception(finding: Any) -> dict[str, Any]:
    [fix] = [r for r in finding.remedies if r.code == "FIX_STATEMENT"]
    assert fix.verified, fix.summary
    [deny] = [s for s in fix.patch["document"]["Statement"] if s.get("Sid") == "Pinned"]
    return dict(deny["Condition"])


def test_a_request_through_an_endpoint_denied_on_source_ip_gets_an_endpoint_exception() -> None:
    office = {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    snapshot = _snapshot("acme-data", _deny("acme-data", office))
    record = user_get_record(ACCOUNT, "acme-data", "data/report.csv", vpc_endpoint_id=ENDPOINT)

    finding = pipeline.diagnose(parse_event(record), snapshot)

    assert finding.decision is Verdict.EXPLICIT_DENY
    assert _exception(finding) == {**office, "StringNotEquals": {"aws:SourceVpce": ENDPOINT}}
    assert not [r for r in finding.remedies if "send the request from" in r.summary.lower()]


def test_a_services_own_call_denied_by_an_endpoint_perimeter_gets_a_service_exception() -> None:
    perimeter = {"StringNotEquals": {"aws:SourceVpce": ENDPOINT}}
    delivery = {
        "Sid": "Delivery",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::acme-reports/*",
    }
    snapshot = _snapshot(
        "acme-reports", _deny("acme-reports", perimeter), delivery, region="eu-west-1"
    )
    record = load("awsservice-cloudtrail-putobject-log-delivery")

    finding = pipeline.diagnose(parse_event(record), snapshot)

    assert finding.decision is Verdict.EXPLICIT_DENY
    assert _exception(finding) == {
        **perimeter,
        "Bool": {"aws:PrincipalIsAWSService": "false"},
    }
    assert not [r for r in finding.remedies if r.target == "the request"]


def test_a_person_outside_the_endpoint_is_told_to_use_it() -> None:
    perimeter = {"StringNotEquals": {"aws:SourceVpce": ENDPOINT}}
    snapshot = _snapshot("acme-data", _deny("acme-data", perimeter))
    record = user_get_record(ACCOUNT, "acme-data", "data/report.csv")

    finding = pipeline.diagnose(parse_event(record), snapshot)

    assert [r.target for r in finding.remedies] == ["the request"]
    assert ENDPOINT in finding.remedies[0].summary


def test_a_hostile_endpoint_id_in_the_exception_is_data_in_every_rendering_and_command() -> None:
    """The endpoint id comes from the record: written into a Deny's condition it stays a JSON
    string, one shell-quoted argument of the command, and data in every rendering."""
    hostile = "vpce-0\u202e\n<b>x</b>\x1b]52;c;`$(id)`'; rm -rf ~ #"
    office = {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    snapshot = _snapshot("acme-data", _deny("acme-data", office))
    record = user_get_record(ACCOUNT, "acme-data", "data/report.csv", vpc_endpoint_id=hostile)

    finding = pipeline.diagnose(parse_event(record), snapshot)

    [fix] = [r for r in finding.remedies if r.code == "FIX_STATEMENT"]
    [deny] = [s for s in fix.patch["document"]["Statement"] if s.get("Sid") == "Pinned"]
    assert deny["Condition"]["StringNotEquals"] == {"aws:SourceVpce": hostile}
    assert fix.cli is not None and fix.cli.isprintable()
    argv = shlex.split(fix.cli)
    assert argv[:3] == ["aws", "s3api", "put-bucket-policy"]
    assert json.loads(argv[argv.index("--policy") + 1]) == fix.patch["document"]
    assert_inert_in_every_rendering(finding)
