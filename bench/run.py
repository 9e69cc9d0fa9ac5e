"""`make bench`: run every benchmark, print its figures and record them in docs/benchmarks.md.

Each benchmark is a module of this folder run as its own process (so one's warm caches do not
flatter another's). Figures are CPU-time based where the machine may be shared.

docs/benchmarks.md is also where people write what the figures mean: a run replaces only each
benchmark's output block (the first fenced block after its `python -m module` line) and the date
line, and appends a section for a benchmark the page does not have yet; every other line stays.
"""

from __future__ import annotations

import os
import platform
import re
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


def record(page: str, module: str, title: str, output: str) -> str:
    """`page` with `module`'s output block replaced by `output` (or its section appended)."""
    block = f"```\n{output}\n```"
    found = re.search(
        rf"^`python -m {re.escape(module)}`\n\n```\n.*?^```$", page, flags=re.M | re.S
    )
    if found is None:
        return f"{page.rstrip()}\n\n## {title}\n\n`python -m {module}`\n\n{block}\n"
    head = f"`python -m {module}`\n\n"
    return page[: found.start()] + head + block + page[found.end() :]


def dated(page: str, line: str) -> str:
    """`page` with its `Written by make bench` line set to `line` (added under the title)."""
    if re.search(r"^Written by `make bench`.*$", page, flags=re.M):
        return re.sub(r"^Written by `make bench`.*$", lambda _: line, page, count=1, flags=re.M)
    title, _, rest = page.partition("\n")
    return f"{title}\n\n{line}\n{rest}" if title else f"# Benchmarks\n\n{line}\n"


def main() -> int:
    page_path = ROOT / "docs" / "benchmarks.md"
    page = page_path.read_text(encoding="utf-8") if page_path.exists() else "# Benchmarks\n"
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
        page = record(page, module, title, output)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    line = f"Written by `make bench` on {time.strftime('%Y-%m-%d')} ({machine})."
    page_path.write_text(dated(page, line), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
