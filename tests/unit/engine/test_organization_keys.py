"""Every request carries the organization of the principal's account as aws:PrincipalOrgID and
that of the resource's account as aws:ResourceOrgID when the snapshot knows it, as AWS's
request context does: CloudTrail records name neither, and without them the commonest
organization policies decide wrong (a `StringNotEquals aws:PrincipalOrgID` Deny matches every
member, a `StringEquals` Allow grants none). S3's call to KMS carries the key's account's."""

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

from .runbook_documents import batch_decisions, object_read, read_statement, user_get_record

OWNER = "222233334444"  # the bucket's account, the snapshot's top level
MEMBER = "111122223333"  # another member account, its side in the snapshot
ORG = "o-a1b2c3d4e5"
OTHER_ORG = "o-zz9988776655"
BUCKET = "org-data"
ALICE = f"arn:aws:iam::{OWNER}:user/alice"
LOADER = f"arn:aws:iam::{MEMBER}:role/loader"
FIXTURES = Path(__file__).resolve().parents[2] / "data" / "events"


def _statement(effect: str, **more: Any) -> dict[str, Any]:
    return read_statement(effect, BUCKET, **more)


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _org(org_id: str | None, *denies: dict[str, Any]) -> dict[str, Any] | None:
    if org_id is None:
        return None  # in no organization
    scp = _policy({"Effect": "Allow", "Action": "*", "Resource": "*"}, *denies)
    return {
        "org_id": org_id,
        "levels": [{"target_id": "r-ab12", "scps": [{"Id": "p-1", "Name": "p", "Content": scp}]}],
    }


def _iam(users: list[Any], roles: list[Any]) -> dict[str, Any]:
    return {"UserDetailList": users, "RoleDetailList": roles, "GroupDetailList": [], "Policies": []}


def _snapshot(
    *bucket_statements: dict[str, Any],
    org: str | None = ORG,
    member_org: str | None = ORG,
    scp: tuple[dict[str, Any], ...] = (),
) -> Any:
    reader = [{"PolicyName": "read", "PolicyDocument": _policy(_statement("Allow"))}]
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE000000000000",
        "Arn": ALICE,
        "Path": "/",
        "UserPolicyList": reader,
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }
    loader = {
        "RoleName": "loader",
        "RoleId": "AROALOADER00000000000",
        "Arn": LOADER,
        "Path": "/",
        "RolePolicyList": reader,
        "AttachedManagedPolicies": [],
    }
    doc: dict[str, Any] = {
        "account_id": OWNER,
        "partition": "aws",
        "region": "us-east-1",
        "iam": _iam([alice], []),
        "s3": {"buckets": {BUCKET: {"policy": _policy(*bucket_statements)}}},
        "organization": _org(org, *scp),
        "accounts": {MEMBER: {"iam": _iam([], [loader]), "organization": _org(member_org, *scp)}},
    }
    return load_snapshot(doc)


def _document(requester: str = ALICE, **more: Any) -> dict[str, Any]:
    return object_read(requester, BUCKET, **more)


def _values(request: Any, name: str) -> list[tuple[str, ...]]:
    return [e.values for e in request.context if e.name.lower() == name.lower()]


OUTSIDE_ORG = _statement(
    "Deny", Principal="*", Condition={"StringNotEquals": {"aws:PrincipalOrgID": ORG}}
)
ORG_GRANT = _statement(
    "Allow", Principal="*", Condition={"StringEquals": {"aws:PrincipalOrgID": ORG}}
)


@pytest.mark.parametrize("requester", [ALICE, LOADER])
def test_a_perimeter_deny_on_the_principals_organization_spares_its_members(requester: str) -> None:
    snapshot = _snapshot(ORG_GRANT, OUTSIDE_ORG)

    finding = pipeline.diagnose(request_from_runbook(_document(requester)), snapshot)

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _values(finding.request, "aws:PrincipalOrgID") == [(ORG,)]


def test_an_organization_wide_grant_lets_another_member_in() -> None:
    snapshot = _snapshot(ORG_GRANT)
    request = request_from_runbook(_document(LOADER))

    assert evaluate(request, snapshot).decision is Verdict.ALLOWED
    assert decide(request, snapshot).decision is Verdict.ALLOWED


def test_a_member_of_another_organization_or_of_none_is_still_denied() -> None:
    request = request_from_runbook(_document(LOADER))
    for member_org in (OTHER_ORG, None):
        snapshot = _snapshot(ORG_GRANT, OUTSIDE_ORG, member_org=member_org)
        finding = pipeline.diagnose(request, snapshot)
        assert finding.decision is Verdict.EXPLICIT_DENY, member_org
        expected = [] if member_org is None else [(member_org,)]
        assert _values(finding.request, "aws:PrincipalOrgID") == expected


def test_an_scp_keeping_data_inside_the_organization_spares_its_buckets() -> None:
    """The data-perimeter SCP: deny reading a bucket outside the principal's organization."""
    perimeter = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:ResourceOrgID": "${aws:PrincipalOrgID}"}},
    }
    grant = _statement("Allow", Principal={"AWS": f"arn:aws:iam::{MEMBER}:root"})
    request = request_from_runbook(_document(LOADER))

    inside = pipeline.diagnose(request, _snapshot(grant, scp=(perimeter,)))
    assert inside.decision is Verdict.ALLOWED, [c.message for c in inside.causes]
    assert _values(inside.request, "aws:ResourceOrgID") == [(ORG,)]
    across = pipeline.diagnose(request, _snapshot(grant, org=OTHER_ORG, scp=(perimeter,)))
    assert across.decision is Verdict.EXPLICIT_DENY


def test_a_value_the_user_gives_wins_and_is_not_duplicated() -> None:
    given = [
        {
            "ContextKeyName": "aws:PrincipalOrgID",
            "ContextKeyValues": [OTHER_ORG],
            "ContextKeyType": "string",
        }
    ]
    request = request_from_runbook(_document(context=given))

    finding = pipeline.diagnose(request, _snapshot(ORG_GRANT, OUTSIDE_ORG))

    assert finding.decision is Verdict.EXPLICIT_DENY
    assert _values(finding.request, "aws:PrincipalOrgID") == [(OTHER_ORG,)]


def test_no_organization_and_an_unread_one_give_no_key() -> None:
    request = request_from_runbook(_document())
    alone = pipeline.diagnose(request, _snapshot(ORG_GRANT, OUTSIDE_ORG, org=None))
    assert _values(alone.request, "aws:PrincipalOrgID") == []
    assert _values(alone.request, "aws:ResourceOrgID") == []
    assert alone.decision is Verdict.EXPLICIT_DENY  # in no organization: outside every one
    doc = dict(_snapshot(ORG_GRANT, OUTSIDE_ORG).document)
    doc["organization"] = {"$unreadable": "AccessDenied"}  # not read: not guessed
    unread = pipeline.diagnose(request, load_snapshot(doc))
    assert _values(unread.request, "aws:PrincipalOrgID") == []
    assert _values(unread.request, "aws:ResourceOrgID") == []


def test_an_event_of_a_member_gets_its_organization() -> None:
    """CloudTrail names no organization: the event's request gets it from the snapshot."""
    record = user_get_record(OWNER, BUCKET, "reports/q1.csv")
    request = parse_event(record)
    assert _values(request, "aws:PrincipalOrgID") == []

    finding = pipeline.diagnose(request, _snapshot(ORG_GRANT, OUTSIDE_ORG))

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _values(finding.request, "aws:PrincipalOrgID") == [(ORG,)]
    assert _values(finding.request, "aws:ResourceOrgID") == [(ORG,)]


@pytest.mark.parametrize("detail", ["decision", "full"])
def test_batch_lines_get_the_organization_at_either_detail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    """Lines of another organization's member first grow the shape's tree with the deny path;
    the members' lines then walk it with the derived organization, which must let them in."""
    given = [
        {
            "ContextKeyName": "aws:PrincipalOrgID",
            "ContextKeyValues": [OTHER_ORG],
            "ContextKeyType": "string",
        }
    ]
    documents = [_document(LOADER, context=given)] * 3 + [_document(LOADER)] * 4
    snapshot = _snapshot(ORG_GRANT, OUTSIDE_ORG).document

    decisions = batch_decisions(tmp_path, capsys, snapshot, documents, detail)

    assert decisions == ["explicit-deny"] * 3 + ["allowed"] * 4


def test_an_ou_grant_on_the_principals_organization_path_lets_its_members_in() -> None:
    """aws:PrincipalOrgPaths is the organization, its root and the OUs down to the account's
    parent, each followed by a slash, as AWS writes it."""
    ou = "ou-ab12-11111111"
    grant = _statement(
        "Allow",
        Principal="*",
        Condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"{ORG}/r-ab12/{ou}/*"]}},
    )
    doc = dict(_snapshot(grant).document)
    chain = [
        {"target_id": "r-ab12", "scps": [_FULL]},
        {"target_id": ou, "scps": [_FULL]},
        {"target_id": MEMBER, "scps": [_FULL]},
    ]
    doc["accounts"] = {
        MEMBER: {**doc["accounts"][MEMBER], "organization": {"org_id": ORG, "levels": chain}}
    }
    request = request_from_runbook(_document(LOADER))

    finding = pipeline.diagnose(request, load_snapshot(doc))

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _values(finding.request, "aws:PrincipalOrgPaths") == [(f"{ORG}/r-ab12/{ou}/",)]
    other = dict(doc, accounts={MEMBER: {**doc["accounts"][MEMBER]}})
    other["accounts"][MEMBER]["organization"] = {
        "org_id": ORG,
        "levels": [chain[0], {**chain[1], "target_id": "ou-ab12-22222222"}, chain[2]],
    }
    assert pipeline.diagnose(request, load_snapshot(other)).decision is Verdict.IMPLICIT_DENY


_FULL = {
    "Id": "p-FullAWSAccess",
    "Name": "FullAWSAccess",
    "Content": {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    },
}


def test_the_fix_of_an_organization_perimeter_names_who_gets_through_not_a_value_to_send() -> None:
    request = request_from_runbook(_document(LOADER))
    finding = pipeline.diagnose(request, _snapshot(ORG_GRANT, OUTSIDE_ORG, member_org=OTHER_ORG))

    [fix] = [r for r in finding.remedies if r.code == "COMPLY_WITH_DENY"]
    assert f"as a principal whose aws:PrincipalOrgID is {ORG}" in fix.summary
    assert "send the request with" not in fix.summary


@pytest.mark.parametrize("detail", ["decision", "full"])
def test_batch_lines_that_give_the_resource_account_get_that_accounts_organization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    """aws:ResourceOrgID follows the aws:ResourceAccount a line gives, line by line: a line of
    an account the snapshot knows in no organization is outside the perimeter, one of the
    owner's inside, in any order."""
    perimeter = read_statement(
        "Deny", BUCKET, Principal="*", Condition={"StringNotEquals": {"aws:ResourceOrgID": ORG}}
    )
    grant = read_statement("Allow", BUCKET, Principal="*")

    def naming(account: str, line: int) -> dict[str, Any]:
        given = [
            {
                "ContextKeyName": "aws:ResourceAccount",
                "ContextKeyValues": [account],
                "ContextKeyType": "string",
            }
        ]
        return _document(context=given, resource_arn=f"arn:aws:s3:::{BUCKET}/part-{line}.csv")

    accounts = [OWNER, OWNER, OWNER, MEMBER, OWNER, MEMBER, MEMBER]
    documents = [naming(account, line) for line, account in enumerate(accounts)]
    snapshot = _snapshot(grant, perimeter, member_org=None)

    decisions = batch_decisions(tmp_path, capsys, snapshot.document, documents, detail)

    expected = [
        pipeline.diagnose(request_from_runbook(d), snapshot).decision.value for d in documents
    ]
    assert expected == ["allowed"] * 3 + ["explicit-deny", "allowed"] + ["explicit-deny"] * 2
    assert decisions == expected
