"""The collector maps each alias it reads a key by (an SSE header's, a bucket default's) to the
key's ARN (`kms.aliases`), so the diagnosis judges the key a request names by alias."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope
from chalicelib.model import Verdict
from chalicelib.pipeline import diagnose
from chalicelib.request import request_from_runbook
from tests.functional.collect.conftest import ACCOUNT, client, moto_clients

REGION = "us-east-1"
BUCKET = "alias-bucket"


@pytest.fixture(scope="module")
def keys(moto_url: str) -> tuple[str, str]:
    """A key with two aliases: `alias/uploads` (the bucket default) and `alias/reports`."""
    kms = client(moto_url, "kms")
    key = kms.create_key(Description="uploads")["KeyMetadata"]["Arn"]
    other = kms.create_key(Description="reports")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/uploads", TargetKeyId=key)
    kms.create_alias(AliasName="alias/reports", TargetKeyId=other)
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/uploads",
                    }
                }
            ]
        },
    )
    return key, other


def _collect(url: str, scope: CollectionScope) -> dict[str, Any]:
    doc: dict[str, Any] = Boto3SnapshotSource(moto_clients(url)).collect(scope)
    return doc


def alias_arn(name: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/{name}"


def test_a_key_read_by_alias_or_alias_arn_maps_the_alias_to_its_key(
    moto_url: str, keys: tuple[str, str]
) -> None:
    key, other = keys

    doc = _collect(
        moto_url, CollectionScope(buckets=(BUCKET,), kms_key_ids=(alias_arn("reports"),))
    )

    assert doc["kms"]["aliases"] == {alias_arn("uploads"): key, alias_arn("reports"): other}
    assert set(doc["kms"]["keys"]) == {key, other}


def test_a_key_read_by_arn_maps_no_alias(moto_url: str, keys: tuple[str, str]) -> None:
    key, _ = keys

    doc = _collect(moto_url, CollectionScope(kms_key_ids=(key,)))

    assert "aliases" not in doc["kms"]


def test_an_upload_naming_the_default_key_by_alias_is_judged_on_the_collected_key(
    moto_url: str, keys: tuple[str, str]
) -> None:
    """moto's default key policy delegates to IAM: the root user's upload is allowed, where the
    KMS call was left unchecked (the alias "not in the snapshot")."""
    doc = _collect(moto_url, CollectionScope(buckets=(BUCKET,)))
    request = request_from_runbook(
        {
            "requester_arn": f"arn:aws:iam::{ACCOUNT}:root",
            "action": "s3:PutObject",
            "resource_arn": f"arn:aws:s3:::{BUCKET}/in/file.csv",
        }
    )

    finding = diagnose(request, doc)

    assert finding.decision is Verdict.ALLOWED, finding.unchecked
    [leg] = [e for e in finding.evaluations if e.action.startswith("kms:")]
    assert leg.resource_arn == keys[0]
