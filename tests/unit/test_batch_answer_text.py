"""A full-findings batch answer is written in parts (issue 15): the request's sorted JSON once
(its digest is the finding id, and it is the answer's `request`), the rest around the line's
id. The text must be `json.dumps({**finding.to_dict(), "id": ID}, sort_keys=True)` exactly, for
every golden scenario and its runbook neighbours, events (event ids kept), requests whose
principal the account resolves, and ids of every JSON type."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import AccessRequest, InputError
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.test_speed_runbook import runbook_requests

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
IDS: tuple[Any, ...] = (0, 7, -3, "line-1", 'x\u2028y"\\', None, 1.5, True, {"b": [1], "a": None})


def _requests(folder: Path) -> list[AccessRequest]:
    found = runbook_requests(folder) if (folder / "request.json").exists() else []
    event = folder / "event.json"
    if event.exists():
        with contextlib.suppress(InputError):
            found.append(parse_event(json.loads(event.read_text())))
    return found


def test_the_answer_text_is_the_sorted_json_of_the_finding_with_its_id() -> None:
    kept = resolved = 0
    for folder in sorted(SCENARIOS.iterdir()):
        snapshot = load_snapshot(json.loads((folder / "snapshot.json").read_text()))
        for number, request in enumerate(_requests(folder)):
            before, after = pipeline.answer_around_id(request, snapshot)
            finding = pipeline.diagnose(request, snapshot)
            ident = IDS[number % len(IDS)]
            assert before + json.dumps(ident, sort_keys=True) + after == json.dumps(
                {**finding.to_dict(), "id": ident}, sort_keys=True
            ), (folder.name, number)
            if finding.request is request:
                kept += 1
            else:  # the account resolved the principal, or the scope became cross-account, or
                resolved += 1  # the bucket's owner was added to the context (engine.resolve)
    assert kept > 5 and resolved > 1000
