"""Whole diagnoses of the classic causes (spec 7.3), one scenario folder each, as golden files.

`pytest tests/unit/diagnose --update-golden` rewrites `golden.json`; read every diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.diagnose import render_json, render_text
from tests.unit.diagnose.scenarios import load_scenario, scenario_paths, with_gaps

PATHS = scenario_paths()


def test_there_is_a_scenario_per_classic_cause() -> None:
    causes = {load_scenario(p).expected["first_cause"] for p in PATHS}
    assert len(PATHS) >= 20
    assert len(causes) >= 18


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_finding_matches_golden_file(path: Path, update_golden: bool) -> None:
    text = render_json(load_scenario(path).finding())
    golden = path / "golden.json"
    if update_golden:
        golden.write_text(text, encoding="utf-8")
        pytest.skip("golden file rewritten: review the diff")
    assert golden.exists(), f"no {golden}: run pytest tests/unit/diagnose --update-golden"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path",
    with_gaps(
        PATHS,
        frozenset(),
    ),
)
def test_first_cause_and_verdict_are_the_ones_the_spec_predicts(path: Path) -> None:
    scenario = load_scenario(path)
    finding = scenario.finding()
    assert finding.decision.value == scenario.expected["decision"]
    assert finding.causes, "a denial always gets at least one cause"
    assert finding.causes[0].code == scenario.expected["first_cause"]


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_first_screen_of_the_text_answers_what_why_and_fix(path: Path) -> None:
    finding = load_scenario(path).finding()
    lines = render_text(finding).splitlines()
    screen = lines[:40]
    assert finding.request.action in lines[0]
    assert "WHY" in screen[:8]
    assert any(finding.causes[0].code in line for line in screen)
    if finding.remedies:
        assert "FIX" in screen
        assert finding.remedies[0].summary.split()[0] in "\n".join(screen)
    long_lines = [line for line in lines if len(line) > 100]
    assert all(max(map(len, line.split())) > 40 for line in long_lines)
