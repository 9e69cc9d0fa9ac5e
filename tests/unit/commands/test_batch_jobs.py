"""`diagnose --batch --jobs N`: the same answers, in the same order, as one process gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from argparse import Namespace
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli import main
from chalicelib.commands import batch_workers, diagnose, forked_lines

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"


def _lines() -> list[bytes]:
    """A varied batch: every scenario's request on its own snapshot, events, requests the
    `--snapshot` snapshot answers, repeated lines, and lines that are errors."""
    out: list[bytes] = []
    scenarios = sorted(p for p in SCENARIOS.iterdir() if (p / "snapshot.json").is_file())
    for number, folder in enumerate(scenarios):
        snapshot = str(folder / "snapshot.json")
        if (folder / "request.json").is_file():
            request = json.loads((folder / "request.json").read_text())
            out.append(
                json.dumps({"id": number, "snapshot": snapshot, "request": request}).encode()
            )
        if (folder / "event.json").is_file():
            event = json.loads((folder / "event.json").read_text())
            out.append(
                json.dumps({"id": f"e{number}", "snapshot": snapshot, "event": event}).encode()
            )
    plain = json.loads(
        (SCENARIOS / "bucket-policy-deny-insecure-transport" / "request.json").read_text()
    )
    for i in range(120):  # the --snapshot snapshot; each its own key, some the same line
        key = f"reports/{i % 40}.csv"
        request = {**plain, "resource_arn": plain["resource_arn"].rsplit("/", 1)[0] + "/" + key}
        out.append(json.dumps({"id": 1000 + i % 50, "request": request}).encode())
    out += [b"{not json", b'{"id": "\xff"}', json.dumps({"id": "empty"}).encode()]
    out.append(
        json.dumps({"id": "bad-arn", "request": {**plain, "requester_arn": "alice"}}).encode()
    )
    return out


def _run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[bytes], *options: str
) -> tuple[int, str, str]:
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    snapshot = SCENARIOS / "bucket-policy-deny-insecure-transport" / "snapshot.json"
    code = main(["diagnose", "--snapshot", str(snapshot), "--batch", str(path), *options])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "options",
    [
        ("--detail", "full"),
        ("--detail", "decision"),
        ("--query", "{d: decision, c: causes[].code}"),
    ],
)
def test_several_processes_answer_as_one_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: tuple[str, ...]
) -> None:
    lines = _lines()
    one = _run(tmp_path, capsys, lines, *options)
    several = _run(tmp_path, capsys, lines, *options, "--jobs", "3")

    assert one[0] == 0 and one[2] == ""
    assert several == one  # the same text, line for line, in the same order
    answers = [json.loads(line) for line in one[1].splitlines()]
    assert len(answers) == len(lines)
    assert sum("error" in answer for answer in answers) >= 4
    assert len({json.dumps(a, sort_keys=True) for a in answers if "error" not in a}) > 20


def test_spawned_workers_answer_as_forked_ones_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS and Windows spawn the workers (each imports the package and reads the snapshot)."""
    lines = _lines()[:40] + _lines()[-6:]
    one = _run(tmp_path, capsys, lines)
    monkeypatch.setattr(batch_workers, "START_METHOD", "spawn")

    assert _run(tmp_path, capsys, lines, "--jobs", "2") == one


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--jobs", "-1"], "--jobs: expected 0 (one per CPU) or a positive count"),
        (["--jobs", "100000"], "CPUs), got 100000; 0 is one per CPU"),
        (["--request", "R.json", "--jobs", "2"], "--jobs: applies to --batch only"),
    ],
)
def test_a_bad_jobs_option_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text("{}\n")
    if argv[0] != "--request":
        argv = ["--batch", str(batch), *argv]
    code = main(["diagnose", "--snapshot", "S.json", *argv])

    assert code == 2
    assert message in capsys.readouterr().err


def _run_from_pipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[bytes], *options: str
) -> tuple[int, str, str]:
    """`_run` with the lines written into a named pipe (which the workers cannot read again)."""
    fifo, source = tmp_path / "lines.fifo", tmp_path / "lines.jsonl"
    os.mkfifo(fifo)
    source.write_bytes(b"".join(line + b"\n" for line in lines))
    # another process writes, as a producer piping into the command would (a thread here
    # would hold the pipe open in the forked workers too: it would never end)
    writer = subprocess.Popen(["sh", "-c", 'cat "$0" > "$1"', str(source), str(fifo)])
    snapshot = SCENARIOS / "bucket-policy-deny-insecure-transport" / "snapshot.json"
    try:
        code = main(["diagnose", "--snapshot", str(snapshot), "--batch", str(fifo), *options])
    finally:
        writer.wait(timeout=60)
    out, err = capsys.readouterr()
    return code, out, err


def test_lines_from_a_pipe_are_answered_by_workers_as_one_process_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines()
    one = _run(tmp_path, capsys, lines)

    assert _run_from_pipe(tmp_path, capsys, lines, "--jobs", "2") == one


def _stopping_at_line_70(monkeypatch: pytest.MonkeyPatch, stop: Callable[[], None]) -> None:
    """Lines are answered until line 70, where `stop()` runs (in a worker)."""
    answer_lines = diagnose._answers

    def stopping(lines: Iterator[tuple[int, bytes]], args: Any) -> Iterator[str]:
        def until_line_70() -> Iterator[tuple[int, bytes]]:
            for number, line in lines:
                if number == 70:
                    stop()
                yield number, line

        return answer_lines(until_line_70(), args)

    monkeypatch.setattr(diagnose, "_answers", stopping)


def _numbered_lines() -> list[bytes]:
    """200 lines of one request, with ids 1 to 200."""
    request = json.loads(
        (SCENARIOS / "bucket-policy-deny-insecure-transport" / "request.json").read_text()
    )
    return [json.dumps({"id": i, "request": request}).encode() for i in range(1, 201)]


def _answers_before_line_70(out: str) -> bool:
    """Whether `out` is the answers of lines 1, 2, 3... in order, none missing, and none
    from line 70 on."""
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    return ids == list(range(1, len(ids) + 1)) and len(ids) < 70


def _dies() -> None:
    os._exit(9)  # killed, out of memory...


def _fails() -> None:
    raise RuntimeError("the disk is on fire")


@pytest.mark.parametrize(
    ("stop", "source", "message"),
    [
        (_dies, "file", "a worker process of --jobs stopped without answering"),
        (_dies, "pipe", "a worker process of --jobs stopped without answering"),
        (_fails, "file", "a worker process of --jobs failed (RuntimeError: the disk is on fire)"),
    ],
    ids=["dies", "dies-pipe", "fails"],
)
def test_a_worker_that_stops_stops_the_batch_after_the_answers_before_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stop: Callable[[], None],
    source: str,
    message: str,
) -> None:
    """A worker that dies or fails mid-batch: the batch stops with an error that says so rather
    than waiting forever, and what it wrote is the answers of the first lines, in order."""
    _stopping_at_line_70(monkeypatch, stop)
    run = _run if source == "file" else _run_from_pipe

    code, out, err = run(tmp_path, capsys, _numbered_lines(), "--jobs", "3")

    assert code == 1
    assert message in err
    assert _answers_before_line_70(out)


def test_a_failed_worker_s_message_reaches_the_terminal_as_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error's text may quote a line (a key an outsider chose): controls, escapes and a line
    break of its own reach stderr escaped, on the one line of the error."""

    def fails_with_a_hostile_text() -> None:
        raise RuntimeError("key\x1b]0;owned\x07\nERROR fake second line\u202e")

    _stopping_at_line_70(monkeypatch, fails_with_a_hostile_text)

    code, _, err = _run(tmp_path, capsys, _numbered_lines(), "--jobs", "2")

    assert code == 1
    assert "a worker process of --jobs failed (RuntimeError: key" in err
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert err.count("\n") == 1 and err.endswith("\n")


def test_a_worker_whose_pipe_is_full_waits_and_nothing_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pipes of a page (the least Linux gives): every chunk's answers fill one, so each worker
    waits for the batch to read its answers, in the order of the lines."""
    lines = _lines() * 3
    one = _run(tmp_path, capsys, lines)
    monkeypatch.setattr(forked_lines, "PIPE_BYTES", 4096)

    assert _run(tmp_path, capsys, lines, "--jobs", "3") == one


def test_the_workers_end_when_the_batch_stops_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a batch answered by two workers, each noting its pid
    seen = _noting_pids(tmp_path, monkeypatch)
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in _lines() * 3))
    snapshot = SCENARIOS / "bucket-policy-deny-insecure-transport" / "snapshot.json"
    args = Namespace(snapshot=snapshot, batch=path, detail="full", query=None)
    blocks = forked_lines.answer_blocks(path, args, 2, diagnose._answers, diagnose._lines, chunk=16)
    # WHEN the batch takes the first line's answer and two chunks', then stops
    taken = [next(blocks) for _ in range(3)]
    blocks.close()
    # THEN both workers answered, and neither runs any more (each was waited for)
    assert [count for count, _ in taken] == [1, 16, 16]
    workers = set(_pids(seen)) - {os.getpid()}
    assert len(workers) == 2
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_on_a_slow_cpu_answers_fewer_chunks_and_nothing_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first worker to answer is slowed down (a CPU the machine gives less of): the other
    takes the chunks it would have waited for, where each had a fixed half; the answers are
    those of one process, in order."""
    lines = _lines() * 3
    one = _run(tmp_path, capsys, lines)
    seen = _noting_pids(tmp_path, monkeypatch)
    answers, slow = diagnose._answers, tmp_path / "slow"

    def slowed(lines: Iterator[Any], args: Any) -> Iterator[str]:
        is_slow: bool | None = None
        for answer in answers(lines, args):
            if is_slow is None and os.getpid() != parent:  # a worker's first answer
                try:
                    os.close(os.open(slow, os.O_CREAT | os.O_EXCL))
                    is_slow = True
                except FileExistsError:
                    is_slow = False
            if is_slow:
                time.sleep(0.02)
            yield answer

    parent = os.getpid()
    monkeypatch.setattr(diagnose, "_answers", slowed)

    assert _run(tmp_path, capsys, lines, "--jobs", "2") == one
    counts = _pids(seen)
    counts.pop(parent)
    slower, faster = sorted(counts.values())
    assert slower * 3 < faster and slower + faster == len(lines) - 1


def _noting_pids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file where the process that answers a line notes its pid, a line for each."""
    answers, seen = diagnose._answers, tmp_path / "pids"

    def noted(lines: Iterator[Any], args: Any) -> Iterator[str]:
        for answer in answers(lines, args):
            with seen.open("a") as file:
                file.write(f"{os.getpid()}\n")
            yield answer

    monkeypatch.setattr(diagnose, "_answers", noted)
    return seen


def _pids(seen: Path) -> Counter[int]:
    """The lines each process answered."""
    return Counter(int(pid) for pid in seen.read_text().split())


def _answered_by_workers(seen: Path, workers: int) -> bool:
    """Whether `workers` processes answered the lines, and this one the first line alone (it
    answers it before the workers start: with fork, they start with what it loaded)."""
    pids = _pids(seen)
    return pids.pop(os.getpid(), 0) <= 1 and len(pids) == workers


@pytest.mark.parametrize(
    ("threshold", "more", "spread"),
    [
        (1_000, [], True),
        (1 << 30, [], False),
        (1_000, ["--jobs", "1"], False),
        (1_000, ["--detail", "decision"], False),
    ],
    ids=["large-file", "small-file", "one-asked", "decisions"],
)
def test_a_large_file_of_full_findings_is_answered_by_workers_unasked(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    threshold: int,
    more: list[str],
    spread: bool,
) -> None:
    # GIVEN a batch file past the size from which full findings are spread, on 8 CPUs
    monkeypatch.setattr(diagnose, "AUTO_BATCH_BYTES", threshold)
    monkeypatch.setattr(batch_workers, "cpu_count", lambda: 8)
    seen = _noting_pids(tmp_path, monkeypatch)
    lines = _lines()
    # WHEN it is answered without --jobs (or with --jobs 1, or decisions alone)
    code, out, err = _run(tmp_path, capsys, lines, *more)
    # THEN past the size, AUTO_MAX workers answered, in the order of the lines; else the command
    assert code == 0, err
    if spread:
        assert _answered_by_workers(seen, batch_workers.AUTO_MAX)
    else:
        assert set(_pids(seen)) == {os.getpid()}
    assert len(out.splitlines()) == len(lines)


def test_a_pipe_is_never_spread_unasked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A program may write a line and wait for its answer: workers read lines ahead."""
    monkeypatch.setattr(diagnose, "AUTO_BATCH_BYTES", 0)
    fifo = tmp_path / "lines"
    os.mkfifo(fifo)
    regular = tmp_path / "batch.jsonl"
    regular.write_text("{}\n")
    unasked = Namespace(jobs=None, detail=None, snapshot=None)
    assert diagnose._batch_jobs(Namespace(**vars(unasked), batch=fifo)) == 1
    assert diagnose._batch_jobs(Namespace(**vars(unasked), batch=regular)) == (
        batch_workers.unasked_jobs()
    )
    assert diagnose._batch_jobs(Namespace(**vars(unasked), batch=tmp_path / "none")) == 1


def _memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(text)
    monkeypatch.setattr(batch_workers, "MEMINFO", meminfo)


@pytest.mark.parametrize(("copies", "workers"), [(2, 2), (0, 0), (9, batch_workers.AUTO_MAX)])
def test_workers_unasked_are_as_many_as_the_memory_holds_copies_of_the_snapshot(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    copies: int,
    workers: int,
) -> None:
    # GIVEN a large batch file on 8 CPUs, and memory for `copies` workers with the snapshot
    # loaded, in half of what is available
    snapshot = SCENARIOS / "bucket-policy-deny-insecure-transport" / "snapshot.json"
    worker = batch_workers.WORKER_BYTES + batch_workers.LOADED_PER_BYTE * snapshot.stat().st_size
    available = 2 * copies * worker + 2 * worker // 3
    _memory(tmp_path, monkeypatch, f"MemTotal: 99999999 kB\nMemAvailable: {available // 1024} kB\n")
    monkeypatch.setattr(diagnose, "AUTO_BATCH_BYTES", 1_000)
    monkeypatch.setattr(batch_workers, "cpu_count", lambda: 8)
    seen = _noting_pids(tmp_path, monkeypatch)
    lines = _lines()
    # WHEN it is answered without --jobs
    code, out, err = _run(tmp_path, capsys, lines)
    # THEN as many workers as fit answered (at most AUTO_MAX); none fit: the command itself
    assert code == 0, err
    if workers:
        assert _answered_by_workers(seen, workers)
    else:
        assert set(_pids(seen)) == {os.getpid()}
    assert len(out.splitlines()) == len(lines)


def test_workers_unasked_without_a_memory_figure_are_one_per_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_workers, "cpu_count", lambda: 3)
    snapshot = SCENARIOS / "bucket-policy-deny-insecure-transport" / "snapshot.json"
    _memory(tmp_path, monkeypatch, "MemTotal: 1 kB\nMemFree: 1 kB\n")  # no MemAvailable line
    assert batch_workers.unasked_jobs(snapshot) == 3
    _memory(tmp_path, monkeypatch, "MemAvailable: lots\n")
    assert batch_workers.unasked_jobs(snapshot) == 3
    monkeypatch.setattr(batch_workers, "MEMINFO", tmp_path / "absent")
    assert batch_workers.unasked_jobs(snapshot) == 3
    _memory(tmp_path, monkeypatch, "MemAvailable: 1 kB\n")
    assert batch_workers.unasked_jobs(snapshot) == 1
    assert batch_workers.unasked_jobs(None) == 3  # a live batch: no snapshot file to copy
    assert batch_workers.unasked_jobs(tmp_path / "no-such.json") == 3  # loading it says why


def _running_with(text: str) -> list[int]:
    """The processes whose command line holds `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("workers", [0, 2])
def test_ctrl_c_stops_the_batch_and_its_workers(tmp_path: Path, workers: int) -> None:
    # GIVEN a long batch answered by two workers (or the command alone), as a user runs it
    # in a terminal
    path = tmp_path / "long-batch.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in _lines() * 40))
    snapshot = SCENARIOS / "bucket-policy-deny-insecure-transport" / "snapshot.json"
    command = [sys.executable, "-m", "chalicelib.cli", "diagnose", "--snapshot", str(snapshot)]
    command += ["--batch", str(path), "--jobs", str(workers or 1)]
    batch = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    assert batch.stdout is not None
    first = b"".join(batch.stdout.readline() for _ in range(40))  # the workers' answers came
    assert len(_running_with(str(path))) == 1 + workers
    # WHEN Ctrl-C reaches the terminal's processes
    os.killpg(batch.pid, signal.SIGINT)
    rest = batch.stdout.read()  # (not `communicate`: it would skip what readline buffered)
    batch.wait(timeout=60)
    # THEN the command stops (130) with the answers of the first lines, in order, whole (the
    # interrupt waits for a write to end), and no worker is left running
    assert batch.returncode == 130
    written = (first + rest).decode().splitlines()
    assert 40 <= len(written) < 40 * len(_lines())
    assert written == _first_answers(path, snapshot, len(written))
    assert _running_with(str(path)) == []


def _first_answers(path: Path, snapshot: Path, n: int) -> list[str]:
    """The answers of the first `n` lines of `path`, as one process gives them."""
    args = Namespace(snapshot=snapshot, batch=path, detail="full", query=None)
    with path.open("rb") as handle:
        return list(islice(diagnose._answers(diagnose._lines(handle), args), n))
