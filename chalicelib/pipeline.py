"""The pure diagnosis pipeline: (request, snapshot) -> Finding.

Used by the Lambda handler (through `service`), the CLI and the API. Pure: no boto3.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields, replace
from functools import lru_cache
from operator import attrgetter, is_
from typing import Any, Final

from .diagnose import diagnose as build_finding
from .engine import ENGINE_VERSION, evaluate, resolve_principal
from .engine.resolve import derived_notes
from .model import AccessRequest, ContextEntry, Finding, Json
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

    The sorted JSON of the request the finding shows is written once: it is the answer's
    `request` part, and the text of the request as given (whose digest is the finding id) is
    the same text, or that text without the context entries the snapshot added (`_as_given`).
    """
    prepared = _prepared(request, snapshot)
    shown = None
    finding_id = request.event_id
    if not finding_id:
        shown = _CANONICAL.encode(prepared.to_dict())
        given = shown if prepared is request else _as_given(shown, request, prepared)
        finding_id = _digest_id(given or _CANONICAL.encode(request.to_dict()))
    finding = _found(prepared, snapshot, finding_id, None)
    if finding.request is not prepared or shown is None:
        shown = _CANONICAL.encode(finding.request.to_dict())
    rest = finding.to_dict(with_request=False)
    # Sorted keys: those before "id", between "id" and "request", after "request".
    parts: tuple[Json, Json, Json] = ({}, {}, {})
    for key, value in rest.items():
        parts[(key > "id") + (key > "request")][key] = value
    first, middle, last = (_CANONICAL.encode(part)[1:-1] for part in parts)
    before = "{" + (f"{first}, " if first else "") + '"id": '
    after = (f", {middle}" if middle else "") + f', "request": {shown}'
    return before, after + (f", {last}" if last else "") + "}"


# The fields of a request but its context (`_as_given`).
_NOT_CONTEXT: Final = attrgetter(*(f.name for f in fields(AccessRequest) if f.name != "context"))


def _as_given(shown_text: str, given: AccessRequest, shown: AccessRequest) -> str | None:
    """The sorted JSON of `given`, from that of `shown`, when `shown` is `given` with context
    entries added at the end (the snapshot's keys, `engine.resolve`) and every other field the
    very same object; None otherwise.

    Each added entry is one `"NAME": {...}` member of the context object, whose keys are
    sorted: taking it out with its separator leaves the text of `given`. The member is found
    by its whole text, which the JSON of a string cannot hold (a quote in a string is
    escaped); found more than once (a policy given with the request may hold the same
    member), the text is written afresh.
    """
    count = len(given.context)
    added = shown.context[count:]
    if shown.context[:count] != given.context or not all(
        map(is_, _NOT_CONTEXT(shown), _NOT_CONTEXT(given))
    ):
        return None
    names = {entry.name for entry in given.context}
    if len({entry.name for entry in added} | names) != len(names) + len(added):
        return None  # a name twice: the JSON keeps one of them
    text = shown_text
    for entry in added:
        member = _member(entry)
        if text.count(member) != 1:
            return None
        start = text.index(member)
        end = start + len(member)
        if text[start - 2 : start] == ", ":
            start -= 2
        elif text[end : end + 2] == ", ":
            end += 2
        text = text[:start] + text[end:]
    return text


@lru_cache(maxsize=1024)
def _member(entry: ContextEntry) -> str:
    """The `"NAME": {...}` member of a request's sorted JSON context (the snapshot adds the same
    few entries to every line of a batch)."""
    return _CANONICAL.encode({entry.name: entry.request_json()})[1:-1]


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
    identity AWS evaluates, the user or role ARN with its path."""
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
