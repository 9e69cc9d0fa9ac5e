"""Issue 15: a fix that asks the requester to send one key with other values (a request-side
patch: `aws:SecureTransport` true, a VPC endpoint, an encryption header...) is verified through
the request's own verdict tree with that entry added (`remedies._allows_patched`, by
`deciding_with`): allowed exactly when the request as the patch makes it is, decided in full.

Every golden scenario's runbook request and its neighbours and its event, and the lines of
`bench_workloads`' full-findings workload (allowed, or refused by a Deny on
`aws:SecureTransport`), are completed and evaluated on one shared snapshot, as a finding does
before its fixes, twice so the trees answer the second round. Each is patched with every key it
gives, every key its what-if questions ask and a few more, each with the values those
questions try and a few more; the answer is checked against `evaluate` of the patched request
(`patches.apply_to_request`) decided in full (`decide_in_full`: no verdict tree) on a snapshot
of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import bench_workloads
from bench.engine_fixture import snapshot as bench_snapshot
from chalicelib import pipeline
from chalicelib.diagnose.patches import apply_to_request
from chalicelib.diagnose.remedies import _allows_patched
from chalicelib.diagnose.whatif import _asked
from chalicelib.engine import evaluate
from chalicelib.engine.evaluate import decide_in_full
from chalicelib.model import AccessRequest, Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import Snapshot, load_snapshot
from tests.unit.engine.test_resolved_forms import SCENARIOS, _scenario_requests

# Keys and values a fix may ask for beyond the request's own and its what-ifs'.
MORE = {
    "aws:SecureTransport": ["true", "false"],
    "aws:SourceIp": ["10.0.0.1", "203.0.113.7"],
    "aws:SourceVpce": ["vpce-0a1b2c3d4e5f60789"],
    "s3:x-amz-server-side-encryption": ["aws:kms", "AES256"],
    "s3:x-amz-acl": ["bucket-owner-full-control"],
    "aws:MultiFactorAuthPresent": ["true"],
}


def _patches(request: AccessRequest, snapshot: Snapshot) -> Iterator[dict[str, Any]]:
    values: dict[str, list[str]] = {name: list(found) for name, found in MORE.items()}
    for entry in request.context:
        values.setdefault(entry.name, []).extend(entry.values)
    for key, entries in _asked(request, snapshot).questions:
        values.setdefault(key, []).extend(v for e in entries for v in e.values)
    for key, found in values.items():
        for value in dict.fromkeys(found):
            yield {"kind": "request", "context": {key: [value]}}


def _check(document: dict[str, Any], requests: list[AccessRequest]) -> tuple[int, int]:
    """(patches answered allowed, refused), each checked against the full decision."""
    shared, reference = load_snapshot(document), load_snapshot(document)
    counts = [0, 0]
    for _round in range(2):
        for given in requests:
            request = pipeline._prepared(given, shared)
            evaluate(request, shared)  # as a finding: its fixes come after the explanation
            for patch in _patches(request, shared):
                patched = apply_to_request(request, patch)
                want = decide_in_full(patched, reference).decision is Verdict.ALLOWED
                assert _allows_patched(request, shared, patch) is want, (request, patch)
                counts[want] += 1
    return counts[1], counts[0]


@pytest.mark.parametrize(
    "folder", [pytest.param(f, id=f.name) for f in sorted(SCENARIOS.iterdir())]
)
def test_a_patched_request_is_allowed_as_its_full_decision_says(folder: Path) -> None:
    document = json.loads((folder / "snapshot.json").read_text())
    _check(document, _scenario_requests(folder))


def test_the_batch_lines_refused_by_a_deny_are_allowed_once_patched() -> None:
    """Not vacuous: on the full-findings workload, the patches both let requests in and not."""
    requests = [request_from_runbook(bench_workloads.request(i, replay=True)) for i in range(15)]
    allowed, refused = _check(bench_snapshot(), requests)
    assert allowed > 0 and refused > 0, (allowed, refused)
