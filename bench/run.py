"""`make bench`: run every benchmark, print its figures and record them in docs/benchmarks.md.

Each benchmark is a module of this folder run as its own process (so one's warm caches do not
flatter another's). Figures are CPU-time based where the machine may be shared.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (
    ("Engine: decisions per second", "bench.bench_engine"),
    ("Batch CLI on issue 15's workloads, side by side with iam-simulate", "bench.bench_workloads"),
    ("Collectors: AWS calls and round trips per diagnosis", "bench.bench_collect"),
    ("Handler: events per second and a burst of identical denials", "bench.bench_handler"),
    (
        "Organization scale: distinct denials across member accounts, shared cache",
        "bench.bench_org",
    ),
)


def main() -> int:
    sections = []
    failed = False
    for title, module in BENCHMARKS:
        print(f"== {title} ({module})", flush=True)
        result = subprocess.run(
            [sys.executable, "-m", module],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        output = result.stdout.rstrip()
        print(output)
        if result.returncode != 0:
            failed = True
            print(result.stderr.rstrip(), file=sys.stderr)
            output += f"\n(failed with exit code {result.returncode})"
        sections.append(f"## {title}\n\n`python -m {module}`\n\n```\n{output}\n```\n")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    header = (
        f"# Benchmarks\n\nWritten by `make bench` on {time.strftime('%Y-%m-%d')} ({machine}).\n\n"
    )
    (ROOT / "docs" / "benchmarks.md").write_text(header + "\n".join(sections))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
