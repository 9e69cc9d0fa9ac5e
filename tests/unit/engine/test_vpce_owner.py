"""A request through a VPC endpoint carries the account that owns the endpoint as aws:VpceAccount,
and that account's organization as aws:VpceOrgID and aws:VpceOrgPaths, as AWS's request context
does (global keys since August 2025, S3 among the services that set them). Without them the data
perimeter "only through our organization's endpoints" decides wrong: a
`StringNotEqualsIfExists aws:VpceOrgID` Deny denies every request through the organization's own
endpoints. A record names the owner (`vpcEndpointAccountId`); the snapshot's endpoint holds it as
`OwnerId`; the organization is the snapshot's for that account."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.engine import decide, evaluate
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering

from .runbook_documents import batch_decisions, object_read, read_statement, user_get_record

ACCOUNT = "111122223333"
STRANGER = "999988887777"  # owns an endpoint; the snapshot knows nothing of its organization
ORG = "o-a1b2c3d4e5"
OU = "ou-ab12-11111111"
BUCKET = "perimeter-data"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
OURS, THEIRS, ANONYMOUS_OWNER = (
    "vpce-0a1b2c3d4e5f60789",
    "vpce-0f9e8d7c6b5a40321",
    "vpce-0123456789abcdef0",
)
OUTSIDE_ORG = read_statement(
    "Deny",
    BUCKET,
    Sid="OnlyOurEndpoints",
    Principal="*",
    Condition={"StringNotEqualsIfExists": {"aws:VpceOrgID": ORG}},
)
OUTSIDE_ACCOUNT = read_statement(
    "Deny",
    BUCKET,
    Sid="OnlyOurAccountsEndpoints",
    Principal="*",
    Condition={"StringNotEqualsIfExists": {"aws:VpceAccount": ACCOUNT}},
)
OUTSIDE_OU = read_statement(
    "Deny",
    BUCKET,
    Sid="OnlyOurOusEndpoints",
    Principal="*",
    Condition={"ForAllValues:StringNotLike": {"aws:VpceOrgPaths": [f"{ORG}/r-ab12/{OU}/*"]}},
)


def _snapshot(*bucket_statements: dict[str, Any]) -> Any:
    allow = {"Version": "2012-10-17", "Statement": [read_statement("Allow", BUCKET)]}
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE000000000000",
        "Arn": ALICE,
        "Path": "/",
        "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": allow}],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }
    endpoints = {
        OURS: {"VpcEndpointId": OURS, "VpcId": "vpc-0aaa1111", "OwnerId": ACCOUNT},
        THEIRS: {"VpcEndpointId": THEIRS, "VpcId": "vpc-0bbb2222", "OwnerId": STRANGER},
        ANONYMOUS_OWNER: {"VpcEndpointId": ANONYMOUS_OWNER, "VpcId": "vpc-0ccc3333"},
    }
    levels = [{"target_id": "r-ab12"}, {"target_id": OU}, {"target_id": ACCOUNT}]
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "organization": {"org_id": ORG, "levels": levels},
            "s3": {
                "buckets": {
                    BUCKET: {
                        "policy": {"Version": "2012-10-17", "Statement": list(bucket_statements)}
                    }
                }
            },
            "vpc_endpoints": endpoints,
        }
    )


def _entries(request: Any, name: str) -> list[tuple[tuple[str, ...], str]]:
    return [(e.values, e.source) for e in request.context if e.name.lower() == name.lower()]


def test_a_request_through_the_organizations_endpoint_passes_its_perimeter() -> None:
    """It was denied: the keys were absent, so `StringNotEqualsIfExists` matched."""
    snapshot = _snapshot(OUTSIDE_ORG, OUTSIDE_ACCOUNT, OUTSIDE_OU)
    request = request_from_runbook(object_read(ALICE, BUCKET, vpc_endpoint_id=OURS))

    finding = pipeline.diagnose(request, snapshot)

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert decide(request, snapshot).decision is Verdict.ALLOWED
    assert _entries(finding.request, "aws:VpceAccount") == [
        ((ACCOUNT,), "derived:OwnerId of the endpoint in the snapshot")
    ]
    assert _entries(finding.request, "aws:VpceOrgID") == [
        ((ORG,), "derived:organization in the snapshot")
    ]
    assert _entries(finding.request, "aws:VpceOrgPaths") == [
        ((f"{ORG}/r-ab12/{OU}/",), "derived:organization in the snapshot")
    ]
    assert not [n for n in finding.request.notes if "aws:Vpce" in n]


def test_an_event_names_the_endpoints_owner() -> None:
    record = user_get_record(ACCOUNT, BUCKET, "reports/q1.csv", vpc_endpoint_id=OURS)
    assert record["vpcEndpointAccountId"] == ACCOUNT

    finding = pipeline.diagnose(parse_event(record), _snapshot(OUTSIDE_ORG, OUTSIDE_ACCOUNT))

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _entries(finding.request, "aws:VpceAccount") == [
        ((ACCOUNT,), "event:vpcEndpointAccountId")
    ]
    assert [values for values, _ in _entries(finding.request, "aws:VpceOrgID")] == [(ORG,)]


def test_no_endpoint_or_another_accounts_endpoint_stays_outside() -> None:
    snapshot = _snapshot(OUTSIDE_ACCOUNT)
    for more in ({"vpc_endpoint_id": THEIRS}, {}):
        request = request_from_runbook(object_read(ALICE, BUCKET, **more))
        assert evaluate(request, snapshot).decision is Verdict.EXPLICIT_DENY, more


def test_an_owner_whose_organization_is_unknown_is_denied_with_a_note() -> None:
    """The owner is another account the snapshot has no side for: its organization, and so
    aws:VpceOrgID, is unknown here; the finding says the key was not checked."""
    request = request_from_runbook(object_read(ALICE, BUCKET, vpc_endpoint_id=THEIRS))

    finding = pipeline.diagnose(request, _snapshot(OUTSIDE_ORG))

    assert finding.decision is Verdict.EXPLICIT_DENY
    assert _entries(finding.request, "aws:VpceAccount") == [
        ((STRANGER,), "derived:OwnerId of the endpoint in the snapshot")
    ]
    assert _entries(finding.request, "aws:VpceOrgID") == []
    [note] = [n for n in finding.request.notes if "aws:VpceOrgID" in n]
    assert note.startswith("aws:VpceOrgID and aws:VpceOrgPaths not checked")
    assert STRANGER in note and THEIRS in note


def test_an_endpoint_whose_owner_is_unknown_gets_a_note_when_a_policy_names_the_keys() -> None:
    for endpoint in (ANONYMOUS_OWNER, "vpce-0ddd000000000000d"):  # no OwnerId; not collected
        request = request_from_runbook(object_read(ALICE, BUCKET, vpc_endpoint_id=endpoint))

        finding = pipeline.diagnose(request, _snapshot(OUTSIDE_ACCOUNT))

        assert finding.decision is Verdict.EXPLICIT_DENY
        [note] = [n for n in finding.request.notes if "aws:VpceAccount" in n]
        assert f"the owner of VPC endpoint {endpoint} is not known" in note

    quiet = pipeline.diagnose(
        request_from_runbook(object_read(ALICE, BUCKET, vpc_endpoint_id=ANONYMOUS_OWNER)),
        _snapshot(),
    )
    assert not [n for n in quiet.request.notes if "aws:Vpce" in n]  # no policy names the keys


def test_a_record_whose_endpoint_owner_is_not_an_account_id_says_so() -> None:
    record = user_get_record(ACCOUNT, BUCKET, "reports/q1.csv", vpc_endpoint_id=OURS)
    record["vpcEndpointAccountId"] = "\n@here [x](http://e.example)"

    request = parse_event(record)

    assert _entries(request, "aws:VpceAccount") == []
    [note] = [n for n in request.notes if "vpcEndpointAccountId" in n]
    assert note.endswith("is not an account id: aws:VpceAccount is absent.")
    # The snapshot's OwnerId then stands in for the record's.
    finding = pipeline.diagnose(request, _snapshot(OUTSIDE_ACCOUNT))
    assert finding.decision is Verdict.ALLOWED


def test_batch_lines_that_give_the_endpoint_get_that_endpoints_owner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aws:VpceAccount and the organization keys follow the aws:SourceVpce a line's context
    gives, line by line (the batch remembers what resolution adds per context form)."""

    def through(vpce: str, line: int) -> dict[str, Any]:
        given = [
            {
                "ContextKeyName": "aws:SourceVpce",
                "ContextKeyValues": [vpce],
                "ContextKeyType": "string",
            }
        ]
        return object_read(
            ALICE, BUCKET, context=given, resource_arn=f"arn:aws:s3:::{BUCKET}/p-{line}"
        )

    endpoints = [OURS, OURS, THEIRS, OURS, THEIRS, ANONYMOUS_OWNER, OURS]
    documents = [through(vpce, line) for line, vpce in enumerate(endpoints)]
    snapshot = _snapshot(OUTSIDE_ORG)

    decisions = batch_decisions(tmp_path, capsys, snapshot.document, documents, "decision")

    expected = [
        pipeline.diagnose(request_from_runbook(d), snapshot).decision.value for d in documents
    ]
    assert expected == ["allowed"] * 2 + ["explicit-deny", "allowed"] + ["explicit-deny"] * 2 + [
        "allowed"
    ]
    assert decisions == expected


def test_batch_lines_that_give_the_owner_get_that_owners_organization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aws:VpceOrgID is the organization of the aws:VpceAccount value a line gives (the batch
    must not remember the organization per context form)."""

    def owned_by(account: str, line: int) -> dict[str, Any]:
        given = [
            {"ContextKeyName": name, "ContextKeyValues": [value], "ContextKeyType": "string"}
            for name, value in (("aws:VpceAccount", account),)
        ]
        return object_read(
            ALICE, BUCKET, context=given, resource_arn=f"arn:aws:s3:::{BUCKET}/p-{line}"
        )

    owners = [ACCOUNT, STRANGER, ACCOUNT, STRANGER, STRANGER, ACCOUNT]
    documents = [owned_by(owner, line) for line, owner in enumerate(owners)]
    snapshot = _snapshot(OUTSIDE_ORG)

    decisions = batch_decisions(tmp_path, capsys, snapshot.document, documents, "decision")

    expected = ["allowed" if owner == ACCOUNT else "explicit-deny" for owner in owners]
    assert [
        pipeline.diagnose(request_from_runbook(d), snapshot).decision.value for d in documents
    ] == expected
    assert decisions == expected


def test_the_fix_of_an_endpoint_perimeter_names_the_endpoints_to_come_through() -> None:
    request = request_from_runbook(object_read(ALICE, BUCKET, vpc_endpoint_id=THEIRS))

    finding = pipeline.diagnose(request, _snapshot(OUTSIDE_ACCOUNT))

    [fix] = [r for r in finding.remedies if r.code == "COMPLY_WITH_DENY"]
    assert (
        f"send the request through a VPC endpoint for S3 owned by account {ACCOUNT}" in fix.summary
    )
    assert fix.verified is True


def test_a_policy_naming_the_vpc_arn_gets_a_note_that_it_was_not_checked() -> None:
    by_arn = read_statement(
        "Deny",
        BUCKET,
        Principal="*",
        Condition={"StringNotEqualsIfExists": {"aws:SourceVpcArn": "arn:aws:ec2:*:*:vpc/vpc-0a"}},
    )
    request = request_from_runbook(object_read(ALICE, BUCKET, vpc_endpoint_id=OURS))

    finding = pipeline.diagnose(request, _snapshot(by_arn))

    [note] = [n for n in finding.request.notes if "aws:SourceVpcArn" in n]
    assert note.startswith(f"aws:SourceVpcArn not checked: the ARN of the VPC of endpoint {OURS}")
    quiet = pipeline.diagnose(request, _snapshot(OUTSIDE_ACCOUNT))
    assert not [n for n in quiet.request.notes if "aws:SourceVpcArn" in n]


def test_a_hostile_endpoint_owner_in_the_record_is_data_in_every_rendering() -> None:
    record = user_get_record(ACCOUNT, BUCKET, "reports/q1.csv", vpc_endpoint_id=OURS)
    record["vpcEndpointAccountId"] = (
        "1\n\nFIX\n<!channel> [x](https://evil.example) $(id) \x1b]52;c;"
    )

    finding = pipeline.diagnose(parse_event(record), _snapshot(OUTSIDE_ACCOUNT))

    assert [n for n in finding.request.notes if "vpcEndpointAccountId" in n]
    assert_inert_in_every_rendering(finding)


SHARED = "vpce-0d1e2f3a4b5c60789"  # of a shared VPC: the network account owns it


def test_an_endpoint_another_account_owns_is_not_called_a_wrong_name() -> None:
    """In a shared VPC the network account owns the endpoint: this account's
    DescribeVpcEndpoints does not find it. The record names its owner, so the finding says whose
    it is and where to read it, not "check the name: a request through it would fail"."""
    document = dict(_snapshot().document)
    marker = {"$unreadable": "InvalidVpcEndpointId.NotFound", "needs": "ec2:DescribeVpcEndpoints"}
    document["vpc_endpoints"] = {**document["vpc_endpoints"], SHARED: marker}
    record = user_get_record(ACCOUNT, BUCKET, "reports/q1.csv", vpc_endpoint_id=SHARED)
    record["vpcEndpointAccountId"] = STRANGER

    finding = pipeline.diagnose(parse_event(record), load_snapshot(document))

    assert finding.decision is Verdict.INCONCLUSIVE
    [unchecked] = [u for u in finding.unchecked if u.layer.value == "vpc-endpoint-policy"]
    assert unchecked.reason.startswith(f"VPC endpoint {SHARED} belongs to account {STRANGER}")
    assert unchecked.needs == f"ec2:DescribeVpcEndpoints in account {STRANGER}"
    assert not [r for r in finding.remedies if r.summary.startswith(f"Check {SHARED}")]
    [fix] = [r for r in finding.remedies if r.code == "GRANT_DIAGNOSER_READ"]
    assert f"read VPC endpoint {SHARED} in account {STRANGER}, which owns it" in fix.summary

    record["vpcEndpointAccountId"] = ACCOUNT  # ours, and not found: the name is what to check
    ours = pipeline.diagnose(parse_event(record), load_snapshot(document))
    assert [r for r in ours.remedies if r.summary.startswith(f"Check {SHARED}: the account has")]


def test_a_hostile_endpoint_id_of_another_accounts_endpoint_is_data_in_every_rendering() -> None:
    hostile = "vpce-0\u202e\n<b>x</b>\x1b]52;c;`$(id)`"
    document = dict(_snapshot().document)
    marker = {"$unreadable": "InvalidVpcEndpointId.NotFound", "needs": "ec2:DescribeVpcEndpoints"}
    document["vpc_endpoints"] = {**document["vpc_endpoints"], hostile: marker}
    record = user_get_record(ACCOUNT, BUCKET, "reports/q1.csv", vpc_endpoint_id=hostile)
    record["vpcEndpointAccountId"] = STRANGER

    finding = pipeline.diagnose(parse_event(record), load_snapshot(document))

    assert [u for u in finding.unchecked if u.reason.startswith("VPC endpoint ")]
    assert_inert_in_every_rendering(finding)
