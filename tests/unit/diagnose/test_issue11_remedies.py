"""Issue 11, points 7-9: fixes that are narrow, present where they were missing, and worded right.

Each test names the golden scenario that reproduced the point before the fix.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.diagnose.patches import apply_patch, argv_for
from chalicelib.diagnose.remedies import _reevaluate
from chalicelib.engine import evaluate
from chalicelib.model import Finding, Remedy
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.scenarios import SCENARIOS, Scenario, load_scenario


def _scenario(name: str) -> Scenario:
    return load_scenario(SCENARIOS / name)


def _finding(name: str) -> Finding:
    return _scenario(name).finding()


def _statements(remedy: Remedy) -> list[dict[str, Any]]:
    assert remedy.patch is not None
    statements = remedy.patch["document"]["Statement"]
    return statements if isinstance(statements, list) else [statements]


# --------------------------------------------------------------------------- 7: KMS and root


def test_key_policy_grant_for_the_root_user_is_limited_to_the_root_user() -> None:
    finding = _finding("kms-root-key-policy-does-not-delegate")
    grants = [r for r in finding.remedies if r.code == "ADD_KMS_KEY_POLICY_STATEMENT"]
    assert grants and grants[0].verified
    added = _statements(grants[0])[-1]
    assert added["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert added["Condition"]["StringEquals"]["aws:PrincipalType"] == "Account"
    assert "aws:PrincipalType Account" in grants[0].summary


def test_breadth_check_probes_a_principal_that_already_holds_an_iam_grant() -> None:
    """Naming ACCT:root without the condition enables every IAM grant: the check must see it."""
    scenario = _scenario("kms-root-key-policy-does-not-delegate")
    finding = scenario.finding()
    remedy = next(r for r in finding.remedies if r.code == "ADD_KMS_KEY_POLICY_STATEMENT")
    assert remedy.patch is not None
    broad = json.loads(json.dumps(remedy.patch))
    del broad["document"]["Statement"][-1]["Condition"]["StringEquals"]["aws:PrincipalType"]
    allowed, broader = _reevaluate(scenario.request, scenario.snapshot, broad)
    assert allowed and broader
    allowed, broader = _reevaluate(scenario.request, scenario.snapshot, remedy.patch)
    assert allowed and not broader


# --------------------------------------------------------------------------- 8: missing fixes


def test_allow_with_a_wildcard_condition_value_gets_verified_fixes() -> None:
    finding = _finding("allow-condition-wildcard-prefix")
    verified = [r for r in finding.remedies if r.verified]
    widen = [r for r in verified if r.code == "FIX_STATEMENT"]
    assert widen, [r.summary for r in finding.remedies]
    condition = _statements(widen[0])[0]["Condition"]["StringLike"]["s3:prefix"]
    assert condition == ["public/*", "private/"]
    comply = [r for r in verified if r.patch and r.patch["kind"] == "request"]
    assert comply and comply[0].patch == {"kind": "request", "context": {"s3:prefix": ["public/"]}}


def test_ignore_public_acls_gets_a_private_bucket_policy_grant_to_the_requester() -> None:
    finding = _finding("bpa-ignore-public-acls-only-grant")
    grants = [r for r in finding.remedies if r.code == "ADD_BUCKET_POLICY_STATEMENT"]
    assert grants and all(r.verified for r in grants)
    for remedy in grants:
        added = _statements(remedy)[-1]
        assert added["Principal"] == {"AWS": "arn:aws:iam::111122223333:user/alice"}


def test_cross_account_denial_gets_a_bucket_grant_and_the_note_about_the_other_side() -> None:
    finding = _finding("cross-account-user-not-granted")
    grants = [r for r in finding.remedies if r.code == "ADD_BUCKET_POLICY_STATEMENT"]
    assert grants and grants[0].verified
    assert _statements(grants[0])[-1]["Principal"] == {
        "AWS": "arn:aws:iam::444455556666:user/mallory"
    }
    assert "account 444455556666 must also allow" in grants[0].summary
    assert "NOT CHECKED" in grants[0].summary


def test_session_policy_of_an_iam_user_comes_from_get_federation_token() -> None:
    scenario = _scenario("session-policy-federation-token-no-allow")
    remedy = next(r for r in scenario.finding().remedies if r.patch)
    assert remedy.patch is not None and remedy.patch["kind"] == "session-policy"
    argv = argv_for(remedy.patch, scenario.request)
    assert argv is not None
    assert argv[:3] == ["aws", "sts", "get-federation-token"]
    assert "--name" in argv and "--policy" in argv and "assume-role" not in argv
    assert remedy.cli is not None and "get-federation-token" in remedy.cli
    assert "get-federation-token" in remedy.summary


def test_session_policy_of_a_role_session_still_comes_from_assume_role() -> None:
    scenario = _scenario("session-policy-no-allow")
    remedy = next(r for r in scenario.finding().remedies if r.patch)
    assert remedy.patch is not None
    argv = argv_for(remedy.patch, scenario.request)
    assert argv is not None and argv[:3] == ["aws", "sts", "assume-role"]


# --------------------------------------------------------------------------- 9: usable fixes


@pytest.mark.parametrize(
    ("name", "usual"),
    [
        ("no-identity-allow", "arn:aws:s3:::example-bucket/data/*"),
        ("allow-for-another-prefix", "arn:aws:s3:::example-bucket/data/*"),
    ],
)
def test_exact_grant_comes_with_the_usual_form_labelled(name: str, usual: str) -> None:
    finding = _finding(name)
    resources = {
        json.dumps(_statements(r)[-1].get("Resource")): r
        for r in finding.remedies
        if r.patch and r.patch["kind"] == "policy"
    }
    exact = [r for k, r in resources.items() if "data/report.csv" in k]
    wide = [r for k, r in resources.items() if usual in k]
    assert exact and wide, list(resources)
    assert all(r.verified for r in exact + wide)
    assert all("It opens only this key" in r.summary for r in exact)
    assert all("Usual form: it also opens every other key under data/" in r.summary for r in wide)


def test_deny_on_a_missing_vpc_endpoint_says_how_to_comply() -> None:
    finding = _finding("bucket-policy-deny-outside-any-vpce")
    summary = finding.remedies[0].summary
    assert "come through a VPC endpoint" in summary
    assert "has no condition to meet" not in summary


def test_kms_cause_says_each_thing_once() -> None:
    for name in ("kms-key-policy-does-not-delegate", "kms-root-key-policy-does-not-delegate"):
        message = _finding(name).causes[0].message
        assert message.lower().count("neither allows the requester") == 1, message


def test_malformed_policy_asks_to_fix_the_document() -> None:
    finding = _finding("bucket-policy-malformed")
    summaries = [r.summary for r in finding.remedies]
    assert any(s.startswith("Fix the document of bucket-policy:example-bucket") for s in summaries)
    assert not any("Let the diagnoser read" in s for s in summaries)
    unverified = [r for r in finding.remedies if not r.verified]
    assert unverified[0].summary.startswith("Fix the document"), summaries


def test_cross_account_cause_does_not_claim_the_identity_policies_were_read() -> None:
    finding = _finding("cross-account-user-not-granted")
    assert any(u.layer.value == "identity-policy" for u in finding.unchecked)
    for cause in finding.causes:
        assert not cause.message.startswith("No identity-based policy of"), cause.message
    grant = next(c for c in finding.causes if c.code == "NO_ALLOW_IDENTITY")
    assert "NOT CHECKED" in grant.message


def test_ownership_fix_is_not_dropped_by_the_granted_probe() -> None:
    """BucketOwnerEnforced makes the account's own policies apply, by design: kept."""
    finding = _finding("object-owned-by-other-account")
    assert any(r.code == "ENFORCE_BUCKET_OWNER" and r.verified for r in finding.remedies)


def test_unreadable_bucket_policy_is_never_overwritten() -> None:
    scenario = _scenario("bpa-ignore-public-acls-only-grant")
    document = json.loads(json.dumps(scenario.snapshot.document))
    document["s3"]["buckets"]["example-bucket"]["policy"] = {"$unreadable": "AccessDenied"}
    snapshot = load_snapshot(document)
    from chalicelib.diagnose import diagnose

    finding = diagnose(
        scenario.request,
        snapshot,
        evaluate(scenario.request, snapshot),
        finding_id="x",
        engine_version="t",
    )
    assert not any(r.code == "ADD_BUCKET_POLICY_STATEMENT" for r in finding.remedies)


def test_patch_application_keeps_other_statements() -> None:
    scenario = _scenario("cross-account-user-not-granted")
    remedy = next(r for r in scenario.finding().remedies if r.patch)
    assert remedy.patch is not None
    patched = apply_patch(scenario.snapshot.document, remedy.patch)
    sids = [s.get("Sid") for s in patched["s3"]["buckets"]["example-bucket"]["policy"]["Statement"]]
    assert sids[0] == "PartnerRead"
