"""`replay --output json` writes its document as `json.dumps(..., indent=2, sort_keys=True)`
would, its findings one at a time from where they wait: its memory does not grow with the
number of findings it shows."""

import contextlib
import json
import tracemalloc
from pathlib import Path

import pytest

from bench.bench_workloads import trail
from bench.engine_fixture import snapshot
from chalicelib.cli import main
from chalicelib.commands.spool import Spool


def _tree(folder: Path, n: int, *, per_file: int = 50) -> Path:
    """n denials as a trail tree of small log files (CloudTrail writes one every 5 minutes)."""
    folder.mkdir()
    records = trail(n)["Records"]
    for start in range(0, n, per_file):
        document = {"Records": records[start : start + per_file]}
        (folder / f"log-{start:06d}.json").write_text(json.dumps(document))
    return folder


@pytest.fixture
def snapshot_path(tmp_path: Path) -> Path:
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot()))
    return path


def _replay_to_file(events: Path, snapshot_path: Path, out: Path, *more: str) -> int:
    argv = ["replay", "--events", str(events), "--snapshot", str(snapshot_path), *more]
    with out.open("w") as sink, contextlib.redirect_stdout(sink):
        return main([*argv, "--output", "json"])


def test_the_json_output_holds_no_finding_it_has_shown(tmp_path, snapshot_path, monkeypatch):
    # GIVEN two trails, of 100 and of 400 denials, and a spool of 64 KB in memory
    monkeypatch.setattr(Spool, "MEMORY", 64 << 10)
    small, large = _tree(tmp_path / "small", 100), _tree(tmp_path / "large", 400)
    out = tmp_path / "out.json"
    _replay_to_file(_tree(tmp_path / "warm", 10), snapshot_path, out)  # modules loaded
    peaks = []
    for events in (small, large):
        tracemalloc.start()
        try:
            # WHEN each is replayed with --output json
            assert _replay_to_file(events, snapshot_path, out) == 0
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # THEN the 300 more findings (some 14 KB of text each) took no more than a few MB
    growth = (peaks[1] - peaks[0]) / 2**20
    assert growth < 4, f"{growth:.1f} MB more for 300 more findings"
    document = json.loads(out.read_text())
    assert document["diagnosed"] == len(document["findings"]) == 400


@pytest.mark.parametrize(
    "more", [(), ("--jobs", "2"), ("--html", "report.html")], ids=["texts", "jobs", "html"]
)
def test_the_json_document_is_what_json_dumps_writes(tmp_path, snapshot_path, more):
    """The findings are written one at a time (texts from workers, or made from the findings
    the HTML report keeps): the document is still `json.dumps(document, indent=2,
    sort_keys=True)`, errors, skipped records and hostile keys included."""
    records = trail(12)["Records"]
    records[3]["requestParameters"]["key"] = 'evil\n  "findings": [],\u2028\x1b[2J'
    records[5] = {**records[5], "userIdentity": "not an object"}  # an error
    records.append({**records[0], "eventSource": "ec2.amazonaws.com"})  # skipped
    events = tmp_path / "trail.json"
    events.write_text(json.dumps({"Records": records}))
    out = tmp_path / "out.json"
    more = tuple(str(tmp_path / m) if m.endswith(".html") else m for m in more)
    assert _replay_to_file(events, snapshot_path, out, *more) == 0
    text = out.read_text()
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert len(document["findings"]) == document["diagnosed"] == 11
    assert len(document["errors"]) == 1 and document["skipped"] == {"other-service": 1}
    resources = {f["request"]["resource_arn"] for f in document["findings"]}
    assert 'arn:aws:s3:::acme-data-lake-prod/evil\n  "findings": [],\u2028\x1b[2J' in resources


def test_a_json_document_without_findings_is_what_json_dumps_writes(tmp_path, snapshot_path):
    events = tmp_path / "trail.json"
    events.write_text(json.dumps({"Records": [{**trail(1)["Records"][0], "errorCode": None}]}))
    out = tmp_path / "out.json"
    assert _replay_to_file(events, snapshot_path, out) == 0
    text = out.read_text()
    document = json.loads(text)
    assert document["findings"] == [] and document["diagnosed"] == 0
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"
