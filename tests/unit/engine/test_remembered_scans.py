"""Issue 15: the identity-type scans a verdict tree remembers are those the full decision makes.

Fix verification (`diagnose.verification.same_answers`) takes a request's identity-type scans
from the leaf its shape's verdict tree gives it instead of deciding it anew. The claim, checked
the way `test_verdict_cache` checks remembered verdicts: every engine case, replayed with many
object keys and neighbours of its request on one snapshot; wherever the tree answers, its scans
equal, in order, the scans a full decision on a fresh snapshot makes: action, resource and the
context's entries; before the request is decided, and right after (from the leaf it walked to).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from chalicelib.engine import decide, resolve_principal
from chalicelib.engine.evaluate import decide_in_full
from chalicelib.engine.hits import Scan, scans_of
from chalicelib.engine.verdict_cache import remembered_scans
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.casefile import request_from_case
from tests.unit.engine.test_verdict_cache import _keys, _neighbours, _object_cases, _with_key


@pytest.mark.parametrize("case", list(_object_cases()))
def test_remembered_scans_are_the_full_decisions(case: Mapping[str, Any]) -> None:
    request = request_from_case(case["request"])
    keys = _keys(case, request.operations[0].key or "")
    requests = [_with_key(one, key) for one in _neighbours(case, request) for key in keys]
    shared, reference = load_snapshot(case["snapshot"]), load_snapshot(case["snapshot"])
    answered = 0
    for _round in range(2):  # the first round grows the trees, the second mostly walks them
        for one in requests:
            resolved = resolve_principal(one, shared)
            remembered = remembered_scans(resolved, shared)
            if remembered is not None:
                _verdict, scans = scans_of(lambda one=one: decide_in_full(one, reference))
                assert _seen(remembered) == _seen(scans), one
                answered += 1
            decide(one, shared)
            just = remembered_scans(resolved, shared)  # the leaf the decision just walked to
            if just is not None:
                _verdict, scans = scans_of(lambda one=one: decide_in_full(one, reference))
                assert _seen(just) == _seen(scans), one
    # Requests that are never remembered (a session policy, a KMS context holding the key) grow
    # no tree; where trees grew, the second round walked them.
    assert answered or not any(shared.verdicts.values()), "the trees answered no request"


def _seen(scans: list[Scan]) -> list[tuple[str, str, dict[str, tuple[str, ...]]]]:
    """Each scan's action, resource and context entries (by lookup key)."""
    return [(action, resource, dict(ctx._entries)) for action, resource, ctx in scans]
