"""Explanations remembered per request shape: the explained `evaluate` of a batch, once a path.

`evaluate` asks more questions than `decide` (every condition of a reported statement), so its
decisions are remembered in trees of their own, built as `verdict_cache` builds the verdict
trees: the first request of a shape is explained in full, the second under a `Trace`, and its
steps and decision become one path; a later request follows the tree while every step gives a
recorded answer. A leaf holds the decision of the path's first request (`_Told`), which is
another request's once the parts that come from the request without a recorded question are
its own:
- the resource of an evaluation that is a key-bearing resource string (the object ARN, its
  access point form: the S3 and access point legs, a missing object's 404/403 check): the
  request's string of that slot;
- a reported condition's actual values (`Condition.failure` reads them past the trace: they go
  into the explanation only): the request's values of that key.
Any other text of the decision that names an object key of the request, as written or quoted
by `repr` (a missing object's detail, say, or any text at all with a key as short as "a"),
would have to be rebuilt: such a decision is not remembered, and the path is recorded again
by a later request (at most `MAX_PATHS` recordings a shape). A leaf also keeps the context keys
its path's steps read: what-if asks the request's verdict under keys none of them reads
(`unread`). Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import field, fields, is_dataclass
from typing import Final

from ..lean_dataclass import dataclass
from ..model import (
    AccessRequest,
    ConditionFailure,
    Decision,
    Evaluation,
    LayerResult,
    StatementRef,
)
from ..snapshot import Snapshot
from .context import RequestContext, normalise_key
from .hits import Step, traced
from .verdict_cache import (
    DIRECT_KEYS,
    MAX_PATHS,
    MAX_SHAPES,
    Shape,
    _grow,
    _Leaf,
    _shape,
    _Step,
    _walk,
)

_UNSEEN: Final = _Leaf(None)  # a marker: the shape has not come before


@dataclass(frozen=True, slots=True)
class _Told:
    """A remembered explanation and how to make it another request's."""

    decision: Decision
    # Per evaluation to patch: (its index, the slot of its resource or None, per layer index the
    # statement indexes whose condition values are the request's, with the key they read).
    places: tuple[tuple[int, int | None, tuple[tuple[int, tuple[tuple[int, str], ...]], ...]], ...]
    reads: frozenset[str]  # every context key a step of the path reads
    verdict: object  # what `deciding_with` gives for an entry no step reads


@dataclass(slots=True)
class _Explanations:
    """The explanation trees of one snapshot, and the request last explained from one."""

    trees: dict[tuple[object, ...], _Step | _Leaf | None] = field(default_factory=dict)
    paths: dict[tuple[object, ...], int] = field(default_factory=dict)
    # the request last explained from a path: its path, verdict shape and context
    last: tuple[AccessRequest, _Told, Shape, RequestContext] | None = None

    def last_for(self, request: AccessRequest) -> _Told | None:
        """The path of the request last explained, if it is this very request (the same
        object, not an equal one)."""
        last = self.last
        return None if last is None or last[0] is not request else last[1]


def _explanations(snapshot: Snapshot) -> _Explanations:
    """The explanation trees of `snapshot` (made on first use)."""
    found: _Explanations = snapshot.cached(("explanations",), _Explanations)
    return found


def explain(
    request: AccessRequest,
    snapshot: Snapshot,
    compute: Callable[[], Decision],
    verdict_of: Callable[[Decision], object],
) -> Decision:
    """`compute()` (the explained decision of `request`), or the remembered explanation of its
    path with the request's own resource strings and condition values.

    As in `decide`: a shape's tree starts the second time the shape comes, a path is recorded
    while `compute` runs under a `Trace`, and a later request follows it while every step gives
    a recorded answer. `verdict_of` is the verdict `deciding_with` gives for the request (the
    same rules as the decision's).
    """
    shape = _shape(request, snapshot)
    if shape is None:
        return compute()
    key, slots = shape
    cache = _explanations(snapshot)
    cache.last = None
    trees = cache.trees
    root = trees.get(key, _UNSEEN)
    if root is _UNSEEN:
        if len(trees) >= MAX_SHAPES:
            trees.clear()
            cache.paths.clear()
        trees[key] = None
        return compute()
    ctx = RequestContext.from_request(request)
    if root is not None:
        found = _walk(root, slots, ctx)
        if found is not None:
            told = found.verdict
            if not isinstance(told, _Told):
                return compute()  # the shape reads its key or context another way
            cache.last = (request, told, shape, ctx)
            return _patched(told, slots, ctx)
    paths = cache.paths.get(key, 0)
    if paths >= MAX_PATHS:  # a shape whose answers keep differing, or its texts name its keys
        return compute()
    cache.paths[key] = paths + 1
    decision, trace = traced(slots, compute)
    if trace.opaque:
        if root is None:
            trees[key] = _Leaf(None)
        return decision
    told = _told(decision, request, slots, trace.steps, verdict_of(decision))
    if told is not None:  # else the path is tried again with the next request's key
        trees[key] = _grow(root, trace.steps, _Leaf(told))
        cache.last = (request, told, shape, ctx)
    return decision


def unread(request: AccessRequest, snapshot: Snapshot, names: frozenset[str]) -> object | None:
    """The verdict of `request` with an entry of any of `names` (normalised keys) added, when
    `explain` has just explained this very request (the same object) from a remembered path
    none of whose steps reads one of them, and none is one of `DIRECT_KEYS`; else None."""
    told = _explanations(snapshot).last_for(request)
    if told is None or not names.isdisjoint(told.reads) or not names.isdisjoint(DIRECT_KEYS):
        return None
    return told.verdict


def last_taken(request: AccessRequest, snapshot: Snapshot) -> tuple[Shape, RequestContext] | None:
    """(its verdict shape, its context) when `explain` has just explained this very request
    from a path: what `verdict_cache.deciding_with` would take of it again."""
    last = _explanations(snapshot).last
    return None if last is None or last[0] is not request else (last[2], last[3])


def last_path(request: AccessRequest, snapshot: Snapshot) -> tuple[frozenset[str], object] | None:
    """(the keys the steps of its path read, its verdict) when `explain` has just explained
    this very request from a remembered path; else None."""
    told = _explanations(snapshot).last_for(request)
    return None if told is None else (told.reads, told.verdict)


def _told(
    decision: Decision,
    request: AccessRequest,
    slots: tuple[str, ...],
    steps: list[Step],
    verdict: object,
) -> _Told | None:
    """The patch plan of `decision`, or None when some other text of it names the key."""
    places = []
    for index, evaluation in enumerate(decision.evaluations):
        slot = slots.index(evaluation.resource_arn) if evaluation.resource_arn in slots else None
        layers = []
        for number, layer in enumerate(evaluation.layers):
            refs = tuple(
                (i, normalise_key(ref.failed_condition.key))
                for i, ref in enumerate(layer.statements)
                if ref.failed_condition is not None
            )
            if refs:
                layers.append((number, refs))
        if slot is not None or layers:
            places.append((index, slot, tuple(layers)))
    # Each operation's key (a copy reads one and writes another), as written or quoted by
    # `repr` (a missing key's detail): escapes change its text.
    forms = {form for op in request.operations if op.key is not None for form in _forms(op.key)}
    if forms and any(form in text for text in _texts(decision, slots) for form in forms):
        return None
    reads = frozenset(key for step in steps for key in step.reads)
    return _Told(decision, tuple(places), reads, verdict)


def _forms(key: str) -> tuple[str, str]:
    return key, repr(key)[1:-1]


def _texts(value: object, slots: tuple[str, ...]) -> Iterator[str]:
    """Every string of a decision but those `_patched` replaces."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _texts(item, slots)
    elif is_dataclass(value):
        for one in fields(value):
            if isinstance(value, ConditionFailure) and one.name == "actual":
                continue
            if (
                isinstance(value, Evaluation)
                and one.name == "resource_arn"
                and value.resource_arn in slots
            ):
                continue
            yield from _texts(getattr(value, one.name), slots)


def _patched(told: _Told, slots: tuple[str, ...], ctx: RequestContext) -> Decision:
    """The remembered decision with the request's resource strings and condition values.

    Built with the constructors (a test holds the fields copied to the dataclasses'): a third
    of the time of `dataclasses.replace`."""
    decision = told.decision
    if not told.places:
        return decision
    evaluations = list(decision.evaluations)
    for index, slot, layers in told.places:
        evaluation = evaluations[index]
        results = evaluation.layers
        for number, refs in layers:
            result = results[number]
            statements = list(result.statements)
            changed = False
            for i, lookup in refs:
                ref = statements[i]
                failure = ref.failed_condition
                assert failure is not None
                actual = ctx.lookup(lookup)
                if actual != failure.actual:
                    failure = ConditionFailure(
                        key=failure.key,
                        operator=failure.operator,
                        expected=failure.expected,
                        actual=actual,
                    )
                    statements[i] = StatementRef(
                        policy=ref.policy,
                        index=ref.index,
                        sid=ref.sid,
                        effect=ref.effect,
                        failed_condition=failure,
                        note=ref.note,
                    )
                    changed = True
            if changed:
                results = (
                    *results[:number],
                    LayerResult(
                        layer=result.layer,
                        outcome=result.outcome,
                        statements=tuple(statements),
                        detail=result.detail,
                        level=result.level,
                    ),
                    *results[number + 1 :],
                )
        evaluations[index] = Evaluation(
            action=evaluation.action,
            resource_arn=evaluation.resource_arn if slot is None else slots[slot],
            decision=evaluation.decision,
            blocked_by=evaluation.blocked_by,
            layers=results,
        )
    return Decision(
        decision=decision.decision,
        blocked_by=decision.blocked_by,
        evaluations=tuple(evaluations),
        unchecked=decision.unchecked,
        notes=decision.notes,
    )
