"""The diagnosis: Decision -> Finding (causes, near misses, remedies, unchecked layers).

`diagnose(request, snapshot, decision, ...)` is pure apart from re-running the engine to verify
remedies; the renderers turn a Finding into terminal text, Markdown, JSON and chat messages.
Never imports boto3, botocore or chalice.
"""

from __future__ import annotations

from dataclasses import replace

from ..engine.resolve import unknown_keys
from ..model import AccessRequest, Cause, Decision, Finding, Remedy, Scope, Verdict, WhatIf
from ..snapshot import Snapshot
from .catalog import CauseCode
from .causes import causes_by_evaluation, scope_cause
from .near_misses import find_near_misses
from .remedies import find_remedies
from .render import (
    render_chatbot,
    render_json,
    render_markdown,
    render_text,
    subject,
)
from .sides import Sides, labelled_text, sides_of
from .unchecked import hint_mismatch, unchecked_layers, unlogged_cause, verdict_causes
from .whatif import unlogged_changes, what_if

__all__ = [
    "diagnose",
    "render_chatbot",
    "render_json",
    "render_markdown",
    "render_text",
    "subject",
]


def diagnose(
    request: AccessRequest,
    snapshot: Snapshot,
    decision: Decision,
    *,
    finding_id: str,
    engine_version: str,
    now: str | None = None,
    verify_remedies: bool = True,
) -> Finding:
    """The finding for one evaluated request.

    `now` becomes `first_seen`/`last_seen` (None keeps golden files free of timestamps).
    `verify_remedies=False` skips re-evaluating each patch (for bulk replays).
    """
    if request.scope is Scope.OUT_OF_SCOPE:
        return _not_diagnosed(request, decision, finding_id, engine_version, now)
    unknown = unknown_keys(request, snapshot, from_event=request.event_id is not None)
    hidden = unlogged_changes(request, snapshot, decision, unknown)
    turns = unlogged_cause(decision, hidden, unknown) if hidden else None
    if hidden:  # a key the request cannot carry decides: its verdict is not known
        decision = replace(decision, decision=Verdict.INCONCLUSIVE)
    sides = sides_of(request, snapshot, decision)
    request = _with_scope(request, snapshot, sides)
    misses = find_near_misses(request, snapshot, decision)
    pairs = causes_by_evaluation(
        request, decision, misses, both_sides=sides.both, requester_only=sides.requester_only
    )
    if hidden:
        pairs = [(index, replace(cause, confidence="possible")) for index, cause in pairs]
    unchecked = unchecked_layers(request, decision, snapshot)
    extra = [] if turns else list(verdict_causes(request, decision, unchecked, snapshot))
    mismatch = hint_mismatch(request, decision)
    if mismatch is not None:
        extra.append(mismatch)
    known = {c.code for _, c in pairs}
    pairs += [(None, cause) for cause in extra if cause.code not in known]
    remedies = find_remedies(
        request, snapshot, decision, pairs, misses, verify=verify_remedies, sides=sides
    )
    if turns is not None:  # first; no fix sets a key the client does not choose
        pairs.insert(0, (None, turns))
        remedies = tuple(r for r in remedies if not _sets_any(r, hidden))
    pairs = [(index, _labelled(cause, index, decision, sides)) for index, cause in pairs]
    return Finding(
        finding_id=finding_id,
        request=request,
        decision=decision.decision,
        blocked_by=decision.blocked_by,
        evaluations=decision.evaluations,
        engine_version=engine_version,
        event_id=request.event_id,
        event_time=request.event_time,
        causes=tuple(cause for _, cause in pairs),
        near_misses=tuple(m.near_miss for m in misses),
        remedies=remedies,
        unchecked=unchecked,
        notes=decision.notes,
        first_seen=now,
        last_seen=now,
        what_if=hidden or (what_if(request, snapshot, decision) if verify_remedies else ()),
    )


def _not_diagnosed(
    request: AccessRequest,
    decision: Decision,
    finding_id: str,
    engine_version: str,
    now: str | None,
) -> Finding:
    """The finding of a request the engine does not model (a Multi-Region Access Point, S3
    Object Lambda, a directory bucket, an unknown operation or identity): why it is not
    diagnosed, and no verdict, layer, cause or fix drawn from judging it as something else."""
    return Finding(
        finding_id=finding_id,
        request=request,
        decision=Verdict.INCONCLUSIVE,
        blocked_by=(),
        evaluations=(),
        engine_version=engine_version,
        event_id=request.event_id,
        event_time=request.event_time,
        causes=(scope_cause(request, CauseCode.OUT_OF_SCOPE_UNSUPPORTED),),
        near_misses=(),
        remedies=(),
        unchecked=(),
        notes=decision.notes,
        first_seen=now,
        last_seen=now,
    )


def _with_scope(request: AccessRequest, snapshot: Snapshot, sides: Sides) -> AccessRequest:
    """A request from another account than the snapshot's is cross-account: judged on both
    sides when the requester's account is in the snapshot, else on the bucket owner's side
    (a runbook-style request says so here; an event's parser said so already). A request on
    a bucket of another account than the snapshot's, which the snapshot does not hold, is
    judged on the requester's side alone (`Sides.requester_side_reason`)."""
    if sides.both and request.scope in (Scope.SAME_ACCOUNT, Scope.CROSS_ACCOUNT):
        return replace(request, scope=Scope.CROSS_ACCOUNT, scope_reason=sides.scope_reason())
    if request.scope is Scope.CROSS_ACCOUNT and sides.requester_only:
        reason = sides.requester_side_reason()
        return replace(request, scope=Scope.CROSS_ACCOUNT, scope_reason=reason)
    account = request.principal.account_id
    if request.scope is not Scope.SAME_ACCOUNT or not account or account == snapshot.account_id:
        return request
    reason = (
        f"the requester is in account {account}, the bucket in {snapshot.account_id}: "
        "only the bucket owner's side is evaluated"
    )
    return replace(request, scope=Scope.CROSS_ACCOUNT, scope_reason=reason)


def _labelled(cause: Cause, index: int | None, decision: Decision, sides: Sides) -> Cause:
    """The cause under the name of the account it is about, when several were judged."""
    evaluation = decision.evaluations[index] if index is not None else None
    label = sides.label(sides.layer_account(cause.layer, evaluation))
    if label is None:
        return cause
    return replace(cause, message=labelled_text(label, cause.message))


def _sets_any(remedy: Remedy, hidden: tuple[WhatIf, ...]) -> bool:
    """Whether `remedy` asks the request to carry one of the keys of `hidden`."""
    patch = remedy.patch or {}
    keys = {w.key.lower() for w in hidden}
    context = patch.get("context") if patch.get("kind") == "request" else None
    return isinstance(context, dict) and any(str(k).lower() in keys for k in context)
