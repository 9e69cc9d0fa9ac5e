"""The alert budget on the findings table of a moto server: concurrent claims, windows, notices."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.publish.budget import DynamoAlertBudget, window_bounds
from chalicelib.publish.store import create_table
from tests.functional.serverless.conftest import REGION

WINDOW = timedelta(minutes=15)


@pytest.fixture
def budget(moto_env: pytest.MonkeyPatch) -> DynamoAlertBudget:
    client = boto3.Session(region_name=REGION).client("dynamodb")
    table = f"budget-{uuid.uuid4().hex[:8]}"
    create_table(client, table)
    return DynamoAlertBudget(table, client)


def test_concurrent_claims_grant_exactly_the_budget_and_count_the_rest(budget) -> None:
    start, end = window_bounds(datetime(2025, 3, 1, 10, 7, tzinfo=UTC), WINDOW)
    claims = []
    lock = threading.Lock()

    def claim() -> None:
        for _ in range(10):
            result = budget.claim("flooded", start=start, end=end, limit=10)
            with lock:
                claims.append(result)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(c.granted for c in claims) == 10
    refused = sorted(c.suppressed for c in claims if not c.granted)
    assert refused == list(range(1, 31))  # each suppressed alert counted once; one is first


def test_the_next_window_returns_the_last_windows_counts_once(budget) -> None:
    first = window_bounds(datetime(2025, 3, 1, 10, 7, tzinfo=UTC), WINDOW)
    later = window_bounds(datetime(2025, 3, 1, 11, 2, tzinfo=UTC), WINDOW)
    for _ in range(5):
        budget.claim("b", start=first[0], end=first[1], limit=2)

    opening = budget.claim("b", start=later[0], end=later[1], limit=2)
    second = budget.claim("b", start=later[0], end=later[1], limit=2)

    assert opening.granted and opening.previous is not None
    assert (opening.previous.start, opening.previous.end) == first
    assert (opening.previous.sent, opening.previous.suppressed) == (2, 3)
    assert second.granted and second.previous is None


def test_a_late_clock_counts_in_the_current_window(budget) -> None:
    now = window_bounds(datetime(2025, 3, 1, 11, 2, tzinfo=UTC), WINDOW)
    before = window_bounds(datetime(2025, 3, 1, 10, 58, tzinfo=UTC), WINDOW)
    budget.claim("b", start=now[0], end=now[1], limit=1)

    late = budget.claim("b", start=before[0], end=before[1], limit=1)

    assert not late.granted and late.suppressed == 1 and late.previous is None


def test_buckets_have_budgets_of_their_own(budget) -> None:
    start, end = window_bounds(datetime(2025, 3, 1, 10, 7, tzinfo=UTC), WINDOW)
    assert budget.claim("one", start=start, end=end, limit=1).granted
    assert budget.claim("two", start=start, end=end, limit=1).granted
    assert not budget.claim("one", start=start, end=end, limit=1).granted
