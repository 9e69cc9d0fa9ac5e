"""A request of the snapshot's account on a bucket of another account, which the snapshot does not
hold (a single-account deployment, or one account's snapshot, seeing its own principal refused
by a partner's bucket): the snapshot is the requester's side alone. AWS needs both sides to
allow a cross-account request (how-s3-evaluates-access-control.html), so the requester's side
decides a denial by itself, and an allow there leaves the verdict to the bucket owner's
policies, which were not read: inconclusive, never "allowed"."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.demo.cloudtrail import iam_user_identity
from chalicelib.engine import decide
from chalicelib.events import parse_event
from chalicelib.model import Layer, Scope, Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering

from .runbook_documents import get_record, read_statement

ACCOUNT, PARTNER = "111122223333", "999988887777"
BUCKET = "partner-exports"
UNREAD = {"$unreadable": "AccessDenied"}


def _snapshot(*statements: dict[str, Any], bucket: Any = None) -> Any:
    """The requester's account: alice with `statements`; `bucket` as its entry for BUCKET
    (left out when None)."""
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE0000000000",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "Path": "/",
        "UserPolicyList": [
            {
                "PolicyName": "p",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
            }
        ],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }
    buckets: dict[str, Any] = {"own-bucket": {"owner": {"ID": "c" * 64}}}
    if bucket is not None:
        buckets[BUCKET] = bucket
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": buckets},
        }
    )


def _event(bucket_account: str = PARTNER) -> Any:
    """alice's (of ACCOUNT) denied read, the record naming `bucket_account` as the bucket's."""
    alice = iam_user_identity(account_id=ACCOUNT, user_name="alice", user_id="AIDAALICE0000000000")
    return parse_event(get_record(alice, bucket_account, BUCKET, "daily/2025-11-24.csv"))


# Every part of the bucket refused: what the collector records for another account's bucket.
REFUSED = dict.fromkeys(
    ("policy", "acl", "ownership_controls", "public_access_block", "encryption"), UNREAD
) | {"request_payment": UNREAD, "objects": {}}
GRANT = read_statement("Allow", BUCKET)


@pytest.mark.parametrize("bucket", [None, REFUSED], ids=["left-out", "nothing-read"])
def test_an_allow_on_the_requesters_side_leaves_the_owners_policy_to_decide(bucket: Any) -> None:
    finding = pipeline.diagnose(_event(), _snapshot(GRANT, bucket=bucket))

    assert finding.decision is Verdict.INCONCLUSIVE, [c.message for c in finding.causes]
    assert finding.request.scope is Scope.CROSS_ACCOUNT
    reason = finding.request.scope_reason or ""
    assert f"the bucket in {PARTNER}: judged on the requester's side only" in reason
    assert "the requester account's own policies are not checked" not in reason
    [layers] = [e.layers for e in finding.evaluations]
    assert {lr.layer: lr.outcome.value for lr in layers}[Layer.IDENTITY_POLICY] == "allow"
    assert any(u.layer is Layer.BUCKET_POLICY for u in finding.unchecked), finding.unchecked
    assert any(c.message.startswith(f"Bucket account {PARTNER}: ") for c in finding.causes)


def test_a_bucket_left_out_says_which_account_holds_it_and_what_to_do() -> None:
    finding = pipeline.diagnose(_event(), _snapshot(GRANT))

    [unchecked] = [u for u in finding.unchecked if u.layer is Layer.BUCKET_POLICY]
    assert f"bucket {BUCKET} is in account {PARTNER}, which the snapshot does not cover" in (
        unchecked.reason
    )
    assert "Check the bucket name" in unchecked.reason
    assert unchecked.needs is not None and PARTNER in unchecked.needs
    assert any("Check the bucket name" in c.message for c in finding.causes)


@pytest.mark.parametrize("bucket", [None, REFUSED], ids=["left-out", "nothing-read"])
def test_the_requesters_side_alone_decides_a_denial(bucket: Any) -> None:
    """No identity allow: denied whatever the owner's bucket policy says (both must allow)."""
    finding = pipeline.diagnose(_event(), _snapshot(bucket=bucket))

    assert finding.decision is Verdict.IMPLICIT_DENY, [c.message for c in finding.causes]
    assert finding.blocked_by == (Layer.IDENTITY_POLICY,)
    assert finding.causes[1].confidence == "definite"

    denied = pipeline.diagnose(_event(), _snapshot(GRANT, read_statement("Deny", BUCKET)))
    assert denied.decision is Verdict.EXPLICIT_DENY
    assert denied.blocked_by == (Layer.IDENTITY_POLICY,)


def test_the_snapshot_of_the_bucket_owner_is_judged_as_before() -> None:
    """The bucket in the snapshot (its owner's, or a record naming the wrong account): the
    snapshot's account holds it, and its (absent) bucket policy grants nothing across."""
    held = _snapshot(GRANT, bucket={"owner": {"ID": "c" * 64}})

    assert pipeline.diagnose(_event(ACCOUNT), held).decision is Verdict.ALLOWED
    assert pipeline.diagnose(_event(ACCOUNT), _snapshot(GRANT)).decision is Verdict.ALLOWED


def test_the_verdict_cache_tells_the_bucket_accounts_apart() -> None:
    """`decide` (which the batch path and fix verification use) remembers verdicts by request
    shape, the bucket's account in it: each account gets its own verdict, in either order."""
    snapshot = _snapshot(GRANT)
    own, partner = _event(ACCOUNT), _event(PARTNER)

    assert decide(own, snapshot).decision is Verdict.ALLOWED
    assert decide(partner, snapshot).decision is Verdict.INCONCLUSIVE
    fresh = load_snapshot(copy.deepcopy(snapshot.document))
    assert decide(partner, fresh).decision is Verdict.INCONCLUSIVE
    assert decide(own, fresh).decision is Verdict.ALLOWED


def test_the_denial_names_the_requesters_side_and_its_fix_runs_there() -> None:
    finding = pipeline.diagnose(_event(), _snapshot())

    [cause] = [c for c in finding.causes if c.code == "NO_ALLOW_IDENTITY"]
    assert "no identity-based policy of arn:aws:iam::111122223333:user/alice allows" in (
        cause.message
    )
    assert "NOT CHECKED" not in cause.message
    assert f"the policy of bucket {BUCKET} was not read here" in cause.message
    grants = [r for r in finding.remedies if r.code == "ADD_IDENTITY_STATEMENT"]
    assert grants
    for remedy in grants:
        assert remedy.summary.startswith(f"The requester's account {ACCOUNT}: ")
        assert f"Run it with credentials of account {ACCOUNT}." in remedy.summary
        assert f"The bucket's account {PARTNER} must also grant it" in remedy.summary
        assert remedy.cli is not None and remedy.cli.startswith("aws iam put-user-policy")
    assert not [r for r in finding.remedies if r.code == "ADD_BUCKET_POLICY_STATEMENT"]


def test_no_fix_writes_a_bucket_policy_over_one_that_could_not_be_read() -> None:
    """Judged across accounts with the requester's identity denying, a bucket-policy grant is
    a candidate; on a policy read as `$unreadable` it would have replaced the owner's whole
    policy with the marker and one statement."""
    finding = pipeline.diagnose(_event(), _snapshot(bucket=REFUSED))

    assert not [r for r in finding.remedies if r.code == "ADD_BUCKET_POLICY_STATEMENT"]
    assert not any("$unreadable" in (r.cli or "") for r in finding.remedies)


def test_a_denial_on_a_bucket_left_out_is_explained_by_that_first() -> None:
    """A record without the bucket's account, on a bucket the snapshot leaves out: the engine
    finds the requester allowed; the first explanation is the missing bucket (a 403, not S3's
    404 for a bucket that does not exist)."""
    record = get_record(
        iam_user_identity(account_id=ACCOUNT, user_name="alice", user_id="AIDAALICE0000000000"),
        PARTNER,
        BUCKET,
        "daily/2025-11-24.csv",
    )
    for resource in record["resources"]:
        resource.pop("accountId", None)
    record["recipientAccountId"] = ACCOUNT  # the requester's copy

    finding = pipeline.diagnose(parse_event(record), _snapshot(GRANT))

    assert finding.decision is Verdict.ALLOWED
    [cause] = [c for c in finding.causes if c.code == "NOT_REPRODUCED"]
    explanations = cause.message.split("Possible explanations: ", 1)[1]
    assert explanations.startswith(f"bucket {BUCKET} is not in the snapshot, and S3 answers")
    assert "another account's bucket (check the bucket name" in explanations

    held = _snapshot(GRANT, bucket={"owner": {"ID": "c" * 64}})
    [cause] = pipeline.diagnose(parse_event(record), held).causes
    assert "is not in the snapshot" not in cause.message


def test_a_bucket_account_that_is_no_account_id_is_not_taken_and_stays_data() -> None:
    """The record's `resources[].accountId` is text: one that is not an account id (a forged
    event put on the bus) names no account to judge, and shows as data wherever it appears."""
    hostile = "9999\u202e\n<b>x</b>\x1b]52;c;"
    finding = pipeline.diagnose(_event(hostile), _snapshot(GRANT))

    assert "judged on the requester's side only" not in (finding.request.scope_reason or "")
    assert not [u for u in finding.unchecked if "which the snapshot does not cover" in u.reason]
    assert_inert_in_every_rendering(finding)


def test_the_fix_of_an_undecided_partner_bucket_is_to_ask_its_owner() -> None:
    """Its policies are not ours to read: no "let the diagnoser read" fix, but the grant to ask
    the bucket's owner for, as advice (no command: it runs in the partner's account)."""
    finding = pipeline.diagnose(_event(), _snapshot(GRANT))

    assert finding.decision is Verdict.INCONCLUSIVE
    assert not [r for r in finding.remedies if r.code == "GRANT_DIAGNOSER_READ"]
    [ask] = finding.remedies
    assert (ask.code, ask.patch, ask.cli, ask.verified) == (
        "ADD_BUCKET_POLICY_STATEMENT",
        None,
        None,
        False,
    )
    assert ask.summary.startswith(f"Bucket account {PARTNER}: ask the owner of bucket {BUCKET}")
    assert '"Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"}' in ask.summary


def test_an_access_point_arn_whose_account_is_no_account_id_names_no_account() -> None:
    """The access point leg is authorized for its ARN's account; a forged ARN whose account is
    not an account id leaves it the bucket's (no RCP path or side of such an "account")."""
    alice = iam_user_identity(account_id=ACCOUNT, user_name="alice", user_id="AIDAALICE0000000000")
    record = get_record(alice, ACCOUNT, BUCKET, "daily/2025-11-24.csv")
    forged = "arn:aws:s3:us-east-1:12x\u202e4\n:accesspoint/ap"
    record["resources"].append({"type": "AWS::S3::AccessPoint", "ARN": forged})

    finding = pipeline.diagnose(parse_event(record), _snapshot(GRANT, bucket={"owner": {}}))

    assert not [u for u in finding.unchecked if "resource's account" in u.reason]
    assert_inert_in_every_rendering(finding)


def test_a_hostile_key_in_the_ask_the_owner_advice_is_data_in_every_rendering() -> None:
    """The key comes from the record, and the advice quotes it twice (as text and inside the
    statement's JSON): both stay data."""
    alice = iam_user_identity(account_id=ACCOUNT, user_name="alice", user_id="AIDAALICE0000000000")
    key = "daily/\u202e\n<b>x</b>\x1b]52;c;`$(id)`" + "k" * 2000
    finding = pipeline.diagnose(
        parse_event(get_record(alice, PARTNER, BUCKET, key)), _snapshot(GRANT)
    )

    [ask] = finding.remedies
    assert ask.code == "ADD_BUCKET_POLICY_STATEMENT" and ask.cli is None
    assert_inert_in_every_rendering(finding)
