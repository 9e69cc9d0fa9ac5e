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


def _broken_trail(tmp_path: Path, n: int) -> Path:
    """n denials and, among them, 2n records too broken to diagnose: n without a userIdentity,
    and n each with its own reason (a role session ARN that is none, which the message
    quotes)."""
    records = trail(n)["Records"]
    for i in range(n):
        base = records[i]
        account = base["recipientAccountId"]
        arn = f"arn:aws:iam::{account}:user/odd-{i}\n1. FIX"
        odd = {"type": "AssumedRole", "arn": arn, "accountId": account}
        records += [
            {**base, "eventID": f"no-identity-{i}", "userIdentity": None},
            {**base, "eventID": f"odd-{i}", "userIdentity": odd},
        ]
    random.Random(7).shuffle(records)
    events = tmp_path / "trail.json"
    events.write_text(json.dumps({"Records": records}))
    return events


def test_a_replay_with_many_errors_summarises_them_by_reason(tmp_path, snapshot_path, capsys):
    # GIVEN a trail of 30 denials and 60 records that cannot be diagnosed, for 31 reasons
    events = _broken_trail(tmp_path, 30)
    argv = ["replay", "--events", str(events), "--snapshot", str(snapshot_path)]
    # WHEN it is replayed with the text summary
    assert main(argv) == 0
    out = capsys.readouterr().out
    # THEN the summary counts them by reason, most common first, with their first events
    lines = out.split("Could not diagnose 60, by reason (--output json lists every event):\n")[1]
    lines = lines.splitlines()
    assert len(lines) == replay.TOP_REASONS + 1
    counts = [int(line.split()[0]) for line in lines[: replay.TOP_REASONS]]
    assert counts[0] == 30 and set(counts[1:]) == {1}
    named = re.findall(r"\(e\.g\. ([^)]*)\)$", lines[0])[0].split(", ")
    assert len(named) == replay.EXAMPLES and len(set(named)) == replay.EXAMPLES
    assert lines[-1] == "  and 21 more events, for 21 other reasons"
    assert not [line for line in lines if line.lstrip().startswith("1. FIX")]
    # AND the JSON document still lists every one, on disk as in memory, with workers too
    document = json.loads(_json_of(argv, capsys))
    assert len(document["errors"]) == 60 and document["diagnosed"] == 30
    assert {e["event"] for e in document["errors"]} >= {f"odd-{i}" for i in range(30)}


def _json_of(argv: list[str], capsys) -> str:
    """`argv --output json`'s document, the same in memory, past `Spool.MEMORY` and with
    `--jobs 2`."""
    assert main([*argv, "--output", "json"]) == 0
    in_memory = capsys.readouterr().out
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Spool, "MEMORY", 1)
        assert main([*argv, "--output", "json", "--jobs", "2"]) == 0
    assert capsys.readouterr().out == in_memory
    assert in_memory == json.dumps(json.loads(in_memory), indent=2, sort_keys=True) + "\n"
    return in_memory


def test_a_few_errors_are_each_listed(tmp_path, snapshot_path, capsys):
    events = _broken_trail(tmp_path, 10)  # 20 errors: at most `LISTED`
    assert main(["replay", "--events", str(events), "--snapshot", str(snapshot_path)]) == 0
    listed = capsys.readouterr().out.split("Could not diagnose 20:\n")[1].splitlines()
    assert len(listed) == 20 and sum(line.startswith("  odd-") for line in listed) == 10


def test_the_errors_a_replay_keeps_do_not_grow_with_them():
    """A trail whose every record fails for its own reason: the tally keeps `LISTED` events,
    `REASONS` reasons and `EXAMPLES` events a reason, and its summary stays short."""
    tally = replay.ErrorTally()
    for i in range(3 * replay.REASONS):
        tally.add(f"event-{i}", f"reason {i}" if i % 2 else "the same reason")
    assert tally.count == 3 * replay.REASONS
    assert len(tally.first) == replay.LISTED and len(tally.by_reason) == replay.REASONS
    same = tally.by_reason["the same reason"]
    assert (same.count, same.events) == (1500, ["event-0", "event-2", "event-4"])
    assert tally.other == 3 * replay.REASONS - 1500 - (replay.REASONS - 1)
    summary = replay.ReplaySummary(errors=tally)
    lines = replay.render_summary(summary, stored=False).split("by reason")[1].splitlines()
    assert len(lines) == replay.TOP_REASONS + 2
    assert lines[-1] == "  and 1491 more events, for more than 990 other reasons"
