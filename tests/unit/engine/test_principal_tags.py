"""The tags of the requester's IAM user or role are its aws:PrincipalTag keys, as in AWS's
request context; neither a CloudTrail record nor a runbook input carries them, so every request
gets them from the snapshot. Without them every ABAC policy decides wrong: an Allow on
`${aws:PrincipalTag/team}` or `StringEquals aws:PrincipalTag/team` grants nobody."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.engine import decide, evaluate
from chalicelib.engine.resolve import FROM_FEDERATING_USER_TAGS
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot

from .runbook_documents import batch_decisions, object_read, read_statement, user_get_record

ACCOUNT = "111122223333"
BUCKET = "team-data"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/analyst/s-1"
ABAC = {
    "Effect": "Allow",
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/${{aws:PrincipalTag/team}}/*",
}


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _snapshot(*bucket_statements: dict[str, Any], identity: dict[str, Any] = ABAC) -> Any:
    inline = [{"PolicyName": "abac", "PolicyDocument": _policy(identity)}]
    users = [
        {
            "UserName": name,
            "UserId": f"AIDA{name.upper():0<17}",
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
            "Path": "/",
            "UserPolicyList": inline,
            "AttachedManagedPolicies": [],
            "GroupList": [],
            "Tags": tags,
        }
        for name, tags in (("alice", _tags(team="data", Level="3")), ("bob", []))
    ]
    analyst = {
        "RoleName": "analyst",
        "RoleId": "AROAANALYST0000000000",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/analyst",
        "Path": "/",
        "RolePolicyList": inline,
        "AttachedManagedPolicies": [],
        "Tags": _tags(team="data"),
    }
    doc = {
        "account_id": ACCOUNT,
        "partition": "aws",
        "region": "us-east-1",
        "iam": {
            "UserDetailList": users,
            "RoleDetailList": [analyst],
            "GroupDetailList": [],
            "Policies": [],
        },
        "s3": {"buckets": {BUCKET: {"policy": _policy(*bucket_statements)}}},
    }
    return load_snapshot(doc)


def _document(requester: str = ALICE, key: str = "data/q1.csv", **more: Any) -> dict[str, Any]:
    return {
        **object_read(requester, BUCKET, **more),
        "resource_arn": f"arn:aws:s3:::{BUCKET}/{key}",
    }


def _values(request: Any, name: str) -> list[tuple[str, ...]]:
    return [e.values for e in request.context if e.name.lower() == name.lower()]


@pytest.mark.parametrize("requester", [ALICE, SESSION])
def test_an_abac_grant_on_the_principals_tag_lets_it_in_its_own_prefix(requester: str) -> None:
    snapshot = _snapshot()
    request = request_from_runbook(_document(requester))

    finding = pipeline.diagnose(request, snapshot)

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _values(finding.request, "aws:PrincipalTag/team") == [("data",)]
    assert decide(request, snapshot).decision is Verdict.ALLOWED
    other = request_from_runbook(_document(requester, key="finance/q1.csv"))
    assert evaluate(other, snapshot).decision is Verdict.IMPLICIT_DENY


def test_a_bucket_policy_grant_on_a_tag_names_who_holds_it() -> None:
    grant = read_statement(
        "Allow", BUCKET, Principal="*", Condition={"StringEquals": {"aws:PrincipalTag/Level": "3"}}
    )
    nothing = {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}
    snapshot = _snapshot(grant, identity=nothing)

    assert evaluate(request_from_runbook(_document()), snapshot).decision is Verdict.ALLOWED
    assert (
        evaluate(request_from_runbook(_document(BOB)), snapshot).decision is Verdict.IMPLICIT_DENY
    )


def test_a_user_without_tags_gets_none_and_a_given_value_wins() -> None:
    snapshot = _snapshot()
    untagged = pipeline.diagnose(request_from_runbook(_document(BOB)), snapshot)
    assert not [e for e in untagged.request.context if e.name.startswith("aws:PrincipalTag/")]
    assert untagged.decision is Verdict.IMPLICIT_DENY
    given = [
        {
            "ContextKeyName": "aws:principaltag/TEAM",
            "ContextKeyValues": ["finance"],
            "ContextKeyType": "string",
        }
    ]
    told = pipeline.diagnose(request_from_runbook(_document(context=given)), snapshot)
    assert _values(told.request, "aws:PrincipalTag/team") == [("finance",)]  # the given one only
    assert _values(told.request, "aws:PrincipalTag/Level") == [("3",)]
    assert told.decision is Verdict.IMPLICIT_DENY


def test_an_event_of_a_tagged_user_gets_its_tags() -> None:
    record = user_get_record(ACCOUNT, BUCKET, "data/q1.csv")
    finding = pipeline.diagnose(parse_event(record), _snapshot())

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _values(finding.request, "aws:PrincipalTag/team") == [("data",)]


@pytest.mark.parametrize("detail", ["decision", "full"])
def test_batch_lines_get_the_tags_at_either_detail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    """Lines whose context names another team first grow the shape's tree with the deny path;
    the tagged lines then walk it with the derived tag, which must let them in."""
    given = [
        {
            "ContextKeyName": "aws:PrincipalTag/team",
            "ContextKeyValues": ["x"],
            "ContextKeyType": "string",
        }
    ]
    documents = [_document(context=given)] * 3 + [_document(key=f"data/{i}.csv") for i in range(4)]

    decisions = batch_decisions(tmp_path, capsys, _snapshot().document, documents, detail)

    assert decisions == ["implicit-deny"] * 3 + ["allowed"] * 4


def test_a_tag_condition_s_fix_names_the_principal_even_for_a_key_with_braces() -> None:
    """A tag key is the policy author's text: braces in it are data, not a format field."""
    key = "aws:PrincipalTag/{cost}center"
    deny = read_statement("Deny", BUCKET, Principal="*", Condition={"StringNotEquals": {key: "42"}})
    finding = pipeline.diagnose(request_from_runbook(_document()), _snapshot(deny))

    assert finding.decision is Verdict.EXPLICIT_DENY
    [fix] = [r for r in finding.remedies if r.code == "COMPLY_WITH_DENY"]
    assert f"as a principal whose {key} is 42" in fix.summary


@pytest.mark.parametrize("value", ["*", "?ata", "data/*", "da\nta", "${aws:username}"])
def test_a_tag_value_put_in_a_resource_is_text_not_a_pattern(value: str) -> None:
    """A principal tag is its holder's (or an admin's) text: `*`, `?`, a line break or a policy
    variable in it matches itself only when the ABAC Resource puts it in."""
    doc = copy.deepcopy(_snapshot().document)
    doc["iam"]["UserDetailList"][0]["Tags"] = _tags(team=value)
    snapshot = load_snapshot(doc)

    inside = evaluate(request_from_runbook(_document(key=f"{value}/q1.csv")), snapshot)
    other = evaluate(request_from_runbook(_document(key="data/q1.csv")), snapshot)

    assert inside.decision is Verdict.ALLOWED
    assert other.decision is Verdict.IMPLICIT_DENY


def _federated_record(*, issuer: bool = True) -> dict[str, Any]:
    """alice's federated user `partner-jdoe` (GetFederationToken) reading `data/q1.csv`."""
    identity: dict[str, Any] = {
        "type": "FederatedUser",
        "principalId": f"{ACCOUNT}:partner-jdoe",
        "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/partner-jdoe",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
    }
    if issuer:
        identity["sessionContext"] = {
            "sessionIssuer": {"type": "IAMUser", "principalId": "AIDAALICE", "arn": ALICE,
                              "accountId": ACCOUNT, "userName": "alice"},
            "attributes": {"creationDate": "2025-01-01T00:00:00Z", "mfaAuthenticated": "false"},
        }  # fmt: skip
    record = user_get_record(ACCOUNT, BUCKET, "data/q1.csv")
    record["userIdentity"] = identity
    return record


@pytest.mark.parametrize("issuer", [True, False])
def test_a_federated_user_carries_the_tags_of_the_user_who_federated_it(issuer: bool) -> None:
    """AWS: GetFederationToken's "session tags override a user tag with the same key": the
    federating user's tags are the session's. A team perimeter in the bucket policy spares the
    session of a data-team user; with no sessionIssuer in the record that user is unknown."""
    others_out = read_statement(
        "Deny",
        BUCKET,
        Principal="*",
        Condition={"StringNotEquals": {"aws:PrincipalTag/team": "data"}},
    )
    request = parse_event(_federated_record(issuer=issuer))

    finding = pipeline.diagnose(request, _snapshot(others_out))

    tags = [e for e in finding.request.context if e.name == "aws:PrincipalTag/team"]
    denied_by_bucket = "bucket-policy" in [layer.value for layer in finding.blocked_by]
    if issuer:
        assert [(e.values, e.source) for e in tags] == [(("data",), FROM_FEDERATING_USER_TAGS)]
        assert not denied_by_bucket, finding.blocked_by
    else:
        assert tags == []
        assert denied_by_bucket


def test_a_fix_on_the_principals_own_key_is_advice_not_a_verified_request_change() -> None:
    """No request sends aws:PrincipalTag: "send it" cannot be applied, and verifying it would
    judge a principal that is not there. It was a verified request-side patch."""
    deny = read_statement(
        "Deny", BUCKET, Principal="*", Condition={"StringNotEquals": {"aws:PrincipalTag/team": "x"}}
    )
    finding = pipeline.diagnose(request_from_runbook(_document()), _snapshot(deny))

    [fix] = [r for r in finding.remedies if r.code == "COMPLY_WITH_DENY"]
    assert "as a principal whose aws:PrincipalTag/team is x" in fix.summary
    assert fix.patch is None
    assert fix.verified is False
