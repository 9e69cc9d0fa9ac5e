"""Fixes for the KMS leg that a key's own rules decide (AWS managed keys)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.catalog import RemedyCode
from chalicelib.model import Finding, Operation
from chalicelib.request import request_from_runbook
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


MANAGED_KEY = "arn:aws:kms:us-east-1:111122223333:key/aaaa5555-55aa-55aa-55aa-aaaaaaaa5555"


def _written_under_the_managed_key(*, copy_from: str | None) -> Finding:
    """The role of 444455556666 writes `acme-data/out/q2.csv`, whose bucket's default key is
    111122223333's aws/s3 (named by ARN); with `copy_from`, as a copy of an SSE-S3 object of
    that bucket, which it may read."""
    snapshot = json.loads(
        (SCENARIOS / "cross-account-aws-managed-key" / "snapshot.json").read_text(encoding="utf-8")
    )
    buckets = snapshot["s3"]["buckets"]
    data = buckets["acme-data"]
    data["encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] = (
        MANAGED_KEY
    )
    if copy_from is not None:
        source = buckets[copy_from] = copy.deepcopy(data)
        del source["encryption"]
        [record] = source["objects"].values()
        source["objects"] = {"in/q2.csv": {**record, "head": {"ServerSideEncryption": "AES256"}}}
        source["policy"]["Statement"][0]["Resource"] = f"arn:aws:s3:::{copy_from}/*"
    data["policy"]["Statement"][0]["Action"] = ["s3:GetObject", "s3:PutObject"]
    [role] = snapshot["accounts"]["444455556666"]["iam"]["RoleDetailList"]
    role["RolePolicyList"][0]["PolicyDocument"]["Statement"] = [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "kms:*"], "Resource": "*"}
    ]
    request = request_from_runbook(
        {
            "action": "s3:PutObject",
            "requester_arn": "arn:aws:iam::444455556666:role/reader",
            "resource_arn": "arn:aws:s3:::acme-data/out/q2.csv",
        }
    )
    if copy_from is not None:
        read = Operation(
            action="s3:GetObject",
            resource_arn=f"arn:aws:s3:::{copy_from}/in/q2.csv",
            bucket=copy_from,
            key="in/q2.csv",
            role="source",
            kms_actions=("kms:Decrypt",),
        )
        write = replace(request.operations[0], role="destination")
        request = replace(request, operations=(read, write))
    return pipeline.diagnose(request, snapshot)


@pytest.mark.parametrize("copy_from", [None, "acme-source"])
def test_a_write_refused_the_managed_key_is_fixed_in_its_own_bucket(copy_from: str | None) -> None:
    """A copy's write refused by its destination's aws/s3 key: the advice named the copy's
    source bucket, whose objects it read without KMS, and to re-encrypt objects there."""
    finding = _written_under_the_managed_key(copy_from=copy_from)

    assert (finding.evaluations[-1].action, finding.evaluations[-1].resource_arn) == (
        "kms:GenerateDataKey",
        MANAGED_KEY,
    )
    [fix] = finding.remedies
    assert fix.code == RemedyCode.USE_CUSTOMER_MANAGED_KEY.value
    assert fix.target == "arn:aws:s3:::acme-data"
    assert "make it the default encryption of acme-data and have uploads that name a key" in (
        fix.summary
    )
    assert "acme-source" not in fix.summary and "onto themselves" not in fix.summary
