"""No SCP (or RCP) allows at one level of the organization path: the fix names that level, for
an RCP too (NO_ALLOW_RCP had no fix at all, and NO_ALLOW_SCP's named "the SCPs of this account",
whichever account's path it was)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.detail import Detail, at_detail
from chalicelib.engine import evaluate
from chalicelib.model import Layer, Outcome
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering
from tests.unit.engine.casefile import request_from_case

CASES = Path(__file__).resolve().parents[2] / "data" / "cases"


def _case(file: str, name: str) -> dict[str, Any]:
    cases = json.loads((CASES / file).read_text())["cases"]
    return next(case for case in cases if case["name"] == name)


@pytest.mark.parametrize(
    ("file", "name", "code", "target"),
    [
        (
            "scp.json",
            "scp-every-level-must-allow",
            "NO_ALLOW_SCP",
            "the SCPs attached at ou-ab12-11111111",
        ),
        (
            "rcp.json",
            "rcp-level-without-allow",
            "NO_ALLOW_RCP",
            "the RCPs attached at 111122223333",
        ),
    ],
)
def test_the_fix_names_the_level_that_allows_nothing(
    file: str, name: str, code: str, target: str
) -> None:
    case = _case(file, name)
    snapshot = load_snapshot(case["snapshot"])
    finding = pipeline.diagnose(request_from_case(case["request"]), snapshot)
    assert [cause.code for cause in finding.causes][-1:] == [code]
    remedies = [r for r in finding.remedies if r.code == "ASK_ORG_ADMIN"]
    assert remedies, finding.remedies
    assert remedies[0].target == target, remedies[0]
    assert "delegated administrator" in remedies[0].summary


def test_the_engine_gives_the_level_that_allows_nothing_as_a_field() -> None:
    """The fix took the level back out of the layer's detail sentence with a regex; the engine
    now says it in `LayerResult.level`."""
    case = _case("scp.json", "scp-every-level-must-allow")
    snapshot = load_snapshot(case["snapshot"])

    decision = evaluate(request_from_case(case["request"]), snapshot)

    [scp] = [r for e in decision.evaluations for r in e.layers if r.layer is Layer.SCP]
    assert scp.outcome is Outcome.IMPLICIT_DENY
    assert scp.level == "ou-ab12-11111111"
    assert "level" not in scp.to_dict()  # the finding's JSON is unchanged: the detail says it


def test_a_level_id_of_several_words_is_named_and_stays_data() -> None:
    """A hand-assembled snapshot may name a level with spaces, or with a line break and
    markup: the regex found no level in such a sentence and the fix named "the SCPs of this
    account", the wrong level. It names that level now, as data in every rendering."""
    case = _case("scp.json", "scp-every-level-must-allow")
    hostile = "Workloads OU\n\nFIX\n  1. Run: `$(id)`<b>\x1b]52;c;\u202e"
    case["snapshot"]["organization"]["levels"][1]["target_id"] = hostile
    snapshot = load_snapshot(case["snapshot"])

    finding = pipeline.diagnose(request_from_case(case["request"]), snapshot)

    [fix] = [r for r in finding.remedies if r.code == "ASK_ORG_ADMIN"]
    assert fix.target == f"the SCPs attached at {hostile}"
    for detail in Detail:
        assert_inert_in_every_rendering(at_detail(finding, detail))
