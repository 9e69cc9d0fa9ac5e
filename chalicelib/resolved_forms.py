"""What the snapshot makes of a request (`pipeline`'s completion: `resolve_principal` and
`derived_notes`), remembered per *form* of request: the lines of a batch or the events of a
replay that differ only in their object key and in context values resolution never reads get
the entries, the principal and the notes the first of them got.

What resolution reads of a request (`engine.resolve`):

- its principal, its access point, its bucket account and its notes, and whether it is an
  event's;
- its operation's action and bucket, and the object's own record by its key (tags): an object
  the snapshot lists is never remembered, and no other object has a record;
- the names and sources of its context entries, in order;
- the entries of `READ_KEYS` whole: the owner's account and the endpoint, whose organizations
  and VPC it adds; the owner's account it corrects when the record named none; the derived
  `aws:PrincipalArn` it swaps; the auth type of its unlogged-key notes.

The form is those, with the request's verdict shape (`verdict_cache`), which holds its other
fields but the object key and the context (not all read; kept in the form all the same). A
completion is remembered when all it did was append entries, replace entries of `READ_KEYS` (a
function of the form, which holds them whole), and set the principal and the notes: every
other field is the request's very object (not a request on an access point alias, whose
operation resolution rewrites). The tests put every golden scenario's requests and a grid of
requests on an account where resolution adds all it can through both ways, and watch which
entries' values and types resolution reads.

Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from operator import attrgetter
from typing import Final, NamedTuple

from .engine.context import places_of
from .engine.resolve import keep_resolution
from .engine.verdict_cache import shape_key
from .model import AccessRequest, ContextEntry, Principal
from .snapshot import Snapshot

READ_KEYS: Final = frozenset(
    {
        "aws:resourceaccount",
        "s3:resourceaccount",
        "aws:sourcevpce",
        "aws:vpceaccount",
        "aws:principalarn",
        "s3:authtype",
    }
)
"""The context keys (lower-case) whose entries resolution reads beyond their names."""

MAX_FORMS: Final = 4096  # per snapshot; then afresh


class _Completion(NamedTuple):
    """What completing a request of the form did: the entries appended, the principal and the
    notes set (None: the request's own kept). A named tuple: a dataclass costs a millisecond
    of every command's start-up."""

    added: tuple[ContextEntry, ...]
    replaced: tuple[tuple[int, ContextEntry], ...]  # (place, entry) of the given ones
    principal: Principal | None
    notes: tuple[str, ...] | None


def completed(
    request: AccessRequest,
    snapshot: Snapshot,
    complete: Callable[[AccessRequest, Snapshot], AccessRequest],
) -> AccessRequest:
    """`complete(request, snapshot)`, or what it made of an earlier request of the same form,
    made of this one."""
    form = _form(request, snapshot)
    if form is None:
        return complete(request, snapshot)
    forms: dict[tuple[object, ...], _Completion] = snapshot.cached(("resolved forms",), dict)
    known = forms.get(form)
    if known is not None:
        return _made(request, snapshot, known)
    out = complete(request, snapshot)
    completion = _completion(request, out)
    if completion is not None:
        if len(forms) >= MAX_FORMS:
            forms.clear()
        forms[form] = completion
    return out


def _made(request: AccessRequest, snapshot: Snapshot, known: _Completion) -> AccessRequest:
    """The request completed as `known` says, kept as resolved (`resolve.keep_resolution`),
    as `complete` leaves it: the engine resolves it again at its evaluation."""
    context = request.context
    if known.replaced:
        swapped = list(context)
        for at, entry in known.replaced:
            swapped[at] = entry
        context = tuple(swapped)
    if known.added:
        context += known.added
    resolved = request if context is request.context else request.with_context(context)
    if known.principal is not None:
        resolved = replace(resolved, principal=known.principal)
    keep_resolution(snapshot, request, resolved)
    if known.notes is None:
        return resolved
    out = replace(resolved, notes=known.notes)
    keep_resolution(snapshot, out, out)
    return out


def _completion(request: AccessRequest, out: AccessRequest) -> _Completion | None:
    """What completing `request` into `out` did, when it only appended entries, replaced
    entries of `READ_KEYS` (each a function of the form, which holds them whole), and set the
    principal and the notes; else None (not remembered)."""
    given, context = request.context, out.context
    if len(context) < len(given):
        return None
    if any(getattr(out, name) is not getattr(request, name) for name in _KEPT_FIELDS):
        return None
    replaced = []
    for at, (before, after) in enumerate(zip(given, context, strict=False)):
        if before is not after:
            if before.name.lower() not in READ_KEYS:
                return None
            replaced.append((at, after))
    return _Completion(
        context[len(given) :],
        tuple(replaced),
        None if out.principal is request.principal else out.principal,
        None if out.notes is request.notes else out.notes,
    )


_KEPT_FIELDS: Final = tuple(
    name
    for name in AccessRequest.__dataclass_fields__
    if name not in ("principal", "context", "notes")
)


def _form(request: AccessRequest, snapshot: Snapshot) -> tuple[object, ...] | None:
    """Everything resolution reads of `request` (and its other fields but the object key and
    the context values it does not read), or None when the request is not remembered: its
    verdict shape (`verdict_cache.shape_key`: every field but the object key and the context;
    None for several operations, its own policies, an object the snapshot has a record of), and
    the context's names, sources and `READ_KEYS` entries, the notes and whether it is an
    event's."""
    shape = shape_key(request, snapshot)
    if shape is None:
        return None
    context = request.context
    names = tuple(map(_NAME, context))
    return (
        shape,
        names,
        tuple(map(_SOURCE, context)),
        tuple(context[at] for at in places_of(names, READ_KEYS)),
        request.notes,
        request.event_id is not None,
    )


_NAME: Final = attrgetter("name")
_SOURCE: Final = attrgetter("source")
