"""Issue 15: a scan whose statements have no condition and `Resource: "*"` reports what the plan
found once (`hits._Plan.fixed`), and that is what matching each statement again reports.

Every engine case and its neighbours (`test_verdict_cache`), explained and decided, and every
golden runbook scenario and its neighbours (`test_speed_runbook`), diagnosed in full, give the
same answer with the shortcut as with it turned off (each on a fresh snapshot).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.engine import decide, evaluate, hits
from chalicelib.model import AccessRequest
from chalicelib.snapshot import Snapshot, load_snapshot
from tests.unit.engine.casefile import request_from_case
from tests.unit.engine.test_cases import _all_cases
from tests.unit.engine.test_speed_runbook import _scenarios, runbook_requests
from tests.unit.engine.test_verdict_cache import _neighbours


def _answer(function: Callable[..., Any], *args: Any) -> object:
    try:
        return function(*args)
    except Exception as error:  # the same error either way
        return f"{type(error).__name__}: {error}"


def _both(
    monkeypatch: pytest.MonkeyPatch, document: Mapping[str, Any], run: Callable[[Snapshot], object]
) -> tuple[object, object]:
    """`run` on a fresh snapshot with the shortcut, then on another with it off."""
    quick = run(load_snapshot(document))
    plan = hits._plan
    with monkeypatch.context() as patch:
        patch.setattr(hits, "_plan", lambda *a: dataclasses.replace(plan(*a), fixed=None))
        full = run(load_snapshot(document))
    return quick, full


def _cases() -> Iterator[Any]:
    for path, case in _all_cases():
        yield pytest.param(case, id=f"{path.stem}::{case['name']}")


@pytest.mark.parametrize("case", list(_cases()))
def test_a_fixed_scan_explains_and_decides_as_matching_every_statement(
    case: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    request = request_from_case(case["request"])
    requests = list(_neighbours(case, request))

    def run(snapshot: Snapshot) -> object:
        return [
            (_answer(evaluate, one, snapshot), _answer(decide, one, snapshot))
            for _round in range(2)
            for one in requests
        ]

    quick, full = _both(monkeypatch, case["snapshot"], run)
    assert quick == full


def _finding(request: AccessRequest, snapshot: Snapshot) -> object:
    return pipeline.diagnose(request, snapshot).to_dict()


@pytest.mark.parametrize("folder", list(_scenarios()))
def test_a_fixed_scan_gives_the_same_finding(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requests = runbook_requests(folder)
    assert requests

    def run(snapshot: Snapshot) -> object:
        return [_answer(_finding, one, snapshot) for one in requests]

    document = json.loads((folder / "snapshot.json").read_text())
    quick, full = _both(monkeypatch, document, run)
    assert quick == full


def test_the_shortcut_is_taken() -> None:
    """Policies like FullAWSAccess (Allow * on *) are planned as fixed: the proofs above compare
    something."""
    taken = 0
    for folder in list(_scenarios())[:10]:
        path = folder.values[0]
        snapshot = load_snapshot(json.loads((path / "snapshot.json").read_text()))
        for one in runbook_requests(path)[:5]:
            _answer(_finding, one, snapshot)
        taken += sum(plan.fixed is not None for plan in snapshot.plans.values())
    assert taken > 0
