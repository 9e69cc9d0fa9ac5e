"""Detail levels of a finding (DESIGN 3.3): `full`, or `references` for readers of alerts and API.

`references` keeps what points at the configuration — layers, policy ARNs/ids, Sids, statement
indexes, cause and remedy codes, a remedy's target — and drops what copies it out: policy
documents, condition values, patch documents, `aws …` commands, and the engine's prose (cause
messages, near-miss reasons, layer details, notes), which quotes condition values and policy
text. Messages and remedy summaries become their catalog titles, except a scope cause's
(`OUT_OF_SCOPE_*`: the sentence saying why the request was judged on one side, or not at all,
names accounts, services and the event's call, no policy) and the catalog's advice
(`FOLLOW_ADVICE`), whose summary is the catalog's fix filled with the request's bucket, resource
and action only (withheld when the finding is about a missing or unreadable object, which
`references` does not tell apart), and the fix of the diagnoser's own reads
(`GRANT_DIAGNOSER_READ`: permissions, layers, accounts, settings of the deployment). A what-if
keeps its key and verdict, not the values it assumed (they come from policy conditions). Pure.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from ..model import (
    AccessRequest,
    Cause,
    ContextEntry,
    Evaluation,
    Finding,
    Layer,
    LayerResult,
    NearMiss,
    Remedy,
    StatementRef,
)
from .catalog import CauseCode, RemedyCode, entry, remedy_title

OBJECT_UNREADABLE = "The object is missing or not readable by the requester"
"""The cause message of the object-existence layer at `references`: it does not say which."""

_CAUSES = frozenset(c.value for c in CauseCode)
_REMEDIES = frozenset(r.value for r in RemedyCode)
_SCOPE_PREFIX = "OUT_OF_SCOPE_"  # a scope cause's message is the request's scope sentence


class Detail(StrEnum):
    """How much of the configuration a rendering of a finding reveals."""

    FULL = "full"
    REFERENCES = "references"


def at_detail(finding: Finding, detail: Detail) -> Finding:
    """`finding` as shown at `detail`; at `references`, marked `extra={"detail": "references"}`."""
    if detail is Detail.FULL:
        return finding
    advice = all(c.layer is not Layer.OBJECT_EXISTENCE for c in finding.causes)
    return replace(
        finding,
        request=_request(finding.request),
        evaluations=tuple(_evaluation(e) for e in finding.evaluations),
        causes=tuple(_cause(c) for c in finding.causes),
        near_misses=tuple(_near_miss(n) for n in finding.near_misses),
        remedies=tuple(dict.fromkeys(_remedy(r, advice=advice) for r in finding.remedies)),
        notes=(),
        what_if=tuple(replace(w, assumed_values=()) for w in finding.what_if),
        extra={**finding.extra, "detail": Detail.REFERENCES.value},
    )


def _request(request: AccessRequest) -> AccessRequest:
    """Without the policy documents it carries, its notes, or values read from the account."""
    return replace(
        request,
        context=tuple(_context_entry(e) for e in request.context),
        session_policy=None,
        scp_policies=(),
        proposed_policy=None,
        notes=(),
    )


def _context_entry(entry_: ContextEntry) -> ContextEntry:
    """Values the request carried stay; values derived from the account (tags...) go."""
    if entry_.source == "request" or entry_.source.startswith("event:"):
        return entry_
    return replace(entry_, values=())


def _statement(ref: StatementRef) -> StatementRef:
    """Policy, index, Sid and effect; a deciding condition by key and operator only."""
    condition = ref.failed_condition
    return replace(
        ref,
        failed_condition=None,
        note=None
        if condition is None
        else f"decided by condition {condition.key} {condition.operator}",
    )


def _evaluation(evaluation: Evaluation) -> Evaluation:
    return replace(evaluation, layers=tuple(_layer(lr) for lr in evaluation.layers))


def _layer(result: LayerResult) -> LayerResult:
    return replace(result, detail=None, statements=tuple(_statement(s) for s in result.statements))


def _cause(cause: Cause) -> Cause:
    if cause.layer is Layer.OBJECT_EXISTENCE:
        message = OBJECT_UNREADABLE
    elif cause.layer is None and cause.code.startswith(_SCOPE_PREFIX):
        message = cause.message  # the scope sentence: accounts, services, event names only
    else:
        message = entry(CauseCode(cause.code)).title if cause.code in _CAUSES else cause.code
    return replace(
        cause,
        message=message,
        statement=None if cause.statement is None else _statement(cause.statement),
    )


def _near_miss(miss: NearMiss) -> NearMiss:
    why = f"element {miss.element} did not match" if miss.element else "did not match"
    return replace(miss, why=why)


def _remedy(remedy: Remedy, *, advice: bool) -> Remedy:
    """Its catalog title, no patch or command: two fixes that differ only there read the same
    (the exact-key grant and the usual `prefix/*` one), and are shown once. The catalog's
    advice keeps its text when `advice` (it quotes no policy): its title alone says nothing.
    So does the fix of the diagnoser's own reads, which names permissions, layers, accounts
    and the deployment's settings: what whoever runs the diagnoser has to change."""
    if remedy.code == RemedyCode.GRANT_DIAGNOSER_READ or (
        advice and remedy.code == RemedyCode.FOLLOW_ADVICE
    ):
        return replace(remedy, patch=None, cli=None)
    summary = remedy_title(RemedyCode(remedy.code)) if remedy.code in _REMEDIES else remedy.code
    return replace(remedy, summary=summary, patch=None, cli=None)
