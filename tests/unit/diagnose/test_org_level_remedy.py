"""No SCP (or RCP) allows at one level of the organization path: the fix names that level, for
an RCP too (NO_ALLOW_RCP had no fix at all, and NO_ALLOW_SCP's named "the SCPs of this account",
whichever account's path it was)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.snapshot import load_snapshot
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
