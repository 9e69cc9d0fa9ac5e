"""SCPs and RCPs along the organization path, read through the organization-read role."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope
from chalicelib.snapshot import load_snapshot
from tests.functional.collect.conftest import (
    ACCOUNT,
    RCP_DENY,
    REGION,
    SCP_DENY,
    SeededOrganization,
    client,
    moto_clients,
    seed_organization,
)

ORG_READER = f"arn:aws:iam::{ACCOUNT}:role/org-reader"


def _collect(url: str, boto_session: boto3.Session | None = None, **kwargs: Any) -> dict[str, Any]:
    source = Boto3SnapshotSource(moto_clients(url, boto_session=boto_session), **kwargs)
    return source.collect(CollectionScope())


def _names(policies: list[dict[str, Any]]) -> dict[str, Any]:
    return {p["Name"]: json.loads(p["Content"]) for p in policies}


@pytest.fixture(scope="module")
def organization(moto_url: str) -> SeededOrganization:
    # an account in no organization has no SCP or RCP: the part is left out, not unreadable
    assert "organization" not in _collect(moto_url)
    return seed_organization(moto_url)


@pytest.fixture(scope="module")
def member_session(moto_url: str, organization: SeededOrganization) -> boto3.Session:
    """Credentials inside a member account of the organization."""
    org = client(moto_url, "organizations")
    status = org.create_account(Email="member@example.com", AccountName="member")
    member_id = status["CreateAccountStatus"]["AccountId"]
    credentials = client(moto_url, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{member_id}:role/OrganizationAccountAccessRole",
        RoleSessionName="test",
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def test_org_read_role_lists_scps_and_rcps_root_first_account_last(
    moto_url: str, organization: SeededOrganization
) -> None:
    doc = _collect(moto_url, org_read_role_arn=ORG_READER)

    part = doc["organization"]
    assert part["management_account_id"] == ACCOUNT
    root, ou, account = part["levels"]
    assert [root["target_id"], ou["target_id"], account["target_id"]] == [
        organization.root_id,
        organization.ou_id,
        ACCOUNT,
    ]
    # FullAWSAccess is attached everywhere by default, as in AWS
    assert set(_names(ou["scps"])) == {"FullAWSAccess", "NoBucketDeletes"}
    assert _names(ou["scps"])["NoBucketDeletes"] == SCP_DENY
    assert _names(root["rcps"])["TlsOnly"] == RCP_DENY
    assert "NoBucketDeletes" not in _names(root["scps"]) | _names(account["scps"])
    assert load_snapshot(doc).organization is not None


def test_management_account_reads_its_organization_without_a_role(
    moto_url: str, organization: SeededOrganization
) -> None:
    part = _collect(moto_url)["organization"]

    assert part["management_account_id"] == ACCOUNT
    assert _names(part["levels"][1]["scps"])["NoBucketDeletes"] == SCP_DENY


def test_member_account_without_a_role_marks_organization_not_configured(
    moto_url: str, member_session: boto3.Session
) -> None:
    part = _collect(moto_url, member_session)["organization"]

    assert part == {
        "$unreadable": "NotConfigured",
        "needs": "organizations:ListPoliciesForTarget (set ORG_READ_ROLE_ARN)",
    }


def test_member_account_with_a_role_reads_its_own_path(
    moto_url: str, organization: SeededOrganization, member_session: boto3.Session
) -> None:
    doc = _collect(moto_url, member_session, org_read_role_arn=ORG_READER)

    levels = doc["organization"]["levels"]
    assert levels[0]["target_id"] == organization.root_id
    assert levels[-1]["target_id"] == doc["account_id"] != ACCOUNT
    assert _names(levels[0]["rcps"])["TlsOnly"] == RCP_DENY
