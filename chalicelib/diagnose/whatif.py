"""What if the request had said? Condition keys a runbook request did not give (issue 11.5).

A runbook request (`request.event_id is None`) carries only the context keys the user passed.
A policy that tests another key (`aws:SecureTransport`, `aws:SourceIp`…) sees it absent, which
can hide the denial the user is chasing. `what_if` lists those keys — at most `MAX_KEYS`, the
ones the request's actions can carry (`supports_condition_key`) — and evaluates the request
again with each key set to values taken from the conditions that test it (the listed value and
its opposite for Bool, an address inside and outside the listed ranges, a value in and out of a
string list…), keeping the first value that changes the verdict, else the first tried.

Pure: the engine and the standard library; values come from policies, so the `references`
detail level drops them (detail.py).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final, NamedTuple
from urllib.parse import unquote

from ..engine import Verdicts, deciding_with, unread_verdict
from ..engine.context import normalise_key
from ..engine.kms import carried_to_kms
from ..events.actions import supports_condition_key
from ..model import AccessRequest, ContextEntry, Decision, Verdict, WhatIf
from ..snapshot import Snapshot

MAX_KEYS: Final = 8
MAX_VALUES: Final = 4  # values tried per key
SOURCE: Final = "what-if"
UNLISTED: Final = "s3doctor-unlisted-value"
UNLISTED_ARN: Final = "arn:aws:iam::000000000000:role/s3doctor-unlisted"
_OUTSIDE: Final = ("192.0.2.10", "198.51.100.10", "203.0.113.10", "10.255.255.254", "2001:db8::10")
_DATES: Final = ("1970-01-01T00:00:00Z", "2099-12-31T23:59:59Z")


def what_if(request: AccessRequest, snapshot: Snapshot, decision: Decision) -> tuple[WhatIf, ...]:
    """The verdict under each condition key a runbook request did not give; () for events."""
    if request.event_id is not None:
        return ()
    asked = _asked(request, snapshot)
    questions = asked.questions
    if not questions:
        return ()
    unchanged = unread_verdict(request, snapshot, asked.names)
    if unchanged is not None:  # every value tried gives the request's verdict: the first kept
        found = asked.unread.get(unchanged)
        if found is None:
            found = asked.unread[unchanged] = tuple(
                WhatIf(
                    key=key,
                    assumed_values=entries[0].values,
                    decision=unchanged.decision,
                    blocked_by=unchanged.blocked_by,
                )
                for key, entries in questions
                if entries
            )
        return found
    out = []
    decide = deciding_with(request, snapshot)
    for key, entries in questions:
        result = _try(decide, decision, key, entries)
        if result is not None:
            out.append(result)
    return tuple(out)


def unlogged_changes(
    request: AccessRequest, snapshot: Snapshot, decision: Decision, unknown: Iterable[str]
) -> tuple[WhatIf, ...]:
    """Each key absent here that AWS may have had (`unknown`: `resolve.unknown_keys`, an
    organization the snapshot does not hold or, for an event, a key CloudTrail does not log)
    with the first value taken from the policies that changes the verdict. With one, the
    request's verdict is not known."""
    keys = frozenset(key.lower() for key in unknown)
    if not keys:
        return ()
    given = frozenset(entry.name.lower() for entry in request.context)
    decide = deciding_with(request, snapshot)
    out = []
    for key, entries in _work_out(request, snapshot, given, only=keys):
        result = _try(decide, decision, key, entries, changes=_unsettles)
        if result is not None and _unsettles(decision.decision, result.decision):
            out.append(result)
    return tuple(out)


def _unsettles(before: Verdict, after: Verdict) -> bool:
    """A value of a key the request may have had makes the verdict another: allowed where it
    was not (or the reverse), or undecided where it was denied (other layers not read)."""
    undecided = after is Verdict.INCONCLUSIVE and before is not Verdict.INCONCLUSIVE
    return _changes(before, after) or undecided


class _Asked(NamedTuple):
    """The what-if questions of a request (`_asked`)."""

    questions: list[tuple[str, list[ContextEntry]]]  # each key to try, and the entries tried
    names: frozenset[str]  # the keys of the entries tried, as the engine looks them up
    # what `what_if` answers, by the request's verdict, when no step of its path reads them
    unread: dict[Verdicts, tuple[WhatIf, ...]]


def _asked(request: AccessRequest, snapshot: Snapshot) -> _Asked:
    """Each key to try and the entries tried for it, in order. They depend only on the names
    the request gives and its actions (and its own policies, if any): worked out once per
    snapshot for each list of names as given (cheaper to look up than their lowered set)."""
    names = tuple(entry.name for entry in request.context)
    if request.session_policy is not None or request.scp_policies:
        return _ask(request, snapshot, names)
    actions = tuple(op.action for op in request.operations)
    return snapshot.cached(
        ("what-if questions", names, actions), lambda: _ask(request, snapshot, names)
    )


def _ask(request: AccessRequest, snapshot: Snapshot, names: tuple[str, ...]) -> _Asked:
    questions = _work_out(request, snapshot, frozenset(name.lower() for name in names))
    keys = frozenset(normalise_key(entry.name) for _key, entries in questions for entry in entries)
    return _Asked(questions, keys, {})


def _work_out(
    request: AccessRequest,
    snapshot: Snapshot,
    given: frozenset[str],
    only: frozenset[str] | None = None,
) -> list[tuple[str, list[ContextEntry]]]:
    """The keys `_asked` tries (those of `only`, when given: lower-case names)."""
    tested: dict[str, tuple[str, list[tuple[str, tuple[str, ...]]]]] = {}
    for operator, key, values in _tested_conditions(request, snapshot):
        lowered = key.lower()
        if lowered in given or "${" in key or not _carried(request, key):
            continue
        if only is not None and lowered not in only:
            continue
        if lowered not in tested and len(tested) == MAX_KEYS:
            continue
        tested.setdefault(lowered, (key, []))[1].append((operator, values))
    out = []
    for key, conditions in tested.values():
        candidates = dict.fromkeys(v for op, vs in conditions for v in _candidates(op, vs))
        entries = [
            ContextEntry(name=key, values=(value,), type=kind, source=SOURCE)
            for value, kind in list(candidates)[:MAX_VALUES]
        ]
        out.append((key, entries))
    return out


def _carried(request: AccessRequest, key: str) -> bool:
    """Keys of the global `aws:` set or of S3 that one of the request's actions can carry."""
    if key.partition(":")[0].lower() not in ("aws", "s3"):
        return False
    return any(supports_condition_key(op.action, key) is not False for op in request.operations)


def _changes(before: Verdict, after: Verdict) -> bool:
    return (before is Verdict.ALLOWED) != (after is Verdict.ALLOWED)


def _try(
    decide: Callable[[ContextEntry], Verdicts],
    decision: Decision,
    key: str,
    entries: list[ContextEntry],
    *,
    changes: Callable[[Verdict, Verdict], bool] = _changes,
) -> WhatIf | None:
    """The first value of `entries` whose verdict `changes` the decision's (by default: allowed
    where it was not, or the reverse), else the first tried."""
    first: WhatIf | None = None
    for entry in entries:
        try:
            verdict = decide(entry)
        except Exception:  # a value the engine cannot read under this operator: try the next
            continue
        result = WhatIf(
            key=key,
            assumed_values=entry.values,
            decision=verdict.decision,
            blocked_by=verdict.blocked_by,
        )
        if changes(decision.decision, verdict.decision):
            return result
        first = first or result
    return first


# --------------------------------------------------------------------------- candidate values


def _candidates(operator: str, values: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(value, ContextKeyType) pairs worth trying for a condition `operator` over `values`."""
    base = operator.split(":")[-1].removesuffix("IfExists").lower()
    if base == "bool":
        listed = [v.lower() for v in values if v.lower() in ("true", "false")]
        for value in [*listed, "true", "false"]:
            yield value, "boolean"
    elif base in ("ipaddress", "notipaddress"):
        yield from ((v, "ip") for v in _addresses(values))
    elif base.startswith("numeric"):
        yield from ((v, "numeric") for v in _numbers(values))
    elif base.startswith("date"):
        yield from ((v, "date") for v in (*values[:1], *_DATES))
    elif base.startswith("arn"):
        yield from ((_concrete(v), "string") for v in values[:2])
        yield UNLISTED_ARN, "string"
    elif base.startswith("string"):
        yield from ((_concrete(v), "string") for v in values[:2])
        yield UNLISTED, "string"


def _concrete(value: str) -> str:
    """A value a `*Like` pattern matches: wildcards filled in."""
    return value.replace("*", "x").replace("?", "x")


def _addresses(values: tuple[str, ...]) -> list[str]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            continue
    inside = [str(next(iter(n.hosts()), n.network_address)) for n in networks[:2]]
    outside = [a for a in _OUTSIDE if not any(ipaddress.ip_address(a) in n for n in networks)]
    return [*outside[:1], *inside]


def _numbers(values: tuple[str, ...]) -> list[str]:
    out = []
    for value in values[:1]:
        try:
            number = Decimal(value)
        except InvalidOperation:
            continue
        out += [str(number), str(number - 1), str(number + 1)]
    return out


# --------------------------------------------------------------------------- policies


def _tested_conditions(
    request: AccessRequest, snapshot: Snapshot
) -> list[tuple[str, str, tuple[str, ...]]]:
    """The conditions of every policy of the snapshot (read once per snapshot), then of the
    request (session policy, SCPs), in document order."""
    own = snapshot.cached(
        ("what-if conditions",), lambda: list(_conditions(_policies(snapshot.document)))
    )
    if request.session_policy is None and not request.scp_policies:
        return own
    extra = (request.session_policy, *request.scp_policies)
    return [*own, *_conditions(p for policy in extra for p in _policies(policy))]


def _policies(value: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, str) and "Statement" in value:  # a document kept as (URL-encoded) text
        try:
            value = json.loads(unquote(value) if value.startswith("%") else value)
        except ValueError:
            return
    if isinstance(value, Mapping):
        if "Statement" in value:
            yield value
            return
        for child in value.values():
            yield from _policies(child)
    elif isinstance(value, list):
        for child in value:
            yield from _policies(child)


def _conditions(
    documents: Iterator[Mapping[str, Any]],
) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(operator, key, values) of every condition of every statement, in document order."""
    for document in documents:
        statements = document.get("Statement")
        if isinstance(statements, Mapping):
            statements = [statements]
        if not isinstance(statements, list):
            continue
        for statement in statements:
            condition = statement.get("Condition") if isinstance(statement, Mapping) else None
            if not isinstance(condition, Mapping):
                continue
            kms_only = _kms_only(statement)
            for operator, block in condition.items():
                if not isinstance(block, Mapping) or "null" in str(operator).lower():
                    continue
                for key, raw in block.items():
                    if kms_only and not carried_to_kms(str(key)):
                        continue  # no value the S3 request gives reaches that statement
                    values = raw if isinstance(raw, list) else [raw]
                    yield str(operator), str(key), tuple(str(v) for v in values)


def _kms_only(statement: Mapping[str, Any]) -> bool:
    """A statement whose Action names KMS actions alone: it decides S3's call to KMS only."""
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions
    return (
        isinstance(actions, list)
        and bool(actions)
        and all(isinstance(a, str) and a.lower().startswith("kms:") for a in actions)
    )
