"""`replay --output json` writes its document as `json.dumps(..., indent=2, sort_keys=True)`
would, its findings one at a time from where they wait: its memory does not grow with the
number of findings it shows."""

import contextlib
import json
import random
import re
import tracemalloc
from pathlib import Path

import pytest

from bench.bench_workloads import trail
from bench.engine_fixture import snapshot
from chalicelib.cli import main
from chalicelib.commands import replay
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


def test_the_html_report_of_a_large_replay_shows_its_newest_findings_and_says_so(
    tmp_path, snapshot_path, monkeypatch
):
    """A replay's page holds at most `REPORTED` findings (the newest: a page of a million rows
    would not open, and would be held whole in memory); the JSON document has them all."""
    monkeypatch.setattr(replay, "REPORTED", 12)
    records = trail(30)["Records"]
    random.Random(3).shuffle(records)  # the newest are found by time, not by their order
    events = tmp_path / "trail.json"
    events.write_text(json.dumps({"Records": records}))
    page = tmp_path / "report.html"
    out = tmp_path / "out.json"
    assert _replay_to_file(events, snapshot_path, out, "--html", str(page)) == 0
    assert len(json.loads(out.read_text())["findings"]) == 30
    html = page.read_text()
    shown = re.findall(r'<details class="row" data-id="([^"]+)"', html)
    newest = sorted(records, key=lambda r: r["eventTime"])[-12:]
    assert sorted(shown) == sorted(r["eventID"] for r in newest)
    assert "the newest 12 of its 30 findings" in html


def test_the_newest_findings_are_kept_by_time_then_order():
    from tests.functional.findings_fixtures import make_finding

    kept = replay.NewestFindings(3)
    times = ["2026-01-05", "2026-01-01", "2026-01-09", "2026-01-05", "2026-01-02", "2026-01-09"]
    for n, day in enumerate(times):
        kept.add(make_finding(f"f{n}", bucket="b", user="u", first_seen=f"{day}T00:00:00Z"))
    assert [f.finding_id for f in kept.findings()] == ["f3", "f2", "f5"]
    assert kept.seen == 6
