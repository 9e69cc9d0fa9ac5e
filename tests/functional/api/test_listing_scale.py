"""Listings stay bounded on a big table: filtered pages read a bounded number of items, pages
stay under the response budget in bytes, and walking the tokens returns every finding once."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from chalice.test import Client

from app import app
from chalicelib import api, wiring
from chalicelib.model import Cause, Layer, Verdict
from tests.functional.api.conftest import CALLER_HEADER, Table
from tests.functional.findings_fixtures import make_finding

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")

STORED = 200
DENIED = tuple(range(7, STORED, 23))  # the few explicit denials, spread over the table
ADMIN = "arn:aws:iam::111122223333:user/admin"


def _finding_id(n: int) -> str:
    return f"f{n:04d}"


@pytest.fixture(scope="module")
def table(moto_table: Table) -> Table:
    store = moto_table.store()
    for n in range(STORED):
        finding = make_finding(
            _finding_id(n),
            bucket="reports" if n % 2 else "logs",
            user="alice",
            first_seen=f"2025-03-{1 + n // 100:02d}T{(n % 100) // 60:02d}:{(n % 100) % 60:02d}:00Z",
            decision=Verdict.EXPLICIT_DENY if n in DENIED else Verdict.IMPLICIT_DENY,
        )
        # Big at full detail (a message quoting policy text), small at references.
        cause = Cause(code="NO_ALLOW_IDENTITY", layer=Layer.IDENTITY_POLICY, message="x" * 5_000)
        store.create(
            replace(finding, causes=(cause,)),
            event_key=finding.finding_id,
            aggregate_keys=(),
            window_end="2025-03-01T00:00:00Z",
        )
    return moto_table


@pytest.fixture
def client(table: Table):
    with Client(app) as test_client:
        yield test_client


@pytest.fixture
def queries(client):
    """The DynamoDB Query calls the API makes, counted on its own client."""
    calls: list[str] = []
    events = wiring.dynamodb().meta.events
    handler = events.register("before-call.dynamodb.Query", lambda **_: calls.append("Query"))
    yield calls
    events.unregister("before-call.dynamodb.Query", handler)


def _walk(client, query: str, headers: dict[str, str] | None = None):
    """Every page of a listing: (finding ids, body sizes, requests made)."""
    ids: list[str] = []
    sizes: list[int] = []
    token, requests = None, 0
    while True:
        path = f"/findings?{query}" + (f"&next_token={token}" if token else "")
        response = client.http.get(path, headers=headers or {})
        assert response.status_code == 200, response.body
        body = json.loads(response.body)
        ids += [f["finding_id"] for f in body["findings"]]
        sizes.append(len(response.body))
        requests += 1
        token = body["next_token"]
        if token is None:
            return ids, sizes, requests
        assert requests < 1000


def test_a_filtered_page_reads_a_bounded_number_of_items(client, queries):
    # WHEN one page of explicit denials is asked for, on a table of 200 findings
    response = client.http.get("/findings?decision=explicit-deny&limit=1")
    # THEN it costs a few Query calls, not one per stored finding
    assert response.status_code == 200
    assert 1 <= len(queries) <= 2
    assert json.loads(response.body)["next_token"] is not None


def test_walking_a_filtered_listing_returns_every_match_once(client, queries):
    ids, _, requests = _walk(client, "decision=explicit-deny&limit=1")
    expected = sorted((_finding_id(n) for n in DENIED), reverse=True)
    assert ids == expected
    # Each request reads at most its budget: the whole walk is about one pass over the table.
    assert len(queries) <= 2 * requests
    assert requests <= STORED // 25 + len(DENIED) + 1


def test_walking_with_bucket_and_principal_filters_returns_every_match_once(client):
    query = "bucket=reports&principal=arn:aws:iam::111122223333:user/alice&limit=3"
    ids, _, _ = _walk(client, query)
    assert ids == sorted((_finding_id(n) for n in range(1, STORED, 2)), reverse=True)


def test_full_detail_pages_stop_at_the_byte_budget_and_resume_exactly(
    client, configure, monkeypatch
):
    # GIVEN a reader with full detail and a small response budget
    configure(FULL_DETAIL_PRINCIPALS=ADMIN)
    monkeypatch.setattr(api, "RESPONSE_BUDGET_BYTES", 30_000)
    # WHEN they walk every page of 20
    ids, sizes, requests = _walk(client, "limit=20", {CALLER_HEADER: ADMIN})
    # THEN every page fits the budget, and no finding is lost or repeated
    assert max(sizes) <= 30_000
    assert requests > STORED // 20
    assert ids == sorted((_finding_id(n) for n in range(STORED)), reverse=True)


def test_references_pages_are_small_and_full(client, monkeypatch):
    monkeypatch.setattr(api, "RESPONSE_BUDGET_BYTES", 300_000)
    response = client.http.get("/findings?limit=100")
    body = json.loads(response.body)
    assert len(body["findings"]) == 100
    assert len(response.body) <= 300_000
