"""The pure diagnosis pipeline: (request, snapshot) -> Finding.

Used by the Lambda handler (through `service`), the CLI and the API. Pure: no boto3.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from . import resolved_forms
from .diagnose import diagnose as build_finding
from .engine import ENGINE_VERSION, evaluate, resolve_principal
from .engine.resolve import derived_notes
from .finding_text import answer_around_id as finding_answer_around_id
from .finding_text import request_text, request_text_and_parts
from .model import AccessRequest, Finding
from .request import ROLE_PATH_UNKNOWN_NOTE
from .snapshot import Snapshot, load_snapshot


def finding_id_for(request: AccessRequest) -> str:
    """Stable id: the CloudTrail event id when there is one, else a digest of the request (the
    SHA-256 of `json.dumps(request.to_dict(), sort_keys=True)`: ids are stored keys)."""
    if request.event_id:
        return request.event_id
    return _digest_id(request_text(request))


def _digest_id(request_text: str) -> str:
    return f"req-{hashlib.sha256(request_text.encode()).hexdigest()[:24]}"


def answer_around_id(request: AccessRequest, snapshot: Snapshot) -> tuple[str, str]:
    """The text of `json.dumps({**diagnose(request, snapshot).to_dict(), "id": ID},
    sort_keys=True)` before and after ID's text (a batch answer)."""
    prepared = _prepared(request, snapshot)
    like = None  # the request as given, whose member texts the shown one may share
    if request.event_id:
        finding_id = request.event_id
    else:
        text, like = request_text_and_parts(request)
        finding_id = _digest_id(text)
    return finding_answer_around_id(_found(prepared, snapshot, finding_id, None), like)


def diagnose(
    request: AccessRequest,
    snapshot: Snapshot | Mapping[str, Any],
    *,
    finding_id: str | None = None,
    now: str | None = None,
) -> Finding:
    """Evaluate the request against the snapshot and explain the verdict."""
    loaded = snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)
    finding_id = finding_id or finding_id_for(request)  # the request as given
    return _found(_prepared(request, loaded), loaded, finding_id, now)


def _prepared(request: AccessRequest, snapshot: Snapshot) -> AccessRequest:
    """The request as the snapshot completes it (`resolve_principal`): the finding names the
    identity AWS evaluates, the user or role ARN with its path. Remembered per form of request
    (`resolved_forms`)."""
    return resolved_forms.completed(request, snapshot, _completed)


def _completed(request: AccessRequest, snapshot: Snapshot) -> AccessRequest:
    resolved = resolve_principal(request, snapshot)
    notes = derived_notes(
        request.notes, resolved, snapshot, from_event=request.event_id is not None
    )
    if resolved is request and notes is request.notes:
        return request
    old, new = request.principal.principal_arn, resolved.principal.principal_arn
    notes = tuple(n for n in notes if not n.startswith(ROLE_PATH_UNKNOWN_NOTE))
    if old != new:
        notes += (f"{old} is {new} in the account (IAM names are unique whatever the path).",)
    return resolved if notes == resolved.notes else replace(resolved, notes=notes)


def _found(request: AccessRequest, snapshot: Snapshot, finding_id: str, now: str | None) -> Finding:
    return build_finding(
        request,
        snapshot,
        evaluate(request, snapshot),
        finding_id=finding_id,
        engine_version=ENGINE_VERSION,
        now=now,
    )
