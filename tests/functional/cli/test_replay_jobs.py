"""`replay --jobs N`: the same summary and the same findings, in the same order, as one process
gives; refused where the run must stay in order (the live account, `--store`)."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest

from bench.bench_workloads import trail
from bench.engine_fixture import snapshot
from chalicelib.cli import main
from chalicelib.commands import batch_workers

EVENTS = Path(__file__).resolve().parents[2] / "data" / "events"


def _files(tmp_path: Path) -> tuple[Path, Path]:
    """A snapshot and a log file: the bench's records (three kinds of denial), the tests'
    events (other buckets and accounts, records that are skipped or cannot be diagnosed), and
    a record of another service, shuffled."""
    records: list[Any] = trail(70)["Records"]
    for path in sorted(EVENTS.glob("*.json")):
        document = json.loads(path.read_text())
        records += document.get("Records", [document])
    records.append({**records[0], "eventSource": "ec2.amazonaws.com", "eventID": "other-1"})
    random.Random(7).shuffle(records)
    events = tmp_path / "trail.json"
    events.write_text(json.dumps({"Records": records}))
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    return snapshot_path, events


def _replay(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("output", ["text", "json"])
def test_workers_give_the_summary_and_findings_of_one_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    snapshot_path, events = _files(tmp_path)
    argv = ["--events", str(events), "--snapshot", str(snapshot_path), "--output", output]
    one = _replay(capsys, *argv)
    three = _replay(capsys, *argv, "--jobs", "3")
    assert one[0] == three[0] == 0
    assert three[1] == one[1]
    if output == "json":
        document = json.loads(one[1])
        assert document["diagnosed"] > 70 and document["skipped"]
        assert len(document["findings"]) == document["diagnosed"]


def test_spawned_workers_give_the_same_html_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot_path, events = _files(tmp_path)
    argv = ["--events", str(events), "--snapshot", str(snapshot_path)]
    assert _replay(capsys, *argv, "--html", str(tmp_path / "one.html"))[0] == 0
    monkeypatch.setattr(batch_workers, "START_METHOD", "spawn")
    assert _replay(capsys, *argv, "--html", str(tmp_path / "two.html"), "--jobs", "2")[0] == 0
    one, two = ((tmp_path / name).read_text() for name in ("one.html", "two.html"))
    assert _undated(two) == _undated(one)
    assert len(set(re.findall(r"00000000-0000-4000-8000-0000000000[0-9]{2}", one))) == 70


def _undated(report: str) -> str:
    """The report without the time it was written."""
    return re.sub(r"generated [0-9-]+ [0-9:]+Z", "generated", report)


@pytest.mark.parametrize(
    "extra",
    [
        [],  # the live account
        ["--snapshot", "S", "--store", "--table", "t"],
    ],
)
def test_jobs_is_refused_where_the_run_must_stay_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    snapshot_path, events = _files(tmp_path)
    extra = [str(snapshot_path) if arg == "S" else arg for arg in extra]
    code, out, err = _replay(capsys, "--events", str(events), *extra, "--jobs", "2")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "--jobs" in err and "--snapshot" in err


def test_a_bad_jobs_count_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snapshot_path, events = _files(tmp_path)
    argv = ["--events", str(events), "--snapshot", str(snapshot_path), "--jobs", "-1"]
    code, out, err = _replay(capsys, *argv)
    assert (code, out) == (2, "")
    assert "--jobs" in err and "-1" in err


def test_a_worker_that_dies_stops_the_replay_with_the_summary_of_what_was_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker killed mid-run (out of memory...) ends the replay as an AWS failure does: the
    summary of the events before it, where it stopped, what was left, and exit status 1."""
    from collections.abc import Iterator

    from chalicelib.commands import replay

    outcomes = replay.record_outcomes

    def dying(items: Iterator[tuple[int, Any]], args: Any) -> Iterator[Any]:
        def until_record_40() -> Iterator[tuple[int, Any]]:
            for number, record in items:
                if number == 40:
                    os._exit(9)
                yield number, record

        return outcomes(until_record_40(), args)

    monkeypatch.setattr(replay, "record_outcomes", dying)
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    events = tmp_path / "trail.json"
    events.write_text(json.dumps(trail(120)))
    argv = ["--events", str(events), "--snapshot", str(snapshot_path), "--jobs", "2"]

    code, out, err = _replay(capsys, *argv, "--output", "json")

    assert code == 1
    document = json.loads(out)
    stop = document["stopped"]
    assert "a worker process of --jobs stopped without answering" in stop["error"]
    done = document["diagnosed"]
    assert done < 40 and stop["not_handled"] == 120 - done  # the first, in order
    assert [f["event_id"] for f in document["findings"]] == [
        r["eventID"] for r in trail(120)["Records"][:done]
    ]
    assert stop["event"] == trail(120)["Records"][done]["eventID"]
    assert err.startswith(f"s3doctor replay: stopped at event {stop['event']}: ")

    code, out, err = _replay(capsys, *argv)  # the text summary (where it stops may differ)
    assert code == 1
    found = re.search(
        r"^(\d+) of 120 events diagnosed\.$.*^Stopped at event (\S+) by a worker that died: "
        r"a worker process of --jobs stopped without answering",
        out,
        re.MULTILINE | re.DOTALL,
    )
    assert found is not None, out
    done_text, stop_text = found.groups()
    assert stop_text == trail(120)["Records"][int(done_text)]["eventID"]


def _worker_pids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str
) -> set[int]:
    """The processes that diagnosed the replay's events in workers (none: one process)."""
    from collections.abc import Iterator

    from chalicelib.commands import replay

    outcomes, seen = replay.record_outcomes, tmp_path / "pids"

    def noted(items: Iterator[tuple[int, Any]], args: Any) -> Iterator[Any]:
        with seen.open("a") as file:
            file.write(f"{os.getpid()}\n")
        return outcomes(items, args)

    monkeypatch.setattr(replay, "record_outcomes", noted)
    code, _, err = _replay(capsys, *argv)
    assert code == 0, err
    return {int(pid) for pid in seen.read_text().split()} if seen.exists() else set()


@pytest.mark.parametrize(
    ("threshold", "more", "spread"),
    [(60, [], True), (200, [], False), (60, ["--jobs", "1"], False)],
    ids=["many", "few", "one-asked"],
)
def test_a_replay_of_many_events_takes_a_worker_per_cpu_unasked(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    threshold: int,
    more: list[str],
    spread: bool,
) -> None:
    # GIVEN some 80 events to diagnose against a snapshot, on a machine of 8 CPUs
    from chalicelib.commands import replay

    monkeypatch.setattr(replay, "AUTO_JOBS_FROM", threshold)
    monkeypatch.setattr(batch_workers, "cpu_count", lambda: 8)
    snapshot_path, events = _files(tmp_path)
    # WHEN they are replayed without --jobs (or with --jobs 1)
    argv = ["--events", str(events), "--snapshot", str(snapshot_path), *more]
    pids = _worker_pids(tmp_path, capsys, monkeypatch, *argv)
    # THEN from the threshold on, AUTO_MAX workers took them, and never the command itself
    if spread:
        assert len(pids) == batch_workers.AUTO_MAX and os.getpid() not in pids
    else:
        assert pids == set()


def test_a_live_or_stored_replay_is_never_spread_unasked() -> None:
    from argparse import Namespace

    from chalicelib.commands import replay

    many = replay.AUTO_JOBS_FROM
    offline = Namespace(snapshot=Path("S.json"), store=False)
    assert replay._auto_jobs(offline, many) == batch_workers.unasked_jobs()
    assert replay._auto_jobs(offline, many - 1) == 1
    assert replay._auto_jobs(Namespace(snapshot=None, store=False), many) == 1
    assert replay._auto_jobs(Namespace(snapshot=Path("S.json"), store=True), many) == 1


def test_a_replay_takes_no_more_workers_unasked_than_the_memory_holds_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argparse import Namespace

    from chalicelib.commands import replay

    # GIVEN 8 CPUs, a snapshot file, and memory for one loaded copy of it in half of the
    # available memory
    monkeypatch.setattr(batch_workers, "cpu_count", lambda: 8)
    snapshot_path, _events = _files(tmp_path)
    size = snapshot_path.stat().st_size
    worker = batch_workers.WORKER_BYTES + batch_workers.LOADED_PER_BYTE * size
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemAvailable: {3 * worker // 1024} kB\n")
    monkeypatch.setattr(batch_workers, "MEMINFO", meminfo)
    # WHEN a replay of many events against it is spread unasked
    jobs = replay._auto_jobs(Namespace(snapshot=snapshot_path, store=False), 10_000)
    # THEN one process diagnoses them
    assert jobs == 1
