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


def _kms_identity(name: str) -> tuple[str, list[tuple[str, str | None, object]]]:
    finding = load_scenario(SCENARIOS / name).finding()
    [cause] = [c for c in finding.causes if c.code == "KMS_IDENTITY"]
    fixes = [
        (r.summary, r.cli, r.patch)
        for r in finding.remedies
        if r.code == RemedyCode.ADD_IDENTITY_STATEMENT.value
    ]
    return cause.message, fixes


def test_key_named_by_alias_gets_advice_on_the_key_arn_not_an_iam_grant_on_the_alias() -> None:
    for name, alias in (
        ("kms-default-key-by-alias-cross-account", "alias/acme-data"),
        ("kms-header-alias-arn-key-policy-unknown", "arn:aws:kms:us-east-1:111122223333:alias/"),
    ):
        message, fixes = _kms_identity(name)

        assert "key policy delegates to IAM" not in message and "not checked" in message
        [(summary, cli, patch)] = fixes
        assert cli is None and patch is None
        assert "by that key's ARN" in summary and "cannot name a KMS key by alias" in summary
        assert alias in summary
