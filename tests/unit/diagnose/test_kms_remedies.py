"""Fixes for the KMS leg that a key's own rules decide (AWS managed keys)."""

from __future__ import annotations

from chalicelib.diagnose.catalog import RemedyCode
from tests.unit.diagnose.scenarios import SCENARIOS, load_scenario


def test_aws_managed_key_across_accounts_is_denied_and_the_fix_is_a_customer_managed_key() -> None:
    finding = load_scenario(SCENARIOS / "cross-account-aws-managed-key").finding()

    assert finding.decision.value == "implicit-deny"
    assert "kms-key-policy" in [layer.value for layer in finding.blocked_by]
    assert [r.code for r in finding.remedies] == [RemedyCode.USE_CUSTOMER_MANAGED_KEY.value]
    assert finding.remedies[0].cli is None and finding.remedies[0].patch is None
