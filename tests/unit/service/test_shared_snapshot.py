"""A snapshot file is loaded once for every event of a replay (`FileSnapshotSource.loaded_for`),
so what the engine compiles and remembers for one event serves the next, as in a batch (issue
15: a replay recompiled every policy for every event, 4x slower than the same events through
`diagnose --batch`). Each finding must be the one a freshly loaded snapshot gives, whatever came
before: events of every kind and outcome, varied keys, source IPs and times, interleaved, and
events on buckets and accounts the snapshot does not hold; and it is seen when its event
happened."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bench_workloads import trail
from bench.engine_fixture import snapshot
from chalicelib import service
from chalicelib.collect.file import FileSnapshotSource
from chalicelib.events import parse_event
from chalicelib.model import AccessRequest, InputError, Json

EVENTS = Path(__file__).resolve().parents[2] / "data" / "events"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _records() -> list[Json]:
    """The bench's replay records, varied (another user, no TLS details, other keys and
    calls), then the tests' events (other buckets and accounts), shuffled."""
    ours = trail(60)["Records"]
    for i, record in enumerate(ours):
        if i % 5 == 0:
            record["userIdentity"] = {**record["userIdentity"], "userName": "bob"}
            record["userIdentity"]["arn"] = record["userIdentity"]["arn"].replace("alice", "bob")
        if i % 4 == 0:
            del record["tlsDetails"]
        if i % 7 == 0:
            record["requestParameters"]["key"] = f"home/alice/notes-{i}.txt"
            record["eventName"] = "GetObject"
    theirs = []
    for path in sorted(EVENTS.glob("*.json")):
        document: Any = json.loads(path.read_text())
        theirs += document.get("Records", [document])
    records = ours + theirs
    random.Random(15).shuffle(records)
    return records


class _Fresh:
    """The snapshot file read afresh for each request, loaded by the service each time."""

    def __init__(self, path: Path) -> None:
        self._file = FileSnapshotSource(path)

    def snapshot_for(self, request: AccessRequest) -> Json:
        return self._file.snapshot_for(request)


def test_each_event_gets_the_finding_of_a_freshly_loaded_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot()))
    shared = FileSnapshotSource(path)
    compared = 0
    for record in _records():
        try:
            request = parse_event(record)
        except InputError:
            continue
        got = service.diagnose_request(request, source=shared, clock=lambda: NOW)
        want = service.diagnose_request(request, source=_Fresh(path), clock=lambda: NOW)
        assert got.to_dict() == want.to_dict(), record.get("eventID")
        compared += 1
    assert compared > 80
    assert shared.loaded_for(request) is shared.loaded_for(request)


def test_a_replayed_finding_is_seen_when_its_event_happened(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot()))
    record = trail(4)["Records"][3]
    request = parse_event(record)
    finding = service.diagnose_request(request, source=FileSnapshotSource(path), clock=lambda: NOW)
    assert finding.first_seen == finding.last_seen == record["eventTime"]
    assert record["eventTime"].startswith("2025-")
    undated = service.diagnose_request(
        AccessRequest(**{**_fields(request), "event_time": None}),
        source=FileSnapshotSource(path),
        clock=lambda: NOW,
    )
    assert undated.first_seen == "2026-12-06T12:00:00Z"


def _fields(request: AccessRequest) -> dict[str, Any]:
    return {name: getattr(request, name) for name in request.__slots__}  # type: ignore[attr-defined]
