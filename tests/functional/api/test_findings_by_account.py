"""Issue 14.4: `GET /findings?account=`."""

import json

import pytest
from chalice.test import Client

from app import app
from tests.functional.findings_fixtures import ACCOUNT, FINDINGS, findings_table  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")


@pytest.fixture
def client(findings_table):  # noqa: F811
    with Client(app) as test_client:
        yield test_client


def _get(client, path):
    response = client.http.get(path)
    return response.status_code, json.loads(response.body)


def test_list_by_account(client):
    status, body = _get(client, f"/findings?account={ACCOUNT}")
    assert status == 200
    assert [f["finding_id"] for f in body["findings"]] == [f.finding_id for f in FINDINGS]
    assert {f["account"] for f in body["findings"]} == {ACCOUNT}
    status, body = _get(client, "/findings?account=444455556666")
    assert (status, body["findings"]) == (200, [])


def test_list_pages_by_account(client):
    status, first = _get(client, f"/findings?account={ACCOUNT}&limit=1")
    assert status == 200 and first["next_token"]
    status, second = _get(
        client, f"/findings?account={ACCOUNT}&limit=1&next_token={first['next_token']}"
    )
    assert status == 200
    assert second["findings"][0]["finding_id"] == FINDINGS[1].finding_id
    status, body = _get(client, f"/findings?bucket=reports&next_token={first['next_token']}")
    assert (status, body["parameter"]) == (400, "next_token")


def test_a_bad_account_is_a_400_naming_it(client):
    status, body = _get(client, "/findings?account=not-an-account")
    assert (status, body["parameter"]) == (400, "account")
