"""The sorted JSON texts of a finding and of its request (`json.dumps(x.to_dict(),
sort_keys=True)`), put together from the texts of their parts.

A batch of full findings writes, each line, the request's text twice (its digest is the
finding id of a request as given; the finding shows it as the snapshot completed it, which
takes the given one's member texts but its context's) and the finding's (issue 15: the encoder
took a sixth of a full finding). The lines of a batch share their principal, most context
entries, the places of their context members, and the layer results of their evaluations (the
explained evaluate hands the same objects to every request of a shape): their texts are kept,
the rest is written per line by the encoder's own string function. A value of a type the JSON
of `to_dict` does not hold where this expects it (a note that is not a string, a finding with
extra keys...) goes to the encoder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter, is_
from typing import Any, Final, TypeVar

from .model import (
    AccessRequest,
    Cause,
    ContextEntry,
    Evaluation,
    Finding,
    Json,
    LayerResult,
    Operation,
    Principal,
    StatementRef,
    WhatIf,
)

CANONICAL: Final = json.JSONEncoder(sort_keys=True, check_circular=False)
"""`json.dumps(..., sort_keys=True)` without its check for circular references (`to_dict`
gives a tree): the same text, about a sixth faster."""

_STRING: Final = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
T = TypeVar("T")


RequestParts = tuple[AccessRequest, tuple[str, ...]]
"""A request and the texts of its members, in the order of its sorted JSON
(`request_text_and_parts`)."""


def request_text(request: AccessRequest, like: RequestParts | None = None) -> str:
    """`json.dumps(request.to_dict(), sort_keys=True)`.

    `like`: a request and its member texts (written just before: its mutable parts, policies,
    unchanged since) that `request` may differ from in its context alone, every other field
    the very object (the request as the snapshot completed it: `engine.resolve`); its texts
    are then taken as they are, but the context's."""
    try:
        return _REQUEST_TEXT % _parts(request, like)
    except TypeError:  # a value `_composed` does not expect: the encoder says what it is
        return CANONICAL.encode(request.to_dict())


def request_text_and_parts(request: AccessRequest) -> tuple[str, RequestParts | None]:
    """`request_text(request)`, and its member texts to give as another's `like` (None when
    the encoder wrote it)."""
    try:
        parts = _composed(request)
    except TypeError:
        return CANONICAL.encode(request.to_dict()), None
    return _REQUEST_TEXT % parts, (request, parts)


def _parts(request: AccessRequest, like: RequestParts | None) -> tuple[str, ...]:
    if like is not None:
        other, parts = like
        if all(map(is_, _OTHER_FIELDS(request), _OTHER_FIELDS(other))):
            return (*parts[:_CONTEXT_AT], _context(request.context), *parts[_CONTEXT_AT + 1 :])
    return _composed(request)


def _composed(request: AccessRequest) -> tuple[str, ...]:
    principal = request.principal
    operation = request.operations[0]
    hint = request.denial_hint
    return (
        _optional(request.access_point_arn),
        _STRING(operation.action),
        _optional(operation.bucket),
        _optional(request.bucket_account),
        _context(request.context),
        "null" if hint is None else CANONICAL.encode(hint.to_dict()),
        _optional(request.event_id),
        _optional(request.event_name),
        _optional(request.event_time),
        _optional(operation.key),
        _optional(request.kms_key_arn),
        _strings(request.notes),
        "[" + ", ".join(map(_operation, request.operations)) + "]",
        _principal(principal),
        _optional(principal.principal_arn),
        _STRING(principal.type.value),
        _json(request.proposed_policy),
        _optional(request.region),
        _optional(principal.requester_arn),
        _STRING(operation.resource_arn),
        _STRING(request.scope.value),
        _optional(request.scope_reason),
        _json(list(request.scp_policies)),
        _json(request.session_policy),
        _optional(request.vpc_endpoint_id),
    )


# The keys of `AccessRequest.to_dict`, sorted: `_composed` gives the values in this order (a
# test holds both to `to_dict`), put in their places by one `%`.
_MEMBER_NAMES: Final = (
    "access_point_arn",
    "action",
    "bucket",
    "bucket_account",
    "context",
    "denial_hint",
    "event_id",
    "event_name",
    "event_time",
    "key",
    "kms_key_arn",
    "notes",
    "operations",
    "principal",
    "principal_arn",
    "principal_type",
    "proposed_policy",
    "region",
    "requester_arn",
    "resource_arn",
    "scope",
    "scope_reason",
    "scp_policies",
    "session_policy",
    "vpc_endpoint_id",
)
_REQUEST_TEXT: Final = "{" + ", ".join(f'"{name}": %s' for name in _MEMBER_NAMES) + "}"
_CONTEXT_AT: Final = _MEMBER_NAMES.index("context")
# The request's fields but its context (`request_text`'s `like`).
_OTHER_FIELDS: Final = attrgetter(*(f.name for f in fields(AccessRequest) if f.name != "context"))


def _json(value: object) -> str:
    """`CANONICAL.encode(value)`; the encoder is not called for what most parts hold (it
    takes longer to start than to write null or an empty list)."""
    if value is None:
        return "null"
    if type(value) is list and not value:
        return "[]"
    if type(value) is int:
        return int.__repr__(value)
    return CANONICAL.encode(value)


def _optional(value: str | None) -> str:
    return "null" if value is None else _STRING(value)


def _strings(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(map(_STRING, values)) + "]"


def _context(context: tuple[ContextEntry, ...]) -> str:
    """The `context` object: the last entry of a name holds it, as in `to_dict`'s dict."""
    names = tuple(map(_NAME, context))
    order = _ORDERS.get(names)
    if order is None:
        order = _order(names)
        if len(_ORDERS) >= MAX_KEPT:
            _ORDERS.clear()
        _ORDERS[names] = order
    texts = []
    for at in order:
        entry = context[at]
        found = _MEMBERS.get(id(entry))  # `_member`, its kept text looked up here
        texts.append(found[1] if found is not None and found[0] is entry else _member(entry))
    return "{" + ", ".join(texts) + "}"


def _order(names: tuple[str, ...]) -> tuple[int, ...]:
    """The place of the last entry of each name, in the order of the names (`sort_keys`)."""
    last = {name: at for at, name in enumerate(names)}
    if type(next(iter(last), "")) is not str:
        raise TypeError("a context name that is not a string")
    return tuple(last[name] for name in sorted(last))


# The places `_context` writes, by the names of a context's entries in order: the lines of a
# batch repeat a few lists of names.
_ORDERS: Final[dict[tuple[str, ...], tuple[int, ...]]] = {}
_NAME: Final = attrgetter("name")


def _member(entry: ContextEntry) -> str:
    """`"NAME": {...}`, the entry in the context object, kept by object: the request as given
    and as completed share theirs, and the entries a template or the snapshot adds are the
    same objects from line to line. Only an entry frozen all through (its values a tuple)."""
    return _kept(_MEMBERS, entry, _member_text, keep=type(entry.values) is tuple)


def _member_text(entry: ContextEntry) -> str:
    return (
        f'{_STRING(entry.name)}: {{"source": {_STRING(entry.source)}, '
        f'"type": {_STRING(entry.type)}, "values": {_strings(entry.values)}}}'
    )


_MEMBERS: Final[dict[int, tuple[Any, str]]] = {}


def _kept(
    kept: dict[int, tuple[Any, str]], part: T, write: Callable[[T], str], *, keep: bool
) -> str:
    """`write(part)`, kept in `kept` by object (with the object, so that its id is not reused
    meanwhile) when `keep`; `MAX_KEPT` texts, then afresh."""
    found = kept.get(id(part))
    if found is not None and found[0] is part:
        return found[1]
    text = write(part)
    if keep:
        if len(kept) >= MAX_KEPT:
            kept.clear()
        kept[id(part)] = (part, text)
    return text


MAX_KEPT: Final = 4096
"""Texts kept by object, of each kind (then afresh)."""


def _principal(principal: Principal) -> str:
    """The principal's text, kept by object (a template's requests share theirs)."""
    return _kept(_PRINCIPALS, principal, _principal_text, keep=True)


def _principal_text(principal: Principal) -> str:
    hash(principal)  # a part that can change (a list read back from a stored finding) raises
    return CANONICAL.encode(principal.to_dict())


_PRINCIPALS: Final[dict[int, tuple[Any, str]]] = {}


def _operation(operation: Operation) -> str:
    return (
        f'{{"action": {_STRING(operation.action)}, "bucket": {_optional(operation.bucket)}, '
        f'"key": {_optional(operation.key)}, "kms_actions": {_strings(operation.kms_actions)}, '
        f'"resource_arn": {_STRING(operation.resource_arn)}, "role": {_STRING(operation.role)}, '
        f'"version_id": {_optional(operation.version_id)}}}'
    )


def answer_around_id(finding: Finding, like: RequestParts | None = None) -> tuple[str, str]:
    """The text of `json.dumps({**finding.to_dict(), "id": ID}, sort_keys=True)` before and
    after ID's text (a batch answer); `like`: as `request_text`'s, for the finding's request."""
    try:
        first, middle, last = _finding_parts(finding)
    except TypeError:
        return around_id(finding.to_dict())
    request = request_text(finding.request, like)
    before = "{" + (f"{first}, " if first else "") + '"id": '
    after = (f", {middle}" if middle else "") + f', "request": {request}'
    return before, after + (f", {last}" if last else "") + "}"


def around_id(answer: Json) -> tuple[str, str]:
    """`json.dumps(answer | {"id": N}, sort_keys=True)` split where N goes."""
    parts = [f"{CANONICAL.encode(k)}: {CANONICAL.encode(v)}" for k, v in sorted(answer.items())]
    at = sum(1 for k in answer if k < "id")
    before = ", ".join([*parts[:at], '"id": '])
    after = ", ".join(["", *parts[at:]]) if at < len(parts) else ""
    return "{" + before, after + "}"


def _finding_parts(finding: Finding) -> tuple[str, str, str]:
    """The members of the finding's sorted JSON but its request, from the texts of its parts:
    those before "id", between "id" and "request", after "request"."""
    if finding.extra:
        raise TypeError("keys `_finding_parts` does not know")
    first = (
        f'"blocked_by": {_layers_named(finding.blocked_by)}, '
        f'"causes": [{", ".join(map(_cause, finding.causes))}], '
        f'"decision": {_STRING(finding.decision.value)}, '
        f'"engine_version": {_STRING(finding.engine_version)}, '
        f'"evaluations": [{", ".join(map(_evaluation, finding.evaluations))}], '
        f'"event_id": {_optional(finding.event_id)}, '
        f'"event_time": {_optional(finding.event_time)}, '
        f'"finding_id": {_STRING(finding.finding_id)}, '
        f'"first_seen": {_optional(finding.first_seen)}'
    )
    middle = (
        f'"last_seen": {_optional(finding.last_seen)}, '
        f'"near_misses": {_json([n.to_dict() for n in finding.near_misses])}, '
        f'"notes": {_strings(finding.notes)}, '
        f'"occurrences": {_json(finding.occurrences)}, '
        f'"remedies": {_json([r.to_dict() for r in finding.remedies])}'
    )
    last = f'"unchecked": {_json([u.to_dict() for u in finding.unchecked])}'
    if finding.what_if:
        last += f', "what_if": [{", ".join(map(_what_if, finding.what_if))}]'
    return first, middle, last


def _cause(cause: Cause) -> str:
    """`cause.to_dict()`'s text."""
    statement = cause.statement
    return (
        f'{{"code": {_STRING(cause.code)}, "confidence": {_STRING(cause.confidence)}, '
        f'"layer": {_STRING(cause.layer.value) if cause.layer else "null"}, '
        f'"message": {_STRING(cause.message)}'
        + ("}" if statement is None else f', "statement": {_statement(statement)}}}')
    )


def _statement(ref: StatementRef) -> str:
    """`ref.to_dict()`'s text."""
    if type(ref.index) is not int:
        raise TypeError("a statement index that is not an integer")
    text = "{"
    if ref.effect is not None:
        text += f'"effect": {_STRING(ref.effect)}, '
    if ref.failed_condition is not None:
        text += f'"failed_condition": {CANONICAL.encode(ref.failed_condition.to_dict())}, '
    text += f'"index": {int.__repr__(ref.index)}, '
    if ref.note is not None:
        text += f'"note": {_STRING(ref.note)}, '
    return text + f'"policy": {_STRING(ref.policy)}, "sid": {_optional(ref.sid)}}}'


def _what_if(what_if: WhatIf) -> str:
    """`what_if.to_dict()`'s text, kept by object: the what-ifs a path's verdict answers are
    the same objects from line to line (`whatif.what_if`). Only one frozen all through."""
    frozen = type(what_if.assumed_values) is tuple and type(what_if.blocked_by) is tuple
    return _kept(_WHAT_IFS, what_if, _what_if_text, keep=frozen)


def _what_if_text(what_if: WhatIf) -> str:
    return (
        f'{{"assumed_values": {_strings(what_if.assumed_values)}, '
        f'"blocked_by": {_layers_named(what_if.blocked_by)}, '
        f'"decision": {_STRING(what_if.decision.value)}, "key": {_STRING(what_if.key)}}}'
    )


_WHAT_IFS: Final[dict[int, tuple[Any, str]]] = {}


def _layers_named(layers: tuple[object, ...]) -> str:
    return "[" + ", ".join(_STRING(layer.value) for layer in layers) + "]"  # type: ignore[attr-defined]


def _evaluation(evaluation: Evaluation) -> str:
    return (
        f'{{"action": {_STRING(evaluation.action)}, '
        f'"blocked_by": {_layers_named(evaluation.blocked_by)}, '
        f'"decision": {_STRING(evaluation.decision.value)}, '
        f'"layers": [{", ".join(map(_layer, evaluation.layers))}], '
        f'"resource_arn": {_STRING(evaluation.resource_arn)}}}'
    )


def _layer(layer: LayerResult) -> str:
    """The layer result's text, kept by object: the explained evaluate gives every request of
    a shape the same objects (frozen, of frozen parts)."""
    return _kept(_LAYERS, layer, _layer_text, keep=True)


def _layer_text(layer: LayerResult) -> str:
    return CANONICAL.encode(layer.to_dict())


_LAYERS: Final[dict[int, tuple[Any, str]]] = {}
