"""A full-findings batch answer is written in parts (issue 15, `finding_text`): the request as
given (its digest is the finding id), the request the finding shows, the rest around the line's
id. The text must be `json.dumps({**finding.to_dict(), "id": ID}, sort_keys=True)` exactly, for
every golden scenario and its runbook neighbours, events (event ids kept), requests whose
principal the account resolves, and ids of every JSON type."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import AccessRequest, InputError
from chalicelib.request import request_from_runbook
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


def test_a_request_whose_own_policy_holds_an_added_context_member_keeps_its_text() -> None:
    """The request as given (whose digest is the id) is the shown one without the bucket
    owner's context members; a session policy holding the same member text (a condition on
    that key with the member's value) changes neither text."""
    from bench.bench_workloads import request as bench_request
    from bench.engine_fixture import snapshot as bench_snapshot

    snapshot = load_snapshot(bench_snapshot())
    line = bench_request(3, replay=True)
    plain = request_from_runbook(line)
    shown = pipeline.diagnose(plain, snapshot).request.to_dict()["context"]
    added = {k: v for k, v in shown.items() if k.lower().endswith(":resourceaccount")}
    assert len(added) == 2  # the bucket is in the snapshot: its owner's keys are added
    hostile = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": added},
            }
        ],
    }
    # IAM refuses such a policy (a runbook document holding it is bad input): the request is
    # built as it stands, to hold the member's text in a part of the request other than context.
    for request in (plain, replace(plain, session_policy=hostile)):
        before, after = pipeline.answer_around_id(request, snapshot)
        finding = pipeline.diagnose(request, snapshot)
        assert before + "7" + after == json.dumps({**finding.to_dict(), "id": 7}, sort_keys=True)
        assert finding.finding_id == pipeline.finding_id_for(request)
