"""Profile of the full-findings workload of `bench_workloads` (issue 15), in process.

`python -m bench.profile_findings [N]`: loads the engine fixture's snapshot once, then runs
`pipeline.diagnose(...).to_dict()` on N replay-like requests (default 2,000) under cProfile and
prints the top functions by cumulative and own time. `--denied`: every request is denied for want
of a grant (s3:DeleteObject, or s3:GetObject under `secret/`), so each finding verifies policy
patches (identity grants, near-miss fixes) against patched snapshots.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from typing import Any

from bench.bench_workloads import request
from bench.engine_fixture import BUCKET, snapshot
from chalicelib import pipeline
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot


def denied(i: int) -> dict[str, Any]:
    """Replay-like request i, denied for want of a grant (policy patches are verified)."""
    line = request(i, replay=True)
    if i % 2:
        line["action"] = "s3:DeleteObject"
    else:
        line["resource_arn"] = f"arn:aws:s3:::{BUCKET}/secret/{i % 5}/file-{i}.bin"
    return line


def run(n: int, *, deny: bool = False) -> float:
    """CPU seconds of n findings on one loaded snapshot."""
    loaded = load_snapshot(snapshot())
    lines = [denied(i) if deny else request(i, replay=True) for i in range(n)]
    requests = [request_from_runbook(line) for line in lines]
    start = time.process_time()
    for req in requests:
        pipeline.diagnose(req, loaded).to_dict()
    return time.process_time() - start


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--denied"]
    n = int(args[0]) if args else 2_000
    profiler = cProfile.Profile()
    profiler.enable()
    seconds = run(n, deny="--denied" in sys.argv)
    profiler.disable()
    print(f"{n} findings in {seconds:.2f} s CPU under the profiler ({n / seconds:,.0f}/s)")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
