"""A finding's and its request's sorted JSON are put together from the texts of their parts
(`finding_text`, issue 15). The request's is the finding's `request` and its digest the finding
id, so it must be
`json.dumps(request.to_dict(), sort_keys=True)` to the character: for every golden scenario's
runbook request and neighbours and event, as given and as the snapshot completes them, the
CloudTrail events of the tests and the shared fixtures, and requests whose values an outsider or
an admin chose. The finding's is held to `json.dumps` for every scenario in
`test_batch_answer_text`; here for findings read back with keys of a later version, and for
layer results kept by object."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.bench_workloads import denied as bench_denied
from bench.bench_workloads import request as bench_request
from bench.engine_fixture import snapshot as bench_snapshot
from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.finding_text import answer_around_id, request_text
from chalicelib.model import (
    AccessRequest,
    ContextEntry,
    DenialHint,
    Finding,
    InputError,
    Operation,
)
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.test_speed_runbook import runbook_requests

TESTS = Path(__file__).resolve().parents[1]
SCENARIOS = TESTS / "data" / "scenarios"
EVENTS = (TESTS / "data" / "events", TESTS.parents[1] / "shared" / "fixtures" / "cloudtrail")


def _same(request: AccessRequest) -> None:
    try:
        expected = json.dumps(request.to_dict(), sort_keys=True)
    except TypeError:  # keys that do not sort, a value JSON has no form for
        with pytest.raises(TypeError):
            request_text(request)
        return
    assert request_text(request) == expected


def test_every_scenario_request_as_given_and_as_completed() -> None:
    count = 0
    for folder in sorted(SCENARIOS.iterdir()):
        snapshot = load_snapshot(json.loads((folder / "snapshot.json").read_text()))
        requests = runbook_requests(folder) if (folder / "request.json").exists() else []
        event = folder / "event.json"
        if event.exists():
            with contextlib.suppress(InputError):
                requests.append(parse_event(json.loads(event.read_text())))
        for request in requests:
            _same(request)
            _same(pipeline.diagnose(request, snapshot).request)
            count += 1
    assert count > 1000


def test_every_cloudtrail_event_of_the_tests_and_the_shared_fixtures() -> None:
    parsed = 0
    for path in sorted(p for folder in EVENTS for p in folder.glob("*.json")):
        with contextlib.suppress(InputError):
            _same(parse_event(json.loads(path.read_text())))
            parsed += 1
    assert parsed > 40


HOSTILE = ('a"b\\c', "\u202eevil\u2066", "caf\u00e9 \U0001f600", "\ud800", "\x00\x1b[2J", "")


def _base() -> AccessRequest:
    return request_from_runbook(
        {
            "requester_arn": "arn:aws:iam::111122223333:user/alice",
            "action": "s3:GetObject",
            "resource_arn": "arn:aws:s3:::bucket/key",
        }
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_values_an_outsider_or_an_admin_chose(text: str) -> None:
    base = _base()
    operation = replace(base.operations[0], key=text, resource_arn=f"arn:aws:s3:::b/{text}")
    _same(
        replace(
            base,
            operations=(operation, replace(operation, role=text, kms_actions=(text, "kms:x"))),
            context=(
                ContextEntry(name=text or "k", values=(text, "v"), type="stringList"),
                ContextEntry(name="s3:prefix", values=(), source=text),
            ),
            notes=(text, "note"),
            event_name=text,
            scope_reason=text,
            denial_hint=DenialHint(raw=text, explicit=True),
            session_policy={text: [1.5, None, True, {"b": text, "a": 2}]},
            scp_policies=({"Statement": [{"Sid": text}]},),
            proposed_policy={"z": text, "Version": "2012-10-17"},
        )
    )


def test_the_last_entry_of_a_name_holds_the_context_object() -> None:
    base = _base()
    entries = (
        ContextEntry(name="aws:SourceIp", values=("10.0.0.1",), type="ip"),
        ContextEntry(name="aws:a", values=("1",)),
        ContextEntry(name="aws:SourceIp", values=("10.0.0.2",), type="ip", source="x"),
        ContextEntry(name="aws:sourceip", values=("10.0.0.3",), type="ip"),
    )
    request = replace(base, context=entries)
    _same(request)
    assert '"10.0.0.2"' in request_text(request) and '"10.0.0.1"' not in request_text(request)
    # the same names again (where the entries go is kept by names), other values
    again = replace(base, context=tuple(replace(e, values=(f"{e.values[0]}9",)) for e in entries))
    _same(again)
    assert '"10.0.0.29"' in request_text(again) and '"10.0.0.2"' not in request_text(again)


@pytest.mark.parametrize(
    "change",
    [
        {"notes": ("a", 5)},  # a stored finding read back may hold anything
        {"context": (ContextEntry(name="k", values=["v"]),)},  # type: ignore[arg-type]
        {"context": (ContextEntry(name=1, values=("v",)),)},  # type: ignore[arg-type]
        {"context": (ContextEntry(name=1, values=()), ContextEntry(name="a", values=()))},  # type: ignore[arg-type]
        {"operations": (Operation(action="s3:GetObject", resource_arn="*", kms_actions=(3,)),)},  # type: ignore[arg-type]
        {"event_id": 12},
        {"session_policy": {"x": {1, 2}}},
    ],
)
def test_values_of_another_type_read_as_the_encoder_reads_them(change: dict[str, Any]) -> None:
    _same(replace(_base(), **change))


def _answer(finding: Finding, ident: object = 7) -> str:
    before, after = answer_around_id(finding)
    return before + json.dumps(ident, sort_keys=True) + after


def test_a_finding_read_back_with_keys_of_a_later_version_keeps_them() -> None:
    snapshot = load_snapshot(bench_snapshot())
    finding = pipeline.diagnose(request_from_runbook(bench_request(7, replay=True)), snapshot)
    stored = {**finding.to_dict(), "zz_later": {"b": 1, "a": "\u202e"}, "aa_later": None}
    again = Finding.from_dict(stored)
    assert again.extra and again.what_if
    assert _answer(again) == json.dumps({**stored, "id": 7}, sort_keys=True)


def test_findings_that_share_layer_results_each_get_their_own_text() -> None:
    """The explained evaluate gives every request of a shape the same layer results, whose text
    is kept by object; findings of other shapes, and other layers, are written afresh."""
    snapshot = load_snapshot(bench_snapshot())
    lines = [bench_request(i, replay=True) for i in range(40)] + [bench_denied(i) for i in range(8)]
    findings = [pipeline.diagnose(request_from_runbook(line), snapshot) for line in lines]
    shared = {id(layer) for f in findings for e in f.evaluations for layer in e.layers}
    assert len(shared) < sum(len(e.layers) for f in findings for e in f.evaluations) / 4
    for finding in findings:
        assert _answer(finding, "x") == json.dumps({**finding.to_dict(), "id": "x"}, sort_keys=True)
    changed = replace(
        findings[1].evaluations[0].layers[0], detail="\u2066 another \u2069", statements=()
    )
    finding = replace(
        findings[1],
        evaluations=(replace(findings[1].evaluations[0], layers=(changed,)),),
    )
    assert '"detail": "\\u2066 another \\u2069"' in _answer(finding)
    assert _answer(finding) == json.dumps({**finding.to_dict(), "id": 7}, sort_keys=True)


def test_an_entry_whose_values_can_change_is_written_afresh() -> None:
    """Texts are kept by object for frozen entries only: values given as a list (not what
    the model builds, but what a caller may) are read again each time."""
    values = ["10.0.0.1"]
    request = replace(
        _base(),
        context=(ContextEntry(name="aws:SourceIp", values=values, type="ip"),),  # type: ignore[arg-type]
    )
    _same(request)
    values[0] = "10.0.0.2"
    _same(request)
    assert "10.0.0.2" in request_text(request)


def test_a_principal_whose_parts_can_change_is_written_afresh() -> None:
    """A principal's text is kept by object while its parts cannot change (a stored finding
    read back may hold a list where a string was)."""
    names = ["alice"]
    request = replace(_base(), principal=replace(_base().principal, user_name=names))  # type: ignore[arg-type]
    _same(request)
    names[0] = "bob"
    _same(request)
    assert '"bob"' in request_text(request)


def test_causes_and_what_ifs_are_written_as_the_encoder_writes_them() -> None:
    """A finding's causes (with their statements) and what-ifs are written from their parts:
    every golden scenario's, and values an outsider or an admin chose. A part of another type
    (a statement index that is not an integer, a number as a message) is left to the encoder."""
    from chalicelib.finding_text import _cause, _what_if
    from chalicelib.model import Cause, ConditionFailure, Layer, StatementRef, Verdict, WhatIf

    causes, what_ifs = [], []
    for folder in sorted(SCENARIOS.iterdir()):
        if not (folder / "request.json").exists():
            continue
        snapshot = load_snapshot(json.loads((folder / "snapshot.json").read_text()))
        for request in runbook_requests(folder):
            finding = pipeline.diagnose(request, snapshot)
            causes += finding.causes
            what_ifs += finding.what_if
    for text in (*HOSTILE, "line\nbreak\r\n\u2028end", "x" * 100_000):
        ref = StatementRef(
            policy=text,
            index=3,
            sid=text or None,
            effect=text,
            failed_condition=ConditionFailure(
                key=text, operator="StringEquals", expected=(text,), actual=None
            ),
            note=text,
        )
        causes += [
            Cause(code=text, layer=None, message=text, statement=ref, confidence=text),
            Cause(code="X", layer=Layer.BUCKET_POLICY, message=text),
            Cause(code="X", layer=None, message=text, statement=replace(ref, effect=None)),
        ]
        what_ifs.append(
            WhatIf(
                key=text,
                assumed_values=(text, ""),
                decision=Verdict.EXPLICIT_DENY,
                blocked_by=(Layer.SCP,),
            )
        )
    statements = [c.statement for c in causes if c.statement is not None]
    assert len(statements) > 1000 and len(what_ifs) > 300
    assert sum(s.failed_condition is not None for s in statements) > 500
    assert sum(s.note is not None for s in statements) > 5 and sum(
        s.sid is None for s in statements
    )
    for cause in causes:
        assert _cause(cause) == json.dumps(cause.to_dict(), sort_keys=True)
    for what_if in what_ifs:
        assert _what_if(what_if) == json.dumps(what_if.to_dict(), sort_keys=True)
    odd = [
        replace(causes[0], statement=replace(statements[0], index="3")),  # type: ignore[arg-type]
        replace(causes[0], message=3),  # type: ignore[arg-type]
    ]
    found = pipeline.diagnose(_base(), load_snapshot(bench_snapshot()))
    for cause in odd:
        with pytest.raises(TypeError):
            _cause(cause)
        finding = replace(found, causes=(cause,))
        assert _answer(finding) == json.dumps({**finding.to_dict(), "id": 7}, sort_keys=True)


def test_a_request_completed_from_another_shares_its_texts_but_its_context() -> None:
    """The request a finding shows is the one given, its context completed: its member texts are
    the given one's but the context's (`like`). A request that differs in any other field is
    written in full: every field changed in turn, context too, gives `json.dumps`'s text."""
    from dataclasses import fields

    from chalicelib.finding_text import request_text_and_parts

    snapshot = load_snapshot(bench_snapshot())
    given = request_from_runbook(bench_request(3, replay=True))
    text, like = request_text_and_parts(given)
    assert like is not None and text == json.dumps(given.to_dict(), sort_keys=True)
    shown = pipeline.answer_around_id(given, snapshot)[1]
    completed = pipeline.diagnose(given, snapshot).request
    assert completed.context != given.context and request_text(completed) in shown
    assert request_text(completed, like) == json.dumps(completed.to_dict(), sort_keys=True)
    # the texts taken from `like` are its own: marked ones show through for a context change
    marked = (like[0], tuple(f"<{n}>" for n in range(len(like[1]))))
    assert "<0>" in request_text(given.with_context(completed.context), marked)
    other = {
        "principal": replace(given.principal, user_name="bob"),
        "operations": (replace(given.operations[0], key="other"),),
        "context": (),
        "region": "us-west-2",
        "kms_key_arn": "arn:aws:kms:eu-west-1:111122223333:key/k",
        "vpc_endpoint_id": "vpce-1",
        "access_point_arn": "arn:aws:s3:eu-west-1:111122223333:accesspoint/ap",
        "bucket_account": "222233334444",
        "session_policy": {"Version": "2012-10-17", "Statement": []},
        "scp_policies": ({"Version": "2012-10-17", "Statement": []},),
        "event_id": "e",
        "shared_event_id": "s",
        "event_time": "2025-01-01T00:00:00Z",
        "event_name": "GetObject",
        "scope_reason": "why",
        "denial_hint": DenialHint(raw="denied", explicit=True),
        "notes": ("n",),
        "proposed_policy": {"Version": "2012-10-17", "Statement": []},
    }
    assert set(other) | {"scope"} == {f.name for f in fields(AccessRequest)}
    changed = [replace(given, **{name: value}) for name, value in other.items()]
    changed.append(replace(given, scope=type(given.scope)("cross-account")))
    for request in changed:
        assert request_text(request, like) == json.dumps(request.to_dict(), sort_keys=True)
