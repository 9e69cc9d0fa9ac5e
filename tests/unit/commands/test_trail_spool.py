"""The records a replay will diagnose wait in a spool: a bounded memory whatever their number,
and each record read back equal to the one read from the trail, in order."""

import json
import tempfile
import tracemalloc
from collections.abc import Iterator

import pytest

from bench.engine_fixture import snapshot
from chalicelib.cli import main
from chalicelib.commands import replay
from chalicelib.commands.spool import Spool
from chalicelib.commands.trail import TrailRecord, TrailSpool


def _records(n: int) -> Iterator[TrailRecord]:
    """n S3 AccessDenied records of about 1.5 KB, each its own key, address and time."""
    for i in range(n):
        yield TrailRecord(
            origin=f"trail/file-{i // 100}.json.gz#{i % 100}",
            record={
                "eventVersion": "1.10",
                "eventSource": "s3.amazonaws.com",
                "eventName": "GetObject",
                "errorCode": "AccessDenied",
                "eventID": f"00000000-0000-4000-8000-{i:012d}",
                "eventTime": f"2026-12-{1 + i % 28:02d}T10:{i % 60:02d}:00Z",
                "sourceIPAddress": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111122223333:user/u{i}"},
                "requestParameters": {"bucketName": "b", "key": f"raw/{i}/" + "x" * 900},
                "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::b/raw/{i}"}],
            },
        )


def test_replay_holds_its_records_in_a_bounded_memory_whatever_their_number(monkeypatch):
    # GIVEN 6,000 denials to replay (some 30 MB as parsed records), a spool of 1 MB in memory
    monkeypatch.setattr(Spool, "MEMORY", 1 << 20)
    # WHEN replay sorts them out before the run
    tracemalloc.start()
    try:
        spool, skipped = replay._sorted_out(_records(6_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN it never held more than a few MB, and gives every record back, equal and in order
    with spool:
        assert peak < 4 << 20, f"{peak / 2**20:.1f} MB held"
        assert not skipped and len(spool) == 6_000
        assert all(a == b for a, b in zip(spool, _records(6_000), strict=True))
        assert [r.event_id for r in spool][:2] == [
            "00000000-0000-4000-8000-000000000000",
            "00000000-0000-4000-8000-000000000001",
        ]


@pytest.mark.parametrize("memory", [Spool.MEMORY, 1], ids=["in memory", "on disk"])
def test_records_come_back_equal_whatever_their_values_and_origins(monkeypatch, memory):
    monkeypatch.setattr(Spool, "MEMORY", memory)
    odd = [
        TrailRecord(origin='dir\nwith\tbreaks/"q".json#0', record={"eventID": "a\nb"}),
        TrailRecord(origin="caf\u00e9/\u2028/\U0001f600.json#1", record={"k": "\u2029\x00\x1b[2J"}),
        TrailRecord(origin="undecodable-\udcff.json#2", record={"key": "lone \ud800 surrogate"}),
        TrailRecord(
            origin="numbers.json#3",
            record={"big": 2**80, "neg": -0.0, "f": 1e-300, "list": [None, True, [], {}], "": ""},
        ),
    ]
    with TrailSpool() as spool:
        for item in odd:
            spool.add(item)
        assert list(spool) == odd
        assert list(spool) == odd  # read again from the start


def test_a_spool_without_room_stops_the_replay_with_one_line_before_any_work(
    tmp_path, monkeypatch, capsys
):
    # GIVEN a temporary folder that does not exist, and records that overflow the memory part
    monkeypatch.setattr(Spool, "MEMORY", 1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    events = tmp_path / "trail.json"
    events.write_text(json.dumps({"Records": [r.record for r in _records(3)]}))
    # WHEN the replay runs
    code = main(["replay", "--events", str(events), "--snapshot", str(snapshot_path)])
    # THEN it fails with one line that says what to do, and no summary
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("s3doctor replay: cannot keep what the run collects in a temporary file")
    assert "TMPDIR" in line
