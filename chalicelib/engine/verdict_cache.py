"""Verdicts remembered per request shape, so a batch of similar requests is decided once.

Requests of a batch mostly repeat one requester, action and bucket and differ in the object key
and in context the policies never test (each CloudTrail event has its own time and source IP).
The *shape* of a request is everything the engine reads of it except the object key and the
context. For one shape the verdict can change only through what the decision asks of the key
and of the context: the Resource elements it matches the key against, the answer of each
condition it evaluates, and any other context key it reads (a policy variable, an S3 rule).
The first request of a shape is decided in full while a `Trace` records those questions and
their answers, step by step, in the order the engine asked them (`hits.TracingContext` records
the context side); the steps and the verdict become one path of a decision tree kept on the
snapshot. A later request of the same shape puts the same questions to its own key and context:
it follows the tree while every step gives a recorded answer, and takes the verdict at the end.
The engine is deterministic, reads the key and the context nowhere else, and asks its next
question according to the previous answers, so the same answers mean the same verdict. A step
that answers differently ends the walk: the request is decided in full and its path is added to
the tree. So a source IP or a time costs nothing unless a condition reads it, and then only
that condition is evaluated again.

The engine reads a few header keys with `AccessRequest.context_value` instead of its context
(`DIRECT_KEYS`, KMS's choice of key): their values are part of the shape.

The explained `evaluate` is remembered the same way, in trees of its own (`explanations`). A
verdict tree's leaf also keeps the identity-type scans of the decision that grew its path, for
fix verification (`remembered_scans`).

Not cached (decided in full every time): several operations (CopyObject, DeleteObjects), a
session policy, SCPs or a proposed policy given with the request (unhashable documents), an
object the snapshot has its own record of (its ACL, owner, lock and encryption are the key's),
and a decision whose trace is `opaque` (the key entered a KMS encryption context).
Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from operator import attrgetter
from typing import Final, TypeVar

from ..arn import access_point_object_arn
from ..lean_dataclass import dataclass
from ..model import AccessRequest, ContextEntry
from ..snapshot import Bucket, Snapshot
from .context import RequestContext, normalise_key, places_of
from .hits import Scan, Step, scans_of, traced

V = TypeVar("V")

# Context keys the engine reads from the request itself, not through its RequestContext (so no
# trace sees the read): their values are part of the shape. A test holds this to the engine.
DIRECT_KEYS: Final = frozenset(
    {
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "s3:x-amz-server-side-encryption",
        "s3:x-amz-server-side-encryption-bucket-key-enabled",
    }
)

MAX_SHAPES: Final = 4096  # per snapshot; the cache starts afresh when full
MAX_REPEATS: Final = 16384  # whole requests remembered per snapshot (then afresh)
MAX_MISSES: Final = 1024  # whole-request lookups in a row without a hit: then no more
MAX_PATHS: Final = 512  # per shape: then its tree stops growing (a key read with many values)

# The AccessRequest fields of a shape; a request that sets one of `UNCACHED_FIELDS` is decided in
# full; the engine never reads `UNREAD_FIELDS`. A test holds the three sets to the dataclass.
SHAPE_FIELDS: Final = frozenset(
    {
        "principal",
        "operations",
        "context",
        "region",
        "kms_key_arn",
        "vpc_endpoint_id",
        "access_point_arn",
        "bucket_account",
        "scope",
    }
)
UNCACHED_FIELDS: Final = frozenset({"session_policy", "scp_policies", "proposed_policy"})
UNREAD_FIELDS: Final = frozenset(
    {
        "event_id",
        "shared_event_id",
        "event_time",
        "event_name",
        "scope_reason",
        "denial_hint",
        "notes",
    }
)


@dataclass(slots=True)
class _Step:
    """One recorded question, and where each answer to it leads."""

    step: Step
    after: dict[object, _Step | _Leaf] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Leaf:
    verdict: object
    # The identity-type scans of the decision that grew the path (`hits.scans_of`): (action,
    # resource or the position of the key-bearing resource string in the request's slots,
    # context or None for the request's own).
    scans: tuple[tuple[str, str | int, RequestContext | None], ...] | None = None


_UNSEEN: Final = _Leaf(None)  # a marker: the shape has not come before


def decide(request: AccessRequest, snapshot: Snapshot, compute: Callable[[], V]) -> V:
    """`compute()` (the full decision of `request`), or the remembered verdict of its shape.

    A shape's tree is started the second time the shape comes: requests that never repeat
    (each with its own source IP, say) cost one lookup, not a trace.
    """
    shape = _shape(request, snapshot)
    if shape is None:
        return compute()
    key, slots = shape
    trees: dict[tuple[object, ...], _Step | _Leaf | None] = snapshot.verdicts
    root = trees.get(key, _UNSEEN)
    if root is _UNSEEN:
        if len(trees) >= MAX_SHAPES:
            trees.clear()
            _path_counts(snapshot).clear()
        trees[key] = None
        return compute()
    if root is not None:
        # The same request again (shape, context and key-bearing strings): the verdict of its
        # last walk. Identical lines cost a lookup, not a context and condition answers.
        repeats = _repeats(snapshot)
        exact = (key, request.context, slots) if repeats.looking else None
        found = None if exact is None else repeats.find(exact)
        ctx = None
        if found is None:
            ctx = RequestContext.from_request(request)
            found = _walk(root, slots, ctx)
            if found is not None and exact is not None:
                repeats.keep(exact, found)
        if found is not None:
            repeats.walked(request, found, slots, ctx)
            return found.verdict  # type: ignore[return-value]
    counts = _path_counts(snapshot)
    paths = counts.get(key, 0)
    if paths >= MAX_PATHS:  # a shape whose answers keep differing: its tree grows no more
        return compute()
    (verdict, scans), trace = traced(slots, lambda: scans_of(compute))
    if not trace.opaque:
        trees[key] = _grow(root, trace.steps, _Leaf(verdict, _slotted(scans, trace.slots)))
        counts[key] = paths + 1
    return verdict


def _slotted(
    scans: list[Scan], slots: Mapping[str, int]
) -> tuple[tuple[str, str | int, RequestContext | None], ...]:
    """The scans with each key-bearing resource by its slot, and the request's own context (the
    one the trace records reads of: `hits.request_context`) as None."""
    return tuple(
        (action, slots.get(resource, resource), None if ctx.traced else ctx)
        for action, resource, ctx in scans
    )


def remembered_scans(request: AccessRequest, snapshot: Snapshot) -> list[Scan] | None:
    """The identity-type scans the full decision of `request` (its principal resolved) makes on
    `snapshot`, in order, from the leaf its shape's tree gives it; None when the tree does not
    answer.

    The request that grew the path answered every step alike: the engine took the same course
    on both, so it made the same scans, but for the key-bearing resource strings and the
    request's context, each the request's own (a context the trace did not see is no function
    of the key or the context: it is the shape's).
    """
    last = _repeats(snapshot).last.get(id(request))
    found: _Leaf | None
    if last is not None and last[0] is request:
        _, found, slots, kept = last
        own = kept or RequestContext.from_request(request)
    else:
        shape = _shape(request, snapshot)
        root = None if shape is None else snapshot.verdicts.get(shape[0])
        if shape is None or root is None:
            return None
        slots = shape[1]
        own = RequestContext.from_request(request)
        found = _walk(root, slots, own)
    if found is None or found.scans is None:
        return None
    return [
        (action, slots[r] if isinstance(r, int) else r, own if ctx is None else ctx)
        for action, r, ctx in found.scans
    ]


MAX_LAST: Final = 64
"""Requests whose last walk `_Repeats.last` keeps, per snapshot."""


@dataclass(slots=True)
class _Repeats:
    """Leaves reached by whole requests, looked up while requests do repeat: after
    `MAX_MISSES` lookups in a row that found nothing (a replay: each request its own time and
    source IP), it stops (hashing a request's whole context costs about as much as a walk)."""

    leaves: dict[tuple[object, ...], _Leaf] = field(default_factory=dict)
    misses: int = 0
    looking: bool = True
    # The leaf the last requests' walks reached, by object (the request kept, so that its id is
    # not reused meanwhile), with their key-bearing strings and context: `remembered_scans`
    # of a request just decided (fix verification asks for the scans of the decision it made).
    last: dict[int, tuple[AccessRequest, _Leaf, tuple[str, ...], RequestContext | None]] = field(
        default_factory=dict
    )

    def walked(
        self,
        request: AccessRequest,
        leaf: _Leaf,
        slots: tuple[str, ...],
        ctx: RequestContext | None,
    ) -> None:
        if len(self.last) >= MAX_LAST:
            self.last.clear()
        self.last[id(request)] = (request, leaf, slots, ctx)

    def find(self, exact: tuple[object, ...]) -> _Leaf | None:
        found = self.leaves.get(exact)
        if found is not None:
            self.misses = 0
            return found
        self.misses += 1
        if self.misses >= MAX_MISSES:
            self.looking = False
            self.leaves.clear()
        return None

    def keep(self, exact: tuple[object, ...], leaf: _Leaf) -> None:
        if self.looking:
            if len(self.leaves) >= MAX_REPEATS:
                self.leaves.clear()
            self.leaves[exact] = leaf


def _repeats(snapshot: Snapshot) -> _Repeats:
    """Leaves reached by whole requests (one per snapshot)."""
    repeats: _Repeats = snapshot.cached(("verdict-repeats",), _Repeats)
    return repeats


def shape_key(request: AccessRequest, snapshot: Snapshot) -> tuple[object, ...] | None:
    """The key of the shape of `request` (as `decide` sees it: the principal resolved), or
    None when it is not cached."""
    shape = _shape(request, snapshot)
    return None if shape is None else shape[0]


def remembered(
    key: tuple[object, ...],
    slots: tuple[str, ...],
    context: RequestContext,
    snapshot: Snapshot,
) -> object | None:
    """The verdict the tree of shape `key` gives a request with these key-bearing resource
    strings and this context, or None when the tree does not answer (`decide` does then)."""
    root = snapshot.verdicts.get(key)
    if root is None:
        return None
    found = _walk(root, slots, context)
    return None if found is None else found.verdict


def deciding_with(
    request: AccessRequest,
    snapshot: Snapshot,
    decide: Callable[[AccessRequest], V],
    *,
    walk: Callable[[], bool],
    told: tuple[frozenset[str], V] | None = None,
    taken: tuple[Shape, RequestContext] | None = None,
) -> Callable[[ContextEntry], V]:
    """For an entry: `decide(request with the entry added to its context)`, or the verdict the
    tree of the request's shape gives it (when `walk()`: the request's principal needs no
    resolution). The shape is the same with the entry, unless it is one of `DIRECT_KEYS`: the
    context is not part of it. The shape and the context are taken once for all entries, when
    an entry first needs them.

    `told`: (the keys the steps of the request's explained path read, the request's verdict),
    when `explanations.explain` has just explained this very request from a remembered path: an
    entry whose key none of them reads changes no answer, the verdict without a walk; `taken`:
    (its shape, its context) as that explanation took them (its principal needed none)."""
    known: list[tuple[Shape | None, RequestContext]] = [] if taken is None else [taken]

    def one(entry: ContextEntry) -> V:
        direct = entry.name.lower() in DIRECT_KEYS
        if told is not None and not direct and normalise_key(entry.name) not in told[0]:
            return told[1]
        if not known:
            shape = _shape(request, snapshot) if walk() else None
            known.append((shape, RequestContext.from_request(request)))
        shape, base = known[0]
        root = None if shape is None or direct else snapshot.verdicts.get(shape[0])
        if shape is not None and root is not None:
            found = _walk(root, shape[1], base.with_entries({entry.name: entry.values}))
            if found is not None:
                return found.verdict  # type: ignore[return-value]
        return decide(request.with_context((*request.context, entry)))

    return one


def _path_counts(snapshot: Snapshot) -> dict[tuple[object, ...], int]:
    """Paths added to each shape's tree (one dict per snapshot)."""
    counts: dict[tuple[object, ...], int] = snapshot.cached(("verdict-paths",), dict)
    return counts


def _walk(node: _Step | _Leaf, slots: tuple[str, ...], ctx: RequestContext) -> _Leaf | None:
    while isinstance(node, _Step):
        found = node.after.get(node.step.ask(slots, ctx))
        if found is None:
            return None
        node = found
    return node


def _grow(root: _Step | _Leaf | None, steps: list[Step], leaf: _Leaf) -> _Step | _Leaf:
    """The tree with the path `steps` → `leaf` added (the shared prefix is followed)."""
    if root is None:
        return _path(steps, leaf)
    node = root
    for i, step in enumerate(steps):
        if not isinstance(node, _Step) or node.step.question != step.question:
            return root  # the engine took another path on the same answers: keep what we have
        nxt = node.after.get(step.answer)
        if nxt is None:
            node.after[step.answer] = _path(steps[i + 1 :], leaf)
            return root
        node = nxt
    return root


def _path(steps: list[Step], leaf: _Leaf) -> _Step | _Leaf:
    node: _Step | _Leaf = leaf
    for step in reversed(steps):
        node = _Step(step, {step.answer: node})
    return node


Shape = tuple[tuple[object, ...], tuple[str, ...]]
"""A request's shape key and its key-bearing resource strings (`_shape`)."""


def _shape(request: AccessRequest, snapshot: Snapshot) -> Shape | None:
    """(everything the engine reads of `request` but its object key and its context, the
    key-bearing resource strings), or None when the request is not cached."""
    if len(request.operations) != 1:
        return None
    if request.session_policy is not None or request.scp_policies or request.proposed_policy:
        return None
    op = request.operations[0]
    slots: tuple[str, ...] = ()
    stem = op.resource_arn  # the resource without its key: the whole ARN for a bucket
    if op.key is not None:
        if not op.resource_arn.endswith(op.key) or has_own_record(snapshot, op.bucket, op.key):
            return None
        stem = op.resource_arn[: len(op.resource_arn) - len(op.key)]
        slots = (op.resource_arn,)
        if request.access_point_arn:
            slots += (access_point_object_arn(request.access_point_arn, op.key),)
    context = request.context
    places = places_of(tuple(map(_NAME, context)), DIRECT_KEYS)
    direct = tuple((context[at].name.lower(), context[at].values) for at in places)
    key = (
        request.principal,
        direct,
        request.region,
        request.kms_key_arn,
        request.vpc_endpoint_id,
        request.access_point_arn,
        request.bucket_account,
        request.scope,
        op.action,
        op.bucket,
        stem,
        op.version_id,
        op.role,
        op.kms_actions,
    )
    return key, slots


_NAME: Final = attrgetter("name")


def has_own_record(snapshot: Snapshot, name: str | None, key: str) -> bool:
    """Whether the snapshot lists this very object (or could not read it)."""
    bucket = snapshot.buckets.get(name or "")
    if not isinstance(bucket, Bucket) or not isinstance(bucket.objects, Mapping):
        return False
    return key in bucket.objects
