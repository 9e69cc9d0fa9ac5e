"""Finding ids of requests without an event id are stored keys: the SHA-256 of
`json.dumps(request.to_dict(), sort_keys=True)`, whatever encoder writes that text (issue 15:
one without the check for circular references), for every golden request and event, their
neighbours, and requests with the fields the golden files leave empty."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import AccessRequest, ContextEntry, DenialHint, InputError, Scope
from chalicelib.request import request_from_runbook
from tests.unit.engine.test_speed_runbook import runbook_requests

DATA = Path(__file__).resolve().parents[2] / "data"


def _requests() -> list[AccessRequest]:
    found = []
    for path in sorted(DATA.glob("scenarios/*/request.json")):
        found.extend(runbook_requests(path.parent))
    for path in [*DATA.glob("scenarios/*/event.json"), *DATA.glob("events/*.json")]:
        loaded = json.loads(path.read_text())
        for record in loaded.get("Records", [loaded]) if isinstance(loaded, dict) else loaded:
            try:
                found.append(replace(parse_event(record), event_id=None))
            except InputError:
                continue
    return found


def _unusual(request: AccessRequest) -> list[AccessRequest]:
    """The fields the golden requests leave empty, and context names that need care."""
    odd = ContextEntry(name="aws:PrincipalTag/\u00e9quipe", values=('a"b\\c', "\u2603"))
    return [
        replace(request, session_policy={"Version": "2012-10-17", "Statement": []}),
        replace(request, scp_policies=({"b": 1, "a": [2.5, True, None]},)),
        replace(request, proposed_policy={"z": {"y": "\u00fc"}}),
        replace(request, denial_hint=DenialHint(raw="denied", explicit=True)),
        replace(request, notes=("a note", "\u00fcber"), scope=Scope.CROSS_ACCOUNT),
        replace(request, context=(*request.context, odd)),
    ]


def test_the_finding_id_is_the_digest_of_the_sorted_json_of_the_request() -> None:
    requests = _requests()
    assert len(requests) > 1000
    for request in [*requests, *(u for r in requests[::50] for u in _unusual(r))]:
        text = json.dumps(request.to_dict(), sort_keys=True)
        assert (
            pipeline.finding_id_for(request)
            == f"req-{hashlib.sha256(text.encode()).hexdigest()[:24]}"
        )


def test_an_event_id_is_the_finding_id() -> None:
    request = request_from_runbook(
        {
            "requester_arn": "arn:aws:iam::111122223333:user/alice",
            "action": "s3:GetObject",
            "resource_arn": "arn:aws:s3:::b/k",
        }
    )
    assert pipeline.finding_id_for(replace(request, event_id="abc-123")) == "abc-123"
