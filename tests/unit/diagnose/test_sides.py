"""Cross-account findings inside the organization (issue 14.3): which account each cause and fix
is about, whose credentials run each command, and the scope sentence with and without the
requester's account in the snapshot."""

from __future__ import annotations

import copy
import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from chalicelib.diagnose import diagnose
from chalicelib.diagnose.patches import apply_patch, apply_patch_shared, policy_document
from chalicelib.engine import evaluate
from chalicelib.model import Finding, Scope
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.scenarios import SCENARIOS, load_scenario

REQUESTER, BUCKET, KEY_ACCOUNT = "111122223333", "222233334444", "333344445555"


def _finding(name: str, edit: Any = None) -> Finding:
    scenario = load_scenario(SCENARIOS / name)
    document = copy.deepcopy(scenario.snapshot.document)
    if edit is not None:
        edit(document)
    snapshot = load_snapshot(document)
    decision = evaluate(scenario.request, snapshot)
    return diagnose(scenario.request, snapshot, decision, finding_id="t", engine_version="t")


def test_both_sides_judged_is_said_and_the_fix_runs_in_the_requester_account() -> None:
    finding = _finding("cross-account-org-requester-identity-no-allow")
    assert finding.request.scope is Scope.CROSS_ACCOUNT
    assert "judged on both sides" in (finding.request.scope_reason or "")
    assert finding.causes[1].message.startswith(f"The requester's account {REQUESTER}: ")
    fix = finding.remedies[0]
    assert fix.verified
    assert fix.summary.startswith(f"The requester's account {REQUESTER}: ")
    assert fix.summary.endswith(f"Run it with credentials of account {REQUESTER}.")
    assert fix.patch is not None
    assert fix.patch["policy"].startswith(f"inline:{REQUESTER}:role/loader/")
    assert fix.cli is not None and shlex.split(fix.cli)[:3] == ["aws", "iam", "put-role-policy"]


def test_without_the_requester_account_the_old_bucket_owner_side_diagnosis_stays() -> None:
    finding = _finding(
        "cross-account-org-requester-identity-no-allow", lambda doc: doc.pop("accounts")
    )
    assert finding.decision.value == "inconclusive"
    assert "only the bucket owner's side is evaluated" in (finding.request.scope_reason or "")
    assert not any(c.message.startswith("The requester's account") for c in finding.causes)
    assert all("Run it with credentials" not in r.summary for r in finding.remedies)
    assert {u.layer.value for u in finding.unchecked} >= {"identity-policy", "scp"}


def test_a_bucket_side_fix_names_the_bucket_account_and_its_credentials() -> None:
    finding = _finding("cross-account-org-bucket-policy-no-grant")
    assert finding.causes[1].message.startswith(f"Bucket account {BUCKET}: ")
    assert finding.remedies and all(
        r.summary.startswith(f"Bucket account {BUCKET}: ")
        and f"credentials of account {BUCKET}." in r.summary
        for r in finding.remedies
    )


def test_a_key_policy_fix_names_the_key_account() -> None:
    finding = _finding("cross-account-org-third-account-key-policy")
    assert finding.causes[1].message.startswith(f"Key account {KEY_ACCOUNT}: ")
    fix = finding.remedies[0]
    assert fix.verified and f"credentials of account {KEY_ACCOUNT}." in fix.summary


def test_the_requester_scp_is_named_with_its_account() -> None:
    finding = _finding("cross-account-org-requester-scp-denies")
    scp = next(c for c in finding.causes if c.code == "EXPLICIT_DENY_SCP")
    assert scp.message.startswith(f"The requester's account {REQUESTER}: ")


def test_an_unreadable_requester_iam_is_unchecked_naming_its_account() -> None:
    finding = _finding("cross-account-org-requester-iam-unreadable")
    (identity,) = [u for u in finding.unchecked if u.layer.value == "identity-policy"]
    assert REQUESTER in identity.reason and REQUESTER in (identity.needs or "")


@pytest.mark.parametrize("apply", [apply_patch, apply_patch_shared])
def test_a_patch_of_another_account_policy_changes_that_account_only(apply: Any) -> None:
    path = Path(SCENARIOS / "cross-account-org-requester-identity-no-allow" / "snapshot.json")
    document = json.loads(path.read_text())
    before = json.dumps(document, sort_keys=True)
    policy_id = f"inline:{REQUESTER}:role/loader/s3doctor-read"
    new = {"Version": "2012-10-17", "Statement": []}
    patched = apply(document, {"kind": "policy", "policy": policy_id, "document": new})
    assert json.dumps(document, sort_keys=True) == before  # the original is left as it was
    assert policy_document(patched, policy_id) == new
    assert patched["iam"] == document["iam"]
    assert policy_document(document, policy_id) is None


def test_a_key_of_another_account_needs_the_requester_identity_allow_too() -> None:
    def edit(doc: dict[str, Any]) -> None:
        key = next(iter(doc["kms"]["keys"].values()))
        statements = key["policy"]["Statement"]
        statements[1]["Principal"] = {"AWS": f"arn:aws:iam::{REQUESTER}:role/etl/loader"}
        role = doc["accounts"][REQUESTER]["iam"]["RoleDetailList"][0]
        policy = role["RolePolicyList"][0]["PolicyDocument"]
        policy["Statement"] = [s for s in policy["Statement"] if s["Action"] != "kms:Decrypt"]

    finding = _finding("cross-account-org-third-account-key-policy", edit)
    cause = next(c for c in finding.causes if c.code == "KMS_IDENTITY")
    assert cause.message.startswith(f"The requester's account {REQUESTER}: ")
    assert "A key of another account needs an Allow in the requester's own" in cause.message
    fix = finding.remedies[0]
    assert fix.verified and fix.code == "ADD_IDENTITY_STATEMENT"
    assert f"credentials of account {REQUESTER}." in fix.summary
