"""What a finding says when the requester's canonical user id is unknown: the permission to grant,
in the requester's account (the bucket account's reads would not help)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.engine import evaluate
from chalicelib.model import Layer, Principal, PrincipalType, Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.casefile import request_from_case

CASES = Path(__file__).resolve().parents[2] / "data" / "cases" / "cross-account-acl.json"
REQUESTER = "111122223333"


def _case(name: str) -> dict[str, Any]:
    [case] = [c for c in json.loads(CASES.read_text())["cases"] if c["name"] == name]
    return copy.deepcopy(case)


@pytest.mark.parametrize(
    "side",
    [
        {"canonical_id": {"$unreadable": "AccessDenied", "needs": "s3:ListAllMyBuckets"}},
        {"canonical_id": {"$unreadable": "AccessDenied"}},
        {},  # left out: not collected
    ],
)
def test_the_unchecked_acl_names_the_permission_in_the_requester_account(
    side: dict[str, Any],
) -> None:
    case = _case("a-bucket-acl-read-grant-to-the-requester-account-allows-listing")
    accounts = case["snapshot"]["accounts"][REQUESTER]
    accounts.pop("canonical_id")
    accounts.update(side)

    decision = evaluate(request_from_case(case["request"]), load_snapshot(case["snapshot"]))

    assert decision.decision is Verdict.INCONCLUSIVE
    [acl] = [u for u in decision.unchecked if u.layer is Layer.BUCKET_ACL]
    assert acl.needs == f"s3:ListAllMyBuckets in account {REQUESTER}"
    assert "grant #1: READ" in acl.reason


def test_a_whole_side_unreadable_leaves_the_grant_unchecked_too() -> None:
    case = _case("a-bucket-acl-read-grant-to-the-requester-account-allows-listing")
    case["snapshot"]["accounts"][REQUESTER] = {"$unreadable": "AccessDenied", "needs": "sts:X"}

    decision = evaluate(request_from_case(case["request"]), load_snapshot(case["snapshot"]))

    assert decision.decision is Verdict.INCONCLUSIVE
    assert Layer.BUCKET_ACL in {u.layer for u in decision.unchecked}


def test_the_fix_is_labelled_with_the_account_whose_read_is_missing() -> None:
    """The ACL is the bucket account's, the missing read the requester's: the remedy says so."""
    case = _case("a-bucket-acl-read-grant-to-the-requester-account-allows-listing")
    case["snapshot"]["accounts"][REQUESTER]["canonical_id"] = {"$unreadable": "AccessDenied"}

    finding = pipeline.diagnose(request_from_case(case["request"]), case["snapshot"])

    [fix] = [r for r in finding.remedies if r.code == "GRANT_DIAGNOSER_READ"]
    assert fix.summary.startswith(f"The requester's account {REQUESTER}: let the diagnoser read")
    assert f"s3:ListAllMyBuckets in account {REQUESTER}" in fix.summary


def test_a_requester_account_with_no_side_leaves_a_grant_to_another_user_unchecked() -> None:
    """A single-account deployment, or a requester outside the organization: the snapshot has
    no side for the account, so its canonical id is unknown and the grant may be to it. The
    bucket side must not say "no grant" (it did: implicit deny, blocked by the bucket policy)."""
    case = _case("a-bucket-acl-read-grant-to-the-requester-account-allows-listing")
    del case["snapshot"]["accounts"]

    decision = evaluate(request_from_case(case["request"]), load_snapshot(case["snapshot"]))

    assert decision.decision is Verdict.INCONCLUSIVE
    [acl] = [u for u in decision.unchecked if u.layer is Layer.BUCKET_ACL]
    assert acl.reason.startswith(f"the canonical user id of account {REQUESTER} was not collected")
    assert "grant #1: READ" in acl.reason
    assert acl.needs == f"s3:ListAllMyBuckets in account {REQUESTER}"


def test_with_no_side_and_no_grant_to_another_user_the_bucket_side_still_decides() -> None:
    """Only a grant that may be the requester's leaves the ACL unchecked: an ACL granting the
    owner alone still refuses, and the bucket owner's side stays definite."""
    case = _case("a-bucket-acl-read-grant-to-the-requester-account-allows-listing")
    del case["snapshot"]["accounts"]
    acl = case["snapshot"]["s3"]["buckets"]["shared-data"]["acl"]
    acl["Grants"] = acl["Grants"][:1]

    decision = evaluate(request_from_case(case["request"]), load_snapshot(case["snapshot"]))

    assert decision.decision is Verdict.IMPLICIT_DENY
    assert Layer.BUCKET_ACL not in {u.layer for u in decision.unchecked}


def test_a_service_principal_does_not_present_the_bucket_owner_canonical_id() -> None:
    """A requester of no account (an AWS service) is no account's canonical user: a bucket
    policy granting the owner's canonical id does not let it in (it did: the engine gave every
    account-less requester the bucket owner's id)."""
    case = _case("a-bucket-acl-read-grant-to-the-requester-account-allows-listing")
    bucket = case["snapshot"]["s3"]["buckets"]["shared-data"]
    owner = bucket["owner"]["ID"]
    bucket["policy"] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnerCanonical",
                "Effect": "Allow",
                "Principal": {"CanonicalUser": owner},
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::shared-data",
            }
        ],
    }
    service = Principal(
        type=PrincipalType.AWS_SERVICE,
        requester_arn="logging.s3.amazonaws.com",
        principal_arn="",
        account_id=None,
        service="logging.s3.amazonaws.com",
    )
    request = replace(request_from_case(case["request"]), principal=service)

    decision = evaluate(request, load_snapshot(case["snapshot"]))

    assert decision.decision is not Verdict.ALLOWED
    [evaluation] = decision.evaluations
    policy = evaluation.layer(Layer.BUCKET_POLICY)
    assert policy is not None and not policy.statements
