"""Issue 15: a runbook document decided from the verdict trees before its request is built
(`decide_runbook`) gets the verdict of the full decision of its request, or its error.

Every golden scenario with a runbook request is replayed with neighbouring documents (object
keys its policies name, other requesters, context values flipped, header keys, a version id)
on one shared snapshot, twice, so the shape keys and trees fill on some documents and answer
for the others; each answer is checked against `evaluate` on a fresh snapshot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.engine import evaluate
from chalicelib.model import AccessRequest, InputError
from chalicelib.request import request_from_runbook
from chalicelib.runbook_verdicts import decide_runbook
from chalicelib.snapshot import load_snapshot

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
S3_ARN = re.compile(r"arn:aws[\w-]*:s3:::([^/\"*?$]+)/([^\"]*)")
REQUESTER = re.compile(
    r"arn:aws:(?:iam::\d{12}:(?:user|role)/[\w+=,.@/-]+|sts::\d{12}:assumed-role/[\w+=,.@-]+/[\w+=,.@-]+)"
)


def _entry(name: str, value: str, kind: str = "string") -> dict[str, Any]:
    return {"ContextKeyName": name, "ContextKeyValues": [value], "ContextKeyType": kind}


EXTRA = [
    _entry("aws:SourceIp", "10.0.0.1", "ip"),
    _entry("aws:SourceIp", "203.0.113.7", "ip"),
    _entry("aws:SecureTransport", "true", "boolean"),
    _entry("aws:SecureTransport", "false", "boolean"),
    _entry("aws:CurrentTime", "2031-01-01T00:00:00Z", "date"),
    _entry("aws:PrincipalOrgID", "o-other"),
    _entry("s3:x-amz-server-side-encryption", "aws:kms"),
    _entry("s3:x-amz-server-side-encryption", "AES256"),
    _entry("aws:SourceIp", "not an ip", "ip"),
]


def _keys(snapshot: str, own: str) -> list[str]:
    found = {own, "x", own + "/more", "other/" + own}
    for _bucket, pattern in S3_ARN.findall(snapshot):
        for fill in ("", "a/b"):
            key = re.sub(r"\$\{[^}]*\}", "alice", pattern).replace("*", fill).replace("?", "q")
            found.update({key, key + "z"})
    return sorted(k for k in found if k)


def _documents(document: dict[str, Any], snapshot: str) -> Iterator[dict[str, Any]]:
    resource = document["resource_arn"]
    bucket, _, own = resource.partition(":::")[2].partition("/")
    prefix = resource[: len(resource) - len(own)] if own else f"{resource}/"
    context = list(document.get("context") or [])
    variants = [document, {**document, "context": []}]
    variants += [{**document, "context": [*context, extra]} for extra in EXTRA]
    variants += [
        {**document, "requester_arn": arn} for arn in sorted(set(REQUESTER.findall(snapshot)))
    ]
    variants.append({**document, "version_id": "v1"})
    for variant in variants:
        for key in _keys(snapshot, own or "k"):
            yield {**variant, "resource_arn": prefix + key}
    yield {**document, "resource_arn": f"arn:aws:s3:::{bucket}"}


def runbook_document(folder: Path) -> dict[str, Any]:
    """A scenario's runbook request with its optional fields left out (so it has a template)."""
    document = json.loads((folder / "request.json").read_text())
    return {k: v for k, v in document.items() if v not in (None, [])}


def runbook_requests(folder: Path) -> list[AccessRequest]:
    """The requests of a scenario's runbook document and its neighbours that are valid."""
    out = []
    for one in _documents(runbook_document(folder), (folder / "snapshot.json").read_text()):
        try:
            out.append(request_from_runbook(one))
        except InputError:
            continue
    return out


def _scenarios() -> Iterator[Any]:
    for path in sorted(SCENARIOS.glob("*/request.json")):
        yield pytest.param(path.parent, id=path.parent.name)


def _outcome(function: Any, document: dict[str, Any], snapshot: Any) -> object:
    try:
        verdicts = function(document, snapshot)
    except InputError as error:
        return f"InputError: {error}"
    return (verdicts.decision, verdicts.blocked_by)


def _full(document: dict[str, Any], snapshot: Any) -> Any:
    return evaluate(request_from_runbook(document), snapshot)


@pytest.mark.parametrize("folder", list(_scenarios()))
def test_a_runbook_verdict_from_the_trees_is_the_full_decision(folder: Path) -> None:
    text = (folder / "snapshot.json").read_text()
    documents = list(_documents(runbook_document(folder), text))
    shared, reference = load_snapshot(json.loads(text)), load_snapshot(json.loads(text))
    expected = [_outcome(_full, one, reference) for one in documents]
    for _round in range(2):
        for one, full in zip(documents, expected, strict=True):
            assert _outcome(decide_runbook, one, shared) == full, one
