"""Progress on stderr: tqdm's bar with rate and ETA on a terminal, nothing at all on a pipe."""

import io
import time

from chalicelib.commands import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_on_a_terminal_shows_count_rate_and_eta():
    terminal = Terminal()
    with progress.bar(3, desc="replay", unit="event", stream=terminal) as bar:
        for _ in range(3):
            bar.advance()
    out = terminal.getvalue()
    assert bar.done == 3
    assert "replay" in out and "3/3" in out
    assert "event/s" in out  # the rate
    assert "<" in out  # tqdm's [elapsed<remaining] (the ETA)


def test_a_bar_on_a_pipe_writes_nothing_but_still_counts():
    pipe = io.StringIO()
    with progress.bar(3, desc="replay", unit="event", stream=pipe) as bar:
        for _ in range(3):
            bar.advance()
    assert bar.done == 3 and not bar.drawing
    assert pipe.getvalue() == ""


def test_a_bar_with_an_unknown_total_shows_the_rate():
    terminal = Terminal()
    with progress.bar(None, desc="diagnose", unit="request", stream=terminal) as bar:
        bar.advance(5)
    assert "5request" in terminal.getvalue() and "request/s" in terminal.getvalue()


def test_report_follows_a_hook_whose_total_grows():
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with progress.bar(None, desc="collect", unit="read", stream=stream) as bar:
            bar.report(1, 2)
            bar.report(2, 5)  # an answer named three more reads
            bar.report(5, 5)
        assert bar.done == 5
    assert "collect" in terminal.getvalue() and "5/5" in terminal.getvalue()
    assert "read/s" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_lines_bar_counts_non_blank_lines_and_rewinds(tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b'{"id": 1}\n\n{"id": 2}\n')
    terminal = Terminal()
    with (
        path.open("rb") as handle,
        progress.lines_bar(handle, desc="diagnose", stream=terminal) as bar,
    ):
        assert handle.read() == path.read_bytes()  # rewound for the caller
        bar.advance(2)
    assert "2/2" in terminal.getvalue()


def test_lines_bar_is_silent_when_disabled_or_on_a_pipe(tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"{}\n")
    terminal, pipe = Terminal(), io.StringIO()
    with path.open("rb") as handle:
        with progress.lines_bar(handle, desc="d", stream=terminal, enabled=False) as bar:
            bar.advance()
        with progress.lines_bar(handle, desc="d", stream=pipe) as bar:
            bar.advance()
    assert terminal.getvalue() == "" and pipe.getvalue() == ""


def test_waiting_ticks_the_elapsed_time_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(progress, "TICK_SECONDS", 0.01)
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        with progress.waiting("collect", stream=stream):
            time.sleep(0.05)
    assert "collect: 00:0" in terminal.getvalue()
    assert terminal.getvalue().count("collect") >= 2  # redrawn while waiting
    assert pipe.getvalue() == ""


def _run_with_stderr(argv, *, tty):
    """Run the console script with stderr on a pseudo-terminal (tty) or a pipe."""
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "s3doctor"
    if not tty:
        result = subprocess.run([str(script), *argv], capture_output=True, check=True)
        return result.stdout, result.stderr
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [str(script), *argv], stdout=subprocess.PIPE, stderr=follower, check=True
        )
        os.close(follower)
        err = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(leader)
    return result.stdout, err


def test_a_full_findings_batch_shows_progress_on_a_terminal_and_nothing_on_a_pipe(tmp_path):
    import json
    from pathlib import Path

    scenario = Path(__file__).resolve().parents[2] / "data/scenarios/no-identity-allow"
    request = json.loads((scenario / "request.json").read_text())
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"id": n, "request": request}) + "\n" for n in range(3)))
    argv = ["diagnose", "--snapshot", str(scenario / "snapshot.json"), "--batch", str(batch)]
    out_tty, err_tty = _run_with_stderr(argv, tty=True)
    out_pipe, err_pipe = _run_with_stderr(argv, tty=False)
    assert b"diagnose" in err_tty and b"3/3" in err_tty and b"request/s" in err_tty
    assert err_pipe == b""
    assert out_tty == out_pipe and len(out_pipe.splitlines()) == 3  # answers are unchanged
    _, err_decision = _run_with_stderr([*argv, "--detail", "decision"], tty=True)
    assert b"request/s" not in err_decision  # the fast mode stays silent


def test_a_replay_shows_its_reading_then_its_events_on_a_terminal_and_nothing_on_a_pipe(
    tmp_path,
):
    """Reading a trail of many files takes a while before the first event is diagnosed."""
    import json

    from bench.bench_workloads import trail
    from bench.engine_fixture import snapshot

    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    events = tmp_path / "trail.json"
    events.write_text(json.dumps(trail(4)))
    argv = ["replay", "--events", str(events), "--snapshot", str(snapshot_path)]
    out_tty, err_tty = _run_with_stderr(argv, tty=True)
    out_pipe, err_pipe = _run_with_stderr(argv, tty=False)
    assert b"reading events: 00:0" in err_tty
    assert b"4/4" in err_tty and b"event/s" in err_tty
    assert err_pipe == b""
    assert out_tty == out_pipe and b"4 of 4 events diagnosed." in out_pipe
