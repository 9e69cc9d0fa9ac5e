"""Issue 15: what-if answers from the verdict trees (`engine.deciding_with`) and the questions
worked out once per snapshot (`whatif._asked`) are those of a fresh snapshot.

Every golden scenario with a runbook request is replayed with its neighbours (the documents of
`test_speed_runbook`: other keys, requesters, context values, header keys) on one shared
snapshot, twice, so the trees fill on some requests and answer for the others:

- `deciding_with(request)(entry)` for every what-if entry of the scenario and a few more (a header
  key of the shape, an unreadable value) is the verdict of `evaluate` of the request with the
  entry added, on a fresh snapshot (or the same error);
- `what_if` on the shared snapshot is `what_if` on a snapshot loaded for that request alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench import bench_workloads
from bench.engine_fixture import snapshot
from chalicelib.diagnose.whatif import _asked, what_if
from chalicelib.engine import deciding_with, evaluate, resolve_principal
from chalicelib.model import AccessRequest, ContextEntry, Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.test_speed_runbook import _scenarios, runbook_requests

MORE = [
    ContextEntry(
        name="s3:x-amz-server-side-encryption", values=("aws:kms",), type="string", source="what-if"
    ),
    ContextEntry(name="aws:SourceIp", values=("not an ip",), type="ip", source="what-if"),
    ContextEntry(name="aws:SecureTransport", values=("false",), type="boolean", source="what-if"),
    ContextEntry(
        name="aws:SourceVpce", values=("vpce-0a1b2c3d4e5f60789",), type="string", source="what-if"
    ),
]


def _verdict(function: Any, *args: Any) -> object:
    try:
        verdicts = function(*args)
    except Exception as error:  # the same error either way (what_if skips such a value)
        return f"{type(error).__name__}: {error}"
    return (verdicts.decision, verdicts.blocked_by)


@pytest.mark.parametrize("folder", list(_scenarios()))
def test_what_if_from_the_trees_is_that_of_a_fresh_snapshot(folder: Path) -> None:
    document = json.loads((folder / "snapshot.json").read_text())
    shared, reference = load_snapshot(document), load_snapshot(document)
    requests = runbook_requests(folder)
    assert requests
    decisions = [evaluate(request, reference) for request in requests]
    asked = [_asked(request, shared).questions for request in requests[:3]]
    entries = [e for questions in asked for _k, es in questions for e in es]

    def assumed(request: AccessRequest, entry: ContextEntry) -> object:
        with_entry = replace(request, context=(*request.context, entry))
        return _verdict(lambda: evaluate(with_entry, reference))

    expected = {
        (i, entry): assumed(request, entry)
        for i, request in enumerate(requests)
        for entry in dict.fromkeys([*entries, *MORE])
    }
    fresh_what_if = [
        what_if(request, load_snapshot(document), decision)
        for request, decision in zip(requests, decisions, strict=True)
    ]
    for _round in range(2):
        for i, request in enumerate(requests):
            decide = deciding_with(request, shared)  # one for all entries, as what_if does
            for entry in dict.fromkeys([*entries, *MORE]):
                got = _verdict(decide, entry)
                assert got == expected[i, entry], (request, entry)
            assert what_if(request, shared, decisions[i]) == fresh_what_if[i], request


@pytest.mark.parametrize("folder", list(_scenarios()))
def test_what_if_after_the_explained_evaluate_is_that_of_a_fresh_snapshot(folder: Path) -> None:
    """As a finding asks it: right after `evaluate` explained the very request, whose path may
    answer every question (`unread_verdict`, its what-ifs kept per verdict); twice over the
    requests, so the second round takes the kept ones."""
    document = json.loads((folder / "snapshot.json").read_text())
    shared = load_snapshot(document)
    requests = runbook_requests(folder)
    expected = []
    for request in requests:
        fresh = load_snapshot(document)
        expected.append(what_if(request, fresh, evaluate(request, fresh)))
    for _round in range(2):
        for request, want in zip(requests, expected, strict=True):
            resolved = resolve_principal(request, shared)  # the request as a finding asks it
            assert what_if(resolved, shared, evaluate(resolved, shared)) == want, request


def test_what_ifs_kept_per_verdict_answer_each_line_of_a_batch_as_a_fresh_snapshot() -> None:
    """The full-findings lines of `bench_workloads`: one form, allowed or refused by a Deny
    (`aws:SecureTransport` false), whose paths answer the what-if of `aws:SourceVpce` with
    either verdict: each line gets the what-ifs of its own."""
    shared = load_snapshot(snapshot())
    verdicts = set()
    for i in range(30):
        given = request_from_runbook(bench_workloads.request(i, replay=True))
        fresh = load_snapshot(snapshot())
        want = what_if(given, fresh, evaluate(given, fresh))
        resolved = resolve_principal(given, shared)
        assert what_if(resolved, shared, evaluate(resolved, shared)) == want, i
        verdicts |= {w.decision for w in want}
    assert verdicts == {Verdict.ALLOWED, Verdict.EXPLICIT_DENY}


@pytest.mark.parametrize("folder", list(_scenarios()))
def test_what_ifs_are_not_taken_from_the_request_explained_before(folder: Path) -> None:
    """`deciding_with` reuses the shape and context `evaluate` took only for that very request:
    each request is asked right after its neighbour was explained, and once right after itself."""
    document = json.loads((folder / "snapshot.json").read_text())
    shared, reference = load_snapshot(document), load_snapshot(document)
    requests = [resolve_principal(request, shared) for request in runbook_requests(folder)]

    def assumed(request: AccessRequest, entry: ContextEntry) -> object:
        with_entry = replace(request, context=(*request.context, entry))
        return _verdict(lambda: evaluate(with_entry, reference))

    for _round in range(2):
        for before, request in zip([requests[-1], *requests[:-1]], requests, strict=True):
            for explained in (before, request):
                evaluate(explained, shared)
                decide = deciding_with(request, shared)
                for entry in MORE:
                    assert _verdict(decide, entry) == assumed(request, entry), (request, entry)
