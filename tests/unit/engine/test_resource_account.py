"""A runbook-style request carries the bucket owner's account as aws:ResourceAccount and
s3:ResourceAccount, as AWS's request context does, so data-perimeter conditions on them decide
as AWS decides: a `StringNotEquals` Deny on a missing key would match (a deny AWS never makes),
an `StringEquals` Allow on it never would."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.cli import main
from chalicelib.demo.cloudtrail import cross_account_copies, iam_user_identity
from chalicelib.engine import decide, evaluate, resolve_principal
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot

from .runbook_documents import get_record, object_read, read_statement

OWNER = "222233334444"  # the bucket's account, the snapshot's top level
REQUESTER = "111122223333"
OTHER = "999988887777"
BUCKET = "perimeter-data"
ALICE = f"arn:aws:iam::{OWNER}:user/alice"
LOADER = f"arn:aws:iam::{REQUESTER}:role/loader"


def _statement(effect: str, **more: Any) -> dict[str, Any]:
    return read_statement(effect, BUCKET, **more)


def _outside(key: str, *accounts: str) -> dict[str, Any]:
    """The data-perimeter Deny: buckets of other accounts than `accounts`."""
    return _statement("Deny", Condition={"StringNotEquals": {key: list(accounts)}})


def _for_all(statement: dict[str, Any]) -> dict[str, Any]:
    """`statement` as a bucket policy statement (on every principal)."""
    return {**statement, "Principal": "*"}


def _levels(*denies: dict[str, Any]) -> list[dict[str, Any]]:
    full = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    scp = {"Version": "2012-10-17", "Statement": [full, *denies]}
    return [{"target_id": "r-ab12", "scps": [{"Id": "p-perimeter", "Name": "p", "Content": scp}]}]


def _user(name: str, account: str, *, read: bool = True) -> dict[str, Any]:
    policy = {"Version": "2012-10-17", "Statement": [_statement("Allow")]}
    return {
        "UserName": name,
        "UserId": f"AIDA{name.upper():0<17}",
        "Arn": f"arn:aws:iam::{account}:user/{name}",
        "Path": "/",
        "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": policy}] if read else [],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }


def _snapshot(
    *bucket_statements: dict[str, Any],
    scp: list[dict[str, Any]] | None = None,
    buckets: tuple[str, ...] = (BUCKET,),
    accounts: dict[str, Any] | None = None,
    read: bool = True,
) -> Any:
    policy = {"Version": "2012-10-17", "Statement": list(bucket_statements)}
    doc: dict[str, Any] = {
        "account_id": OWNER,
        "partition": "aws",
        "region": "us-east-1",
        "iam": {
            "UserDetailList": [_user("alice", OWNER, read=read)],
            "RoleDetailList": [],
            "GroupDetailList": [],
            "Policies": [],
        },
        "s3": {"buckets": {name: {"policy": policy} for name in buckets}},
    }
    if scp is not None:
        doc["organization"] = {"levels": _levels(*scp)}
    if accounts is not None:
        doc["accounts"] = accounts
    return load_snapshot(doc)


def _document(requester: str = ALICE, **more: Any) -> dict[str, Any]:
    return object_read(requester, BUCKET, **more)


def _given(name: str, value: str) -> list[dict[str, Any]]:
    return [{"ContextKeyName": name, "ContextKeyValues": [value], "ContextKeyType": "string"}]


def _entries(request: Any, name: str) -> list[Any]:
    return [e for e in request.context if e.name.lower() == name.lower()]


@pytest.mark.parametrize("key", ["aws:ResourceAccount", "s3:ResourceAccount"])
def test_a_perimeter_deny_in_the_bucket_policy_spares_the_owners_bucket(key: str) -> None:
    snapshot = _snapshot(
        _statement("Allow", Principal="*"), _for_all(_outside(key, OWNER, REQUESTER))
    )
    request = request_from_runbook(_document())

    finding = pipeline.diagnose(request, snapshot)

    assert finding.decision is Verdict.ALLOWED
    assert decide(request, snapshot).decision is Verdict.ALLOWED
    assert evaluate(request, snapshot).decision is Verdict.ALLOWED
    [entry] = _entries(finding.request, key)
    assert entry.values == (OWNER,)
    assert entry.source == "derived:bucket owner in the snapshot"


def test_a_perimeter_deny_still_denies_the_bucket_of_an_account_outside_it() -> None:
    snapshot = _snapshot(_for_all(_outside("aws:ResourceAccount", OTHER)))

    finding = pipeline.diagnose(request_from_runbook(_document()), snapshot)

    assert finding.decision is Verdict.EXPLICIT_DENY
    assert finding.causes[0].code == "EXPLICIT_DENY_BUCKET_POLICY"


def test_an_scp_perimeter_deny_spares_the_owners_bucket() -> None:
    snapshot = _snapshot(scp=[_outside("s3:ResourceAccount", OWNER)])
    request = request_from_runbook(_document())

    assert pipeline.diagnose(request, snapshot).decision is Verdict.ALLOWED
    assert decide(request, snapshot).decision is Verdict.ALLOWED


def test_an_allow_on_the_owners_account_grants() -> None:
    allow = _statement(
        "Allow", Principal="*", Condition={"StringEquals": {"aws:ResourceAccount": OWNER}}
    )
    snapshot = _snapshot(allow, read=False)  # no identity policy grants

    finding = pipeline.diagnose(request_from_runbook(_document()), snapshot)

    assert finding.decision is Verdict.ALLOWED


def test_a_value_the_user_gives_wins_and_is_not_duplicated() -> None:
    snapshot = _snapshot(_for_all(_outside("aws:ResourceAccount", OWNER)))
    request = request_from_runbook(_document(context=_given("AWS:resourceaccount", OTHER)))

    resolved = resolve_principal(request, snapshot)
    finding = pipeline.diagnose(request, snapshot)

    [given] = _entries(resolved, "aws:ResourceAccount")
    assert (given.values, given.source) == ((OTHER,), "request")
    [derived] = _entries(resolved, "s3:ResourceAccount")
    assert derived.values == (OWNER,)
    assert finding.decision is Verdict.EXPLICIT_DENY
    assert decide(request, snapshot).decision is Verdict.EXPLICIT_DENY


def test_an_unknown_owner_is_not_guessed() -> None:
    snapshot = _snapshot(
        _for_all(_outside("aws:ResourceAccount", OWNER)), buckets=("another-bucket",)
    )
    request = request_from_runbook(_document())

    assert resolve_principal(request, snapshot) is request
    assert not _entries(pipeline.diagnose(request, snapshot).request, "aws:ResourceAccount")


def test_a_bucket_of_which_nothing_was_read_has_no_known_owner() -> None:
    """A collector is refused every read of another account's bucket, yet lists it."""
    refused = {"$unreadable": "AccessDenied"}
    parts = ("policy", "acl", "ownership_controls", "public_access_block", "encryption")
    unread = dict.fromkeys((*parts, "request_payment"), refused)
    doc = _snapshot().document
    request = request_from_runbook(_document())
    for bucket in (unread, refused):
        snapshot = load_snapshot({**doc, "s3": {"buckets": {BUCKET: bucket}}})
        assert resolve_principal(request, snapshot) is request
    unread.pop("acl")  # left out: read, and none (a fact about the bucket)
    readable = load_snapshot({**doc, "s3": {"buckets": {BUCKET: unread}}})
    assert resolve_principal(request, readable) is not request


def test_the_requests_bucket_account_names_the_owner() -> None:
    snapshot = _snapshot(buckets=("another-bucket",))
    request = replace(request_from_runbook(_document()), bucket_account=OTHER)

    resolved = resolve_principal(request, snapshot)

    for key in ("aws:ResourceAccount", "s3:ResourceAccount"):
        [entry] = _entries(resolved, key)
        assert (entry.values, entry.source) == ((OTHER,), "derived:bucket_account")
    assert resolve_principal(resolved, snapshot) is resolved  # once


def test_a_request_on_every_bucket_gets_no_owner() -> None:
    snapshot = _snapshot()
    request = request_from_runbook(
        {"requester_arn": ALICE, "action": "s3:ListAllMyBuckets", "resource_arn": "*"}
    )

    assert resolve_principal(request, snapshot) is request


def test_a_requester_of_another_member_account_sees_the_buckets_account() -> None:
    loader = {
        "RoleName": "loader",
        "RoleId": "AROAEXAMPLELOADER0001",
        "Arn": LOADER,
        "Path": "/",
        "RolePolicyList": [
            {
                "PolicyName": "read",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [_statement("Allow")]},
            }
        ],
        "AttachedManagedPolicies": [],
    }
    side = {
        "iam": {
            "UserDetailList": [],
            "RoleDetailList": [loader],
            "GroupDetailList": [],
            "Policies": [],
        },
        "organization": {"levels": _levels(_outside("aws:ResourceAccount", OWNER, REQUESTER))},
    }
    grant = _statement("Allow", Principal={"AWS": f"arn:aws:iam::{REQUESTER}:root"})
    snapshot = _snapshot(grant, accounts={REQUESTER: side})
    request = request_from_runbook(_document(LOADER))

    finding = pipeline.diagnose(request, snapshot)

    assert finding.decision is Verdict.ALLOWED
    [entry] = _entries(finding.request, "aws:ResourceAccount")
    assert entry.values == (OWNER,)
    side["organization"] = {"levels": _levels(_outside("aws:ResourceAccount", REQUESTER))}
    outside = _snapshot(grant, accounts={REQUESTER: side})
    denied = pipeline.diagnose(request, outside)
    assert denied.decision is Verdict.EXPLICIT_DENY  # the owner's account is outside that perimeter


@pytest.mark.parametrize("detail", ["decision", "full"])
def test_batch_lines_get_the_owners_account_at_either_detail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    """Lines naming another owner first grow the shape's tree with the deny path (the
    condition matches); the owner's lines then walk it with the derived account, which must
    not take that path."""
    snapshot = _snapshot(
        _statement("Allow", Principal="*"), _for_all(_outside("aws:ResourceAccount", OWNER))
    )
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot.document))
    other = _given("aws:ResourceAccount", OTHER)
    documents = [
        _document(resource_arn=f"arn:aws:s3:::{BUCKET}/k{i}", context=other if i < 3 else [])
        for i in range(7)
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"request": d}) + "\n" for d in documents))

    code = main(["diagnose", "--snapshot", str(path), "--batch", str(batch), "--detail", detail])

    assert code == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    decisions = [answer["decision"] for answer in answers]
    assert decisions == ["explicit-deny"] * 3 + ["allowed"] * 4
    alone = [pipeline.diagnose(request_from_runbook(d), snapshot).decision for d in documents]
    assert decisions == [verdict.value for verdict in alone]


def test_the_requesters_copy_of_a_record_without_the_buckets_account_takes_the_snapshots() -> None:
    """The requester's copy of a cross-account record is delivered to the requester's account;
    when it names no account for the bucket, the recipient is only assumed the owner. The
    snapshot that holds the bucket knows better: its account owns it (as the finding's scope
    says), and a grant conditioned on s3:ResourceAccount reads that."""
    identity = iam_user_identity(
        account_id=REQUESTER, user_name="bob", user_id="AIDABOB0000000000000"
    )
    owner_copy = get_record(identity, OWNER, BUCKET, "reports/q1.csv")
    _, record = cross_account_copies(owner_copy, requester_account=REQUESTER)
    record["resources"] = [
        {k: v for k, v in r.items() if k != "accountId"} for r in record["resources"]
    ]
    grant = _statement(
        "Allow",
        Principal={"AWS": f"arn:aws:iam::{REQUESTER}:user/bob"},
        Condition={"StringEquals": {"s3:ResourceAccount": OWNER}},
    )
    side = {
        "iam": {
            "UserDetailList": [_user("bob", REQUESTER)],
            "RoleDetailList": [],
            "GroupDetailList": [],
            "Policies": [],
        },
        "organization": {"levels": _levels()},
    }

    finding = pipeline.diagnose(parse_event(record), _snapshot(grant, accounts={REQUESTER: side}))

    for key in ("aws:ResourceAccount", "s3:ResourceAccount"):
        [entry] = _entries(finding.request, key)
        assert (entry.values, entry.source) == ((OWNER,), "derived:bucket owner in the snapshot")
    assert finding.decision is Verdict.ALLOWED
