"""Profile of the full-findings workload of `bench_workloads` (issue 15), in process.

`python -m bench.profile_findings [N]`: loads the engine fixture's snapshot once, then writes the
answer text of N replay-like requests (default 2,000) as `diagnose --batch --detail full` does
(`pipeline.answer_around_id`) under cProfile and prints the top functions by cumulative and own
time. `--denied`: every request is denied for want of a grant (s3:DeleteObject, or s3:GetObject
under `secret/`), so each finding verifies policy patches (identity grants, near-miss fixes)
against patched snapshots. `--stages`: no profiler; CPU time of each stage of a batch line as
`answer_around_id` goes (`time.process_time` around each, one loop over the lines on a freshly
loaded snapshot, median of 3 loops), in µs a line.
"""

from __future__ import annotations

import cProfile
import itertools
import json
import pstats
import statistics
import sys
import time

from bench.bench_workloads import denied, request
from bench.engine_fixture import snapshot
from chalicelib import pipeline
from chalicelib.diagnose import diagnose as build_finding
from chalicelib.engine import ENGINE_VERSION, evaluate
from chalicelib.finding_text import answer_around_id
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot


def run(n: int, *, deny: bool = False) -> float:
    """CPU seconds of n findings on one loaded snapshot."""
    loaded = load_snapshot(snapshot())
    lines = [denied(i) if deny else request(i, replay=True) for i in range(n)]
    requests = [request_from_runbook(line) for line in lines]
    start = time.process_time()
    for req in requests:
        pipeline.answer_around_id(req, loaded)
    return time.process_time() - start


def stages(n: int, *, deny: bool = False) -> dict[str, float]:
    """µs a line of each stage of n batch lines as `pipeline.answer_around_id` answers them
    (one loop)."""
    lines = [
        json.dumps({"id": i, "request": denied(i) if deny else request(i, replay=True)}).encode()
        for i in range(n)
    ]
    loaded = load_snapshot(snapshot())
    clock = time.process_time
    spent = dict.fromkeys(STAGES, 0.0)
    for line in lines:
        t0 = clock()
        item = json.loads(line)
        t1 = clock()
        given = request_from_runbook(item["request"])
        t2 = clock()
        req = pipeline._prepared(given, loaded)  # the request as the snapshot completes it
        t3 = clock()
        finding_id = pipeline.finding_id_for(given)
        t4 = clock()
        decision = evaluate(req, loaded)
        t5 = clock()
        finding = build_finding(
            req, loaded, decision, finding_id=finding_id, engine_version=ENGINE_VERSION
        )
        t6 = clock()
        answer_around_id(finding)
        t7 = clock()
        for stage, (start, end) in zip(
            STAGES, itertools.pairwise((t0, t1, t2, t3, t4, t5, t6, t7)), strict=True
        ):
            spent[stage] += end - start
    return {stage: seconds / n * 1e6 for stage, seconds in spent.items()}


STAGES = (
    "json.loads",
    "request building",
    "resolution",
    "finding id",
    "the explained evaluate",
    "the diagnosis",
    "answer text",
)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 2_000
    if "--stages" in sys.argv:
        runs = [stages(n, deny="--denied" in sys.argv) for _ in range(3)]
        for stage in STAGES:
            print(f"{stage:24} {statistics.median(run[stage] for run in runs):6.1f} µs")
        total = statistics.median(sum(run.values()) for run in runs)
        print(f"{'total':24} {total:6.1f} µs")
        return
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
