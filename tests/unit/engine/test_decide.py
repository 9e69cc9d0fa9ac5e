"""`decide` (the verdict alone, for bulk checks) must agree with `evaluate` on every case."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from chalicelib.engine import decide, evaluate
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.casefile import request_from_case
from tests.unit.engine.test_cases import _all_cases


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=f"{p.stem}::{c['name']}") for p, c in _all_cases()]
)
def test_decide_gives_the_verdict_evaluate_explains(case: Mapping[str, Any]) -> None:
    request = request_from_case(case["request"])
    snapshot = load_snapshot(case["snapshot"])
    full = evaluate(request, snapshot)
    quick = decide(request, snapshot)
    assert (quick.decision, quick.blocked_by) == (full.decision, full.blocked_by)
