"""No answer passes Lambda's 6 MB response payload: a stored finding is compressed, so one item
under DynamoDB's 400 KB can hold many megabytes of patches; a `full` reader gets it shortened,
with a `truncated` marker, instead of API Gateway's 502."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from chalice.test import Client

from app import app
from chalicelib.model import Remedy
from tests.functional.api.conftest import CALLER_HEADER, Table
from tests.functional.findings_fixtures import make_finding

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")

ADMIN = "arn:aws:iam::111122223333:user/admin"
LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": f"Read{i}",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::reports/team-{i}/*",
        }
        for i in range(200)
    ],
}


@pytest.fixture(scope="module")
def big(moto_table: Table) -> Table:
    """One finding of about 6.2 MB of JSON (300 whole-policy patches), stored compressed."""
    finding = make_finding("big", bucket="reports", user="alice", first_seen="2025-03-04T10:00:00Z")
    remedies = tuple(
        Remedy(code="ADD_IDENTITY_ALLOW", target=f"policy-{i}", summary="Allow it", patch=POLICY)
        for i in range(300)
    )
    finding = replace(finding, remedies=remedies)
    assert len(json.dumps(finding.to_dict())) > LAMBDA_PAYLOAD_BYTES
    moto_table.store().create(
        finding, event_key="big", aggregate_keys=(), window_end="2025-03-04T10:00:00Z"
    )
    return moto_table


@pytest.fixture
def client(big: Table, configure):
    configure(FULL_DETAIL_PRINCIPALS=ADMIN)
    with Client(app) as test_client:
        yield test_client


def _payload(response) -> int:
    """The size of Lambda's answer: the body travels as a JSON string inside it."""
    return len(json.dumps({"statusCode": 200, "body": response.body.decode()}))


@pytest.mark.parametrize("path", ["/findings/big", "/findings", "/findings?bucket=reports"])
def test_a_huge_finding_is_shortened_to_fit_the_lambda_response(client, path):
    # WHEN a full-detail reader gets or lists a finding of 6 MB of patches
    response = client.http.get(path, headers={CALLER_HEADER: ADMIN})
    # THEN the answer fits Lambda's payload, and the finding says what it lost
    assert response.status_code == 200
    assert _payload(response) <= LAMBDA_PAYLOAD_BYTES
    body = json.loads(response.body)
    finding = body if path == "/findings/big" else body["findings"][0]
    assert finding["finding_id"] == "big"
    assert (finding["detail"], finding["account"]) == ("full", "111122223333")
    assert "remedies.patch" in finding["truncated"]
    assert [r["target"] for r in finding["remedies"]][:2] == ["policy-0", "policy-1"]
