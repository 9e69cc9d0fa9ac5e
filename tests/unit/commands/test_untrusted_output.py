"""`findings list` and `replay` print event data as inert text."""

from __future__ import annotations

import unicodedata
from collections import Counter

from chalicelib.commands.findings import render_table
from chalicelib.commands.replay import ErrorTally, ReplaySummary, Stop, render_summary
from tests.unit.diagnose.test_render import HOSTILE, hostile_finding


def inert(out: str) -> bool:
    return not [
        c for c in out if c != "\n" and unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs"}
    ]


def test_the_findings_table_keeps_one_line_per_row_and_no_control_characters() -> None:
    out = render_table([hostile_finding()])
    lines = out.splitlines()
    assert inert(out) and len(lines) == 3
    assert lines[2].startswith("    f-2  s3:GetObject arn:aws:s3:::example-bucket/data/q1.csv\\n")
    assert "…" in lines[2]


def test_the_replay_summary_neutralises_event_ids_and_error_messages() -> None:
    summary = ReplaySummary(
        diagnosed=1,
        by_cause=Counter({"EXPLICIT_DENY_BUCKET_POLICY": 1}),
        by_decision=Counter({"explicit-deny": 1}),
        errors=ErrorTally(),
    )
    summary.errors.add(HOSTILE, f"eventSource {HOSTILE} is not S3")
    out = render_summary(summary, stored=False)
    assert inert(out)
    assert out.splitlines()[-1].startswith("  q1.csv\\n\\nFIX\\n")
    assert not [line for line in out.splitlines() if line.lstrip().startswith(("FIX", "1."))]


def test_a_stopped_replay_names_its_event_and_the_aws_error_as_inert_text() -> None:
    summary = ReplaySummary(
        diagnosed=1,
        by_decision=Counter({"explicit-deny": 1}),
        stopped=Stop(event=HOSTILE, error=f"ValidationException: key {HOSTILE}", not_handled=2),
    )
    out = render_summary(summary, stored=True)
    assert inert(out)
    assert out.splitlines()[0] == "1 of 3 events diagnosed, findings stored."
    assert not [line for line in out.splitlines() if line.lstrip().startswith(("FIX", "1."))]
