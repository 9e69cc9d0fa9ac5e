"""The pure diagnosis pipeline: (request, snapshot) -> Finding.

Used by the Lambda handler (through `service`), the CLI and the API. Pure: no boto3.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from .diagnose import diagnose as build_finding
from .engine import ENGINE_VERSION, evaluate, resolve_principal
from .model import AccessRequest, Finding, Json
from .request import ROLE_PATH_UNKNOWN_NOTE
from .snapshot import Snapshot, load_snapshot

# `json.dumps(..., sort_keys=True)` without its check for circular references (a request's
# `to_dict` is a tree): the same text, about a sixth faster.
_CANONICAL: Final = json.JSONEncoder(sort_keys=True, check_circular=False)


def finding_id_for(request: AccessRequest) -> str:
    """Stable id: the CloudTrail event id when there is one, else a digest of the request (the
    SHA-256 of `json.dumps(request.to_dict(), sort_keys=True)`: ids are stored keys)."""
    if request.event_id:
        return request.event_id
    return _digest_id(_CANONICAL.encode(request.to_dict()))


def _digest_id(request_text: str) -> str:
    return f"req-{hashlib.sha256(request_text.encode()).hexdigest()[:24]}"


def answer_around_id(request: AccessRequest, snapshot: Snapshot) -> tuple[str, str]:
    """The text of `json.dumps({**diagnose(request, snapshot).to_dict(), "id": ID},
    sort_keys=True)` before and after ID's text (a batch answer).

    The request's sorted JSON is written once: its digest is the finding id and it is the
    answer's `request` part (when the diagnosis kept the request as given).
    """
    request_text = None if request.event_id else _CANONICAL.encode(request.to_dict())
    finding_id = request.event_id or _digest_id(request_text or "")
    finding = diagnose(request, snapshot, finding_id=finding_id)
    if finding.request is not request or request_text is None:
        request_text = _CANONICAL.encode(finding.request.to_dict())
    rest = finding.to_dict(with_request=False)
    # Sorted keys: those before "id", between "id" and "request", after "request".
    parts: tuple[Json, Json, Json] = ({}, {}, {})
    for key, value in rest.items():
        parts[(key > "id") + (key > "request")][key] = value
    first, middle, last = (_CANONICAL.encode(part)[1:-1] for part in parts)
    before = "{" + (f"{first}, " if first else "") + '"id": '
    after = (f", {middle}" if middle else "") + f', "request": {request_text}'
    return before, after + (f", {last}" if last else "") + "}"


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
    # The finding names the identity AWS evaluates: the user or role ARN with its path.
    resolved = resolve_principal(request, loaded)
    if resolved is not request:
        old, new = request.principal.principal_arn, resolved.principal.principal_arn
        notes = tuple(n for n in request.notes if not n.startswith(ROLE_PATH_UNKNOWN_NOTE))
        if old != new:
            notes += (f"{old} is {new} in the account (IAM names are unique whatever the path).",)
        request = replace(resolved, notes=notes)
    decision = evaluate(request, loaded)
    return build_finding(
        request,
        loaded,
        decision,
        finding_id=finding_id,
        engine_version=ENGINE_VERSION,
        now=now,
    )
