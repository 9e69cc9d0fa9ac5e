"""Engine throughput: decisions per second through the library and through the batch CLI.

Workload: one IAM user (2 groups, inline + managed policies, a boundary), a bucket policy and a
3-level SCP chain: 11 policies, 48 statements. Requests vary the key and the context. The
"no shape twice" rows give each request its own source IP, so the verdict cache never answers.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.engine_fixture import request, snapshot, statement_count
from chalicelib.engine import decide, evaluate
from chalicelib.model import AccessRequest
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import Snapshot, load_snapshot

ROOT = Path(__file__).resolve().parent.parent


def library(
    n: int,
    judge: Callable[[AccessRequest, Snapshot], object] = evaluate,
    *,
    distinct: bool = False,
) -> float:
    snap = load_snapshot(snapshot())
    requests = [request_from_runbook(request(i, distinct=distinct)) for i in range(n)]
    judge(requests[0], snap)  # compile once, outside the timing
    start = time.process_time()  # CPU time: other processes on the machine do not count
    for req in requests:
        judge(req, snap)
    return n / (time.process_time() - start)


def batch_cli(n: int, detail: str, *, distinct: bool = False) -> tuple[float, float]:
    """(decisions/s excluding start-up, start-up seconds) of `s3doctor diagnose --batch`."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "snapshot.json").write_text(json.dumps(snapshot()))
        empty = folder / "empty.jsonl"
        empty.write_text("")
        lines = folder / "requests.jsonl"
        lines.write_text(
            "".join(
                json.dumps({"id": i, "request": request(i, distinct=distinct)}) + "\n"
                for i in range(n)
            )
        )

        def run(path: Path) -> float:
            command = [
                sys.executable,
                "-m",
                "chalicelib.cli",
                "diagnose",
                "--snapshot",
                str(folder / "snapshot.json"),
                "--batch",
                str(path),
                "--detail",
                detail,
            ]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # CPU seconds of the child: one core's work, whatever else the machine is doing
            elapsed = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            if path == lines:
                answers = result.stdout.decode().splitlines()
                assert len(answers) == n, "every line gets an answer"
                assert all('"error"' not in a for a in answers[:50]), answers[:2]
            return elapsed

        startup = min(run(empty) for _ in range(2))
        total = run(lines)
        return n / max(total - startup, 1e-9), startup


def main() -> list[tuple[str, str]]:
    policies, statements = statement_count(snapshot())
    rows = [("workload", f"{policies} policies, {statements} statements, 1 principal")]
    rows.append(("library evaluate() (explained)", f"{library(20_000):,.0f} decisions/s"))
    rows.append(("library decide() (verdict only)", f"{library(20_000, decide):,.0f} decisions/s"))
    rate = library(20_000, decide, distinct=True)
    rows.append(("library decide(), no shape twice", f"{rate:,.0f} decisions/s"))
    rate, startup = batch_cli(50_000, "decision")
    rows.append(
        ("batch CLI --detail decision", f"{rate:,.0f} decisions/s (start-up {startup:.2f} s)")
    )
    rate, _ = batch_cli(20_000, "decision", distinct=True)
    rows.append(("batch CLI decision, no shape twice", f"{rate:,.0f} decisions/s"))
    rate, _ = batch_cli(2_000, "full")
    rows.append(("batch CLI full findings", f"{rate:,.0f} findings/s"))
    return rows


if __name__ == "__main__":
    for name, value in main():
        print(f"{name:36} {value}")
