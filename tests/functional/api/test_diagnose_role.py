"""`POST /diagnose` reads the account as DIAGNOSE_ROLE_ARN, never with the function's own role."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client

from app import app
from chalicelib import wiring
from tests.functional.api.conftest import REGION, Table

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")

ACCOUNT = "123456789012"  # moto's default account
USER = "diagnose-alice"
BUCKET = "diagnose-reports"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
REQUEST = {
    "requester_arn": f"arn:aws:iam::{ACCOUNT}:user/{USER}",
    "action": "s3:GetObject",
    "resource_arn": f"arn:aws:s3:::{BUCKET}/data.csv",
}


@pytest.fixture(scope="module")
def role_arn(moto_table: Table) -> str:
    session = boto3.Session(region_name=REGION)
    iam = session.client("iam", endpoint_url=moto_table.endpoint)
    iam.create_user(UserName=USER)
    session.client("s3", endpoint_url=moto_table.endpoint).create_bucket(Bucket=BUCKET)
    role = iam.create_role(RoleName="s3doctor-diagnose", AssumeRolePolicyDocument=json.dumps(TRUST))
    return role["Role"]["Arn"]


@pytest.fixture
def client(role_arn: str, configure):
    configure(DIAGNOSE_API="enabled", DIAGNOSE_ROLE_ARN=role_arn)
    with Client(app) as test_client:
        yield test_client


@pytest.fixture
def assumed(client) -> list[dict[str, Any]]:
    """The AssumeRole calls wiring makes, with their parameters."""
    calls: list[dict[str, Any]] = []
    wiring._client("sts").meta.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: calls.append(dict(params))
    )
    return calls


@pytest.fixture
def signed_with(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The access key of every request the diagnosis collectors send."""
    keys: list[str] = []
    original = wiring._on_collect_client

    def record(service: str, client: Any) -> None:
        original(service, client)
        client.meta.events.register(
            "before-send",
            lambda request, **_: keys.append(request.headers["Authorization"].decode()),
        )

    monkeypatch.setattr(wiring, "_on_collect_client", record)
    return keys


def _post(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.http.post(
        "/diagnose", headers={"Content-Type": "application/json"}, body=json.dumps(REQUEST)
    )
    return response.status_code, json.loads(response.body)


def test_diagnosis_reads_the_account_as_the_diagnose_role(client, assumed, signed_with):
    status, body = _post(client)
    assert status == 200, body
    assert body["detail"] == "references"
    assert "NO_ALLOW_IDENTITY" in [c["code"] for c in body["causes"]]
    assert [(c["RoleArn"], c["RoleSessionName"]) for c in assumed] == [
        (wiring.settings().diagnose_role_arn, "s3doctor-diagnose")
    ]
    # Every read was signed with the assumed role's temporary key, none with the function's.
    assert signed_with
    assert not any("Credential=testing/" in header for header in signed_with)


def test_credentials_are_reused_until_shortly_before_they_expire(client, assumed, monkeypatch):
    _post(client)
    _post(client)
    assert len(assumed) == 1
    _, expires = next(iter(wiring._DIAGNOSIS_SOURCES.values()))
    monkeypatch.setattr(wiring, "clock", lambda: expires - timedelta(minutes=1))
    assert _post(client)[0] == 200
    assert len(assumed) == 2


def test_a_role_that_cannot_be_assumed_is_a_503(configure, caplog):
    configure(DIAGNOSE_API="enabled", DIAGNOSE_ROLE_ARN="not-an-arn")
    with Client(app) as test_client:
        status, body = _post(test_client)
    assert (status, body["variable"]) == (503, "DIAGNOSE_ROLE_ARN")
    assert "DIAGNOSE_ROLE_ARN" in caplog.text
