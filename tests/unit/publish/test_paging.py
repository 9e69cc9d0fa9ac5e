"""Page tokens resist tampering; filtered listings read a bounded number of findings per page
and their tokens resume exactly (no finding lost or repeated)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from chalicelib.model import InputError, Verdict
from chalicelib.publish.memory import InMemoryFindingStore
from chalicelib.publish.paging import decode_token, encode_token, read_budget
from chalicelib.publish.ports import FindingQuery
from tests.unit.publish.builders import build_finding


def _raw(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def test_a_token_round_trips_its_position() -> None:
    token = encode_token("recent", "2025-03-01T10:00:00Z#e-1")
    assert decode_token(token, "recent") == "2025-03-01T10:00:00Z#e-1"


@pytest.mark.parametrize(
    "token",
    [
        "not base64 !",
        _raw([1, 2]),
        _raw({"index": "recent"}),
        _raw({"index": "recent", "position": {"pk": {"S": "x"}}}),
        _raw({"index": "recent", "position": 12}),
        _raw({"index": "recent", "position": ""}),
        _raw({"index": "recent", "position": "x" * 1500}),
        base64.urlsafe_b64encode(b"[" * 1500).decode(),
        "A" * 5000,
        _raw({"index": "by-bucket", "position": "x"}),
    ],
)
def test_a_tampered_token_is_an_input_error_naming_next_token(token: str) -> None:
    with pytest.raises(InputError) as raised:
        decode_token(token, "recent")
    assert raised.value.field_path == "next_token"


@pytest.fixture
def store() -> InMemoryFindingStore:
    """200 findings, one minute apart; every 20th is allowed."""
    store = InMemoryFindingStore()
    for n in range(200):
        store.create(
            build_finding(
                f"e-{n:03d}",
                first_seen=f"2025-03-01T{n // 60:02d}:{n % 60:02d}:00Z",
                decision=Verdict.ALLOWED if n % 20 == 3 else Verdict.EXPLICIT_DENY,
            ),
            event_key=f"e-{n:03d}",
            aggregate_keys=(),
            window_end="2025-03-01T00:00:00Z",
        )
    return store


def _walk(store: InMemoryFindingStore, **filters: object) -> tuple[list[str], int]:
    ids: list[str] = []
    token, pages = None, 0
    while True:
        page = store.list(FindingQuery(next_token=token, **filters))  # type: ignore[arg-type]
        ids += [f.finding_id for f in page.findings]
        pages += 1
        token = page.next_token
        if token is None:
            return ids, pages


def test_a_filtered_page_stops_after_its_read_budget_with_a_token(store) -> None:
    page = store.list(FindingQuery(decision="allowed", limit=1))
    assert [f.finding_id for f in page.findings] == ["e-183"]
    # The next match is 20 findings further: within the budget of 25 reads.
    second = store.list(FindingQuery(decision="allowed", limit=1, next_token=page.next_token))
    assert [f.finding_id for f in second.findings] == ["e-163"]
    rare = store.list(FindingQuery(decision="implicit-deny", limit=1))
    assert rare.findings == ()
    assert rare.next_token is not None  # stopped after read_budget(1) findings, not at the end


def test_walking_a_filtered_listing_returns_every_match_once(store) -> None:
    ids, pages = _walk(store, decision="allowed", limit=1)
    assert ids == [f"e-{n:03d}" for n in range(183, -1, -20)]
    assert pages <= 200 // read_budget(1) + len(ids) + 1
    assert _walk(store, decision="implicit-deny", limit=3) == (
        [],
        -(-200 // read_budget(3)),
    )  # ceil


def test_walking_with_since_returns_the_newer_findings_once(store) -> None:
    since = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    ids, _ = _walk(store, since=since, limit=7)
    assert ids == [f"e-{n:03d}" for n in range(199, 119, -1)]


def test_tokens_after_resume_right_after_each_finding(store) -> None:
    page = store.list(FindingQuery(limit=10))
    assert len(page.tokens_after) == 10
    rest = store.list(FindingQuery(limit=10, next_token=page.tokens_after[3]))
    assert [f.finding_id for f in rest.findings] == [f"e-{n:03d}" for n in range(195, 185, -1)]
