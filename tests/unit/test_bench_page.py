"""`make bench` records its figures in docs/benchmarks.md and keeps what people wrote there."""

from __future__ import annotations

from bench.run import dated, record

PAGE = """# Benchmarks

Written by `make bench` on 2026-01-01 (x86_64, 2 cores, Python 3.11.7).

## Engine

`python -m bench.bench_engine`

```
old figures
```

Why the figures moved: a note someone wrote.

```
an example block of the note, not output
```
"""


def test_a_run_replaces_the_output_block_and_keeps_the_notes() -> None:
    page = record(PAGE, "bench.bench_engine", "Engine", "new figures\nsecond line")
    assert "old figures" not in page
    assert "`python -m bench.bench_engine`\n\n```\nnew figures\nsecond line\n```" in page
    assert "Why the figures moved: a note someone wrote." in page
    assert "an example block of the note, not output" in page


def test_a_new_benchmark_gets_its_section_at_the_end() -> None:
    page = record(PAGE, "bench.bench_org", "Organization scale", "figures")
    assert page.startswith(PAGE.rstrip())
    assert page.endswith(
        "## Organization scale\n\n`python -m bench.bench_org`\n\n```\nfigures\n```\n"
    )


def test_the_date_line_is_replaced_in_place() -> None:
    line = "Written by `make bench` on 2026-12-05 (x86_64, 2 cores, Python 3.11.7)."
    page = dated(PAGE, line)
    assert page.count("Written by") == 1 and line in page
    assert dated("# Benchmarks\n", line) == f"# Benchmarks\n\n{line}\n"
