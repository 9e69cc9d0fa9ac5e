"""A KMS key named by alias (an SSE header, a bucket's default encryption) is judged as the key
the snapshot's `kms.aliases` maps it to: its key policy, grants and the identity statements on
its ARN; fixes name that ARN. An alias the map does not hold, or a bare alias that S3 resolves
in another account than the one the map names, stays not checked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.model import Finding, InputError, Layer, Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
KEY = "arn:aws:kms:us-east-1:111122223333:key/1111aaaa-11aa-11aa-11aa-111111111111"
ALIAS_ARN = "arn:aws:kms:us-east-1:111122223333:alias/acme-data"
ALIASES = {ALIAS_ARN: KEY}


def _read(scenario: str, name: str) -> Any:
    return json.loads((SCENARIOS / scenario / name).read_text(encoding="utf-8"))


def _same_account(
    header: str | None, *, kms_allowed: bool = True, aliases: Any = ALIASES
) -> Finding:
    """The app role of the key's account writes to acme-data (no bucket policy), naming the key
    by `header` in its SSE header, or by none (the bucket default names `alias/acme-data`)."""
    scenario = "kms-header-alias-arn-key-policy-unknown"
    snapshot = copy.deepcopy(_read(scenario, "snapshot.json"))
    bucket = snapshot["s3"]["buckets"]["acme-data"]
    del bucket["policy"]
    bucket["encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = (
        "alias/acme-data"
    )
    [role] = snapshot["iam"]["RoleDetailList"]
    statements = role["RolePolicyList"][0]["PolicyDocument"]["Statement"]
    if not kms_allowed:
        del statements[1]
    if aliases is not None:
        snapshot["kms"]["aliases"] = aliases
    runbook = _read(scenario, "request.json")
    if header is None:
        del runbook["context"]
    else:
        runbook["context"][1]["ContextKeyValues"] = [header]
    return pipeline.diagnose(request_from_runbook(runbook), snapshot)


def _kms_leg(finding: Finding) -> Any:
    [leg] = [e for e in finding.evaluations if e.action.startswith("kms:")]
    return leg


@pytest.mark.parametrize(
    "header", [ALIAS_ARN, "alias/acme-data", None], ids=["alias-arn", "bare-alias", "default"]
)
def test_a_key_named_by_alias_is_judged_as_the_key_it_names(header: str | None) -> None:
    finding = _same_account(header)

    assert finding.decision is Verdict.ALLOWED
    leg = _kms_leg(finding)
    assert leg.resource_arn == KEY
    assert leg.layer(Layer.KMS_KEY_POLICY).outcome.value == "allow"
    assert not finding.unchecked


@pytest.mark.parametrize("header", [ALIAS_ARN, "alias/acme-data", None])
def test_the_fix_for_a_key_named_by_alias_allows_the_key_arn(header: str | None) -> None:
    finding = _same_account(header, kms_allowed=False)

    assert finding.decision is Verdict.IMPLICIT_DENY
    assert _kms_leg(finding).blocked_by == (Layer.IDENTITY_POLICY,)
    patches = [r.patch for r in finding.remedies if r.patch and r.patch.get("kind") == "policy"]
    resources = {str(s["Resource"]) for p in patches for s in p["document"]["Statement"]}
    assert KEY in resources
    assert not any("alias" in r for r in resources)


def test_an_alias_the_map_does_not_hold_stays_not_checked() -> None:
    finding = _same_account(ALIAS_ARN, aliases={"arn:aws:kms:us-east-1:111122223333:alias/x": KEY})

    assert finding.decision is Verdict.INCONCLUSIVE
    assert any(u.layer is Layer.KMS_KEY_POLICY and ALIAS_ARN in u.reason for u in finding.unchecked)


def test_a_bare_default_alias_of_another_accounts_writer_is_not_the_bucket_accounts() -> None:
    """S3 resolves a bare default-encryption alias in the requester's account: the bucket
    account's alias of the same name says nothing about the key the writer's call uses."""
    scenario = "kms-default-key-by-alias-cross-account"
    snapshot = copy.deepcopy(_read(scenario, "snapshot.json"))
    snapshot["kms"]["aliases"] = ALIASES
    request = request_from_runbook(_read(scenario, "request.json"))

    finding = pipeline.diagnose(request, snapshot)

    assert any(
        u.layer is Layer.KMS_KEY_POLICY and "alias/acme-data" in u.reason for u in finding.unchecked
    )
    assert all(e.resource_arn != KEY for e in finding.evaluations)


def test_an_alias_map_naming_no_alias_arn_is_refused_with_its_field() -> None:
    snapshot = copy.deepcopy(_read("kms-header-alias-arn-key-policy-unknown", "snapshot.json"))
    snapshot["kms"]["aliases"] = {"alias/acme-data": KEY}

    with pytest.raises(InputError, match=r"snapshot\.kms\.aliases"):
        load_snapshot(snapshot)
