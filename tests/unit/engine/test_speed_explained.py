"""Issue 15: an explanation remembered per path (`explanations.explain`) with the request's own
resource strings and condition values is the explanation `evaluate` builds in full, and the
what-if verdict of a key no step of the path reads is the request's own.

Every engine case is replayed with its neighbours (`test_verdict_cache`: other requesters,
actions, buckets, context values, header keys) and many object keys on one shared snapshot,
twice (many keys share a shape: its tree starts, records and answers within the first round);
every decision is compared with the one
built in full (the cache turned off) on another snapshot, and so is the what-if verdict of a few
entries (keys the policies read and keys they never read). Every golden runbook scenario and its
neighbours (`test_speed_runbook`) is diagnosed in full (`to_dict`) the same way.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.engine import (
    deciding_with,
    evaluate,
    explanations,
    resolve_principal,
    unread_verdict,
    verdict_cache,
)
from chalicelib.engine.context import normalise_key
from chalicelib.model import (
    AccessRequest,
    ConditionFailure,
    ContextEntry,
    Decision,
    Evaluation,
    LayerResult,
    StatementRef,
    Verdict,
)
from chalicelib.snapshot import Snapshot, load_snapshot
from tests.unit.engine.casefile import request_from_case
from tests.unit.engine.test_cases import _all_cases
from tests.unit.engine.test_speed_runbook import _scenarios, runbook_requests
from tests.unit.engine.test_verdict_cache import _get, _keys, _neighbours, _snapshot, _with_key

EVALUATE = importlib.import_module("chalicelib.engine.evaluate")

# What-if entries: keys the engine cases' policies read (with values on both sides of their
# conditions), a header key of the shape, and a key no policy reads.
ENTRIES = [
    ContextEntry(name="aws:SecureTransport", values=("false",), type="boolean"),
    ContextEntry(name="aws:SourceIp", values=("10.0.0.1",), type="ip"),
    ContextEntry(name="aws:SourceIp", values=("203.0.113.7",), type="ip"),
    ContextEntry(name="aws:SourceVpce", values=("vpce-1a",)),
    ContextEntry(name="aws:PrincipalOrgID", values=("o-other",)),
    ContextEntry(name="aws:username", values=("bob",)),
    ContextEntry(name="s3:x-amz-server-side-encryption", values=("aws:kms",)),
    ContextEntry(name="x:NeverRead", values=("1",)),
]


def _answer(function: Callable[..., Any], *args: Any) -> object:
    try:
        return function(*args)
    except Exception as error:  # the same error either way
        return f"{type(error).__name__}: {error}"


def _verdict(function: Callable[..., Any], *args: Any) -> object:
    found = _answer(function, *args)
    return found if isinstance(found, str) else (found.decision, found.blocked_by)


def _in_full(monkeypatch: pytest.MonkeyPatch, run: Callable[[], object]) -> object:
    """`run()` with every explanation built in full (no remembered path, no what-if shortcut)."""
    with monkeypatch.context() as patch:
        patch.setattr(explanations, "explain", lambda _r, _s, compute, _v: compute())
        return run()


def _object_cases() -> Iterator[Any]:
    for path, case in _all_cases():
        request = request_from_case(case["request"])
        if len(request.operations) == 1 and request.operations[0].key is not None:
            yield pytest.param(case, id=f"{path.stem}::{case['name']}")


def _with_entry(request: AccessRequest, entry: ContextEntry) -> AccessRequest:
    return dataclasses.replace(request, context=(*request.context, entry))


@pytest.mark.parametrize("case", list(_object_cases()))
def test_a_remembered_explanation_is_the_full_one(
    case: Mapping[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    request = request_from_case(case["request"])
    keys = _keys(case, request.operations[0].key or "")
    requests = [_with_key(one, key) for one in _neighbours(case, request) for key in keys]
    shared, reference = load_snapshot(case["snapshot"]), load_snapshot(case["snapshot"])
    checked = requests[:: max(1, len(requests) // 40)]  # what-if: about forty requests a case

    def full() -> tuple[list[object], dict[tuple[int, int], object]]:
        decisions = [_answer(evaluate, one, reference) for one in requests]
        assumed = {
            (i, j): _verdict(evaluate, _with_entry(one, entry), reference)
            for i, one in enumerate(checked)
            for j, entry in enumerate(ENTRIES)
        }
        return decisions, assumed

    expected, assumed = _in_full(monkeypatch, full)  # type: ignore[misc]
    for _round in range(2):  # the trees start, record and answer in the first round already
        for one, decision in zip(requests, expected, strict=True):
            assert _answer(evaluate, one, shared) == decision, one
        for i, one in enumerate(checked):
            resolved = resolve_principal(one, shared)  # as the pipeline gives it to what-if
            _answer(evaluate, resolved, shared)  # what-if follows the explanation of its request
            decide = deciding_with(resolved, shared)
            for j, entry in enumerate(ENTRIES):
                assert _verdict(decide, entry) == assumed[i, j], (one, entry)
                names = frozenset({normalise_key(entry.name)})
                unchanged = unread_verdict(resolved, shared, names)
                if unchanged is not None:
                    assert (unchanged.decision, unchanged.blocked_by) == assumed[i, j], entry


def _finding(request: AccessRequest, snapshot: Snapshot) -> object:
    return pipeline.diagnose(request, snapshot).to_dict()


@pytest.mark.parametrize("folder", list(_scenarios()))
def test_a_finding_from_a_remembered_explanation_is_the_full_finding(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = runbook_requests(folder)
    assert requests
    document = json.loads((folder / "snapshot.json").read_text())
    reference = load_snapshot(document)
    expected = _in_full(monkeypatch, lambda: [_answer(_finding, r, reference) for r in requests])
    shared = load_snapshot(document)
    for _round in range(2):
        assert [_answer(_finding, one, shared) for one in requests] == expected


def _one_policy(statement: Mapping[str, Any], objects: list[str] | None = None) -> Any:
    doc = _snapshot(statement)
    if objects is not None:
        doc["s3"]["buckets"]["b"]["objects"] = {key: {} for key in objects}
    return doc


def _request(key: str, *context: ContextEntry) -> AccessRequest:
    return dataclasses.replace(_get(key), context=context)


def test_the_object_arn_and_the_condition_values_are_the_request_s() -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}},
    }
    snapshot = load_snapshot(_one_policy(statement))
    for i in range(20):
        ip = ContextEntry(name="aws:SourceIp", values=(f"10.0.0.{i}",), type="ip")
        decision = evaluate(_request(f"k{i}", ip), snapshot)
        assert decision.decision is Verdict.ALLOWED
        (evaluation,) = decision.evaluations
        assert evaluation.resource_arn == f"arn:aws:s3:::b/k{i}"
        (ref,) = evaluation.layers[0].statements
        assert ref.failed_condition is not None
        assert ref.failed_condition.actual == (f"10.0.0.{i}",)
    tree = explanations._explanations(snapshot).trees
    assert len(tree) == 1  # one shape, explained from its path after the second request


def test_a_detail_that_names_the_key_is_not_remembered() -> None:
    # A read of a missing key without s3:ListBucket: the detail names the key (403, not 404).
    snapshot = load_snapshot(
        _one_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, objects=[])
    )
    for i in range(5):
        decision = evaluate(_request(f"missing-{i}"), snapshot)
        texts = [layer.detail or "" for e in decision.evaluations for layer in e.layers]
        assert any(f"'missing-{i}'" in text for text in texts), texts
        assert not any(f"'missing-{i - 1}'" in text for text in texts)


def test_a_detail_that_names_the_key_escaped_is_not_remembered() -> None:
    """The missing key's detail quotes it with `repr`: a key with a quote, a backslash or a
    line break is not found verbatim in it, and each request still reads its own key."""
    snapshot = load_snapshot(
        _one_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, objects=[])
    )
    for i in range(5):
        key = f"it's\\{i}\n\u202e"
        decision = evaluate(_request(key), snapshot)
        texts = [layer.detail or "" for e in decision.evaluations for layer in e.layers]
        assert any(repr(key) in text for text in texts), (key, texts)


def test_the_shortcuts_are_taken() -> None:
    """The proofs above compare something: explanations come from remembered paths, and what-if
    entries are answered without a walk."""
    folder = next(iter(_scenarios())).values[0]
    snapshot = load_snapshot(json.loads((folder / "snapshot.json").read_text()))
    requests = runbook_requests(folder)
    told = 0
    for one in requests * 2:
        evaluate(one, snapshot)
        told += explanations._explanations(snapshot).last is not None
    assert told > len(requests) // 2


def test_a_key_read_by_a_condition_s_variable_changes_the_what_if_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/owner": "${aws:username}"}},
    }
    snapshot = load_snapshot(_one_policy(statement))
    tag = ContextEntry(name="aws:PrincipalTag/owner", values=("alice",))
    username = ContextEntry(name="aws:username", values=("alice",))
    unread = ContextEntry(name="x:NeverRead", values=("1",))
    for i in range(3):  # the tree starts, records, then answers
        request = resolve_principal(_request(f"k{i}", tag), snapshot)
        assert evaluate(request, snapshot).decision is Verdict.IMPLICIT_DENY
        decide = deciding_with(request, snapshot)
        assert decide(username).decision is Verdict.ALLOWED
        assert decide(unread).decision is Verdict.IMPLICIT_DENY
    with monkeypatch.context() as patch:  # the key no step reads: no walk, no decision
        patch.setattr(verdict_cache, "_walk", None)
        patch.setattr(EVALUATE, "_decide_in_full", None)
        assert decide(unread).decision is Verdict.IMPLICIT_DENY


def test_a_patched_decision_copies_every_field() -> None:
    """`_patched` builds decisions with their constructors: a field added to one of these
    dataclasses must be copied there too."""
    copied = {
        Decision: {"decision", "blocked_by", "evaluations", "unchecked", "notes"},
        Evaluation: {"action", "resource_arn", "decision", "blocked_by", "layers"},
        LayerResult: {"layer", "outcome", "statements", "detail", "level"},
        StatementRef: {"policy", "index", "sid", "effect", "failed_condition", "note"},
        ConditionFailure: {"key", "operator", "expected", "actual"},
    }
    for kind, names in copied.items():
        assert {f.name for f in dataclasses.fields(kind)} == names, kind


def test_a_header_key_of_the_shape_is_never_assumed_unread() -> None:
    # The SSE-KMS key header is read from the request itself (it is part of the shape, not a
    # step): named, it adds a KMS leg the request's own path never had.
    snapshot = load_snapshot(
        _one_policy({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})
    )
    header = ContextEntry(
        name="s3:x-amz-server-side-encryption-aws-kms-key-id",
        values=("arn:aws:kms:us-east-1:111122223333:key/k1",),
    )
    names = frozenset({normalise_key(header.name)})
    for i in range(3):  # the tree starts, records, then answers
        request = resolve_principal(
            request_from_case(
                {"principal": "arn:aws:iam::111122223333:user/alice", "action": "s3:PutObject",
                 "resource": f"arn:aws:s3:::b/k{i}", "kms_actions": ["kms:GenerateDataKey"]}
            ),
            snapshot,
        )  # fmt: skip
        assert evaluate(request, snapshot).decision is Verdict.ALLOWED
        assert evaluate(_with_entry(request, header), snapshot).decision is not Verdict.ALLOWED
        evaluate(request, snapshot)
        assert unread_verdict(request, snapshot, names) is None
        assert unread_verdict(request, snapshot, frozenset({"x:neverread"})) is not None


def test_a_path_first_met_with_a_key_its_texts_name_is_remembered_later() -> None:
    snapshot = load_snapshot(
        _one_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    )
    for _round in range(3):  # "a" is in the policy's id: the decision cannot be patched
        assert evaluate(_request("a"), snapshot).decision is Verdict.ALLOWED
        assert explanations._explanations(snapshot).last is None
    for i in range(3):
        decision = evaluate(_request(f"long-key-{i}"), snapshot)
        assert decision.evaluations[0].resource_arn == f"arn:aws:s3:::b/long-key-{i}"
    assert explanations._explanations(snapshot).last is not None
    decision = evaluate(_request("a"), snapshot)  # from the path, with its own ARN
    assert decision.evaluations[0].resource_arn == "arn:aws:s3:::b/a"
