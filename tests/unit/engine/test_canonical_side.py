"""What a finding says when the requester's canonical user id is unknown: the permission to grant,
in the requester's account (the bucket account's reads would not help)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.engine import evaluate
from chalicelib.model import Layer, Verdict
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
