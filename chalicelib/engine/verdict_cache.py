"""Verdicts remembered per request shape, so a batch of similar requests is decided once.

Requests of a batch mostly repeat one requester, action, bucket and context and differ in the
object key. For such a *shape* the verdict can change with the key only through the Resource
elements the engine matches the key against. The first request of a shape is decided in full
while a `Trace` records those matches, step by step, in the order the engine made them; the
steps and the verdict become one path of a decision tree kept on the snapshot. A later request
of the same shape replays the steps on its own key: it follows the tree while every step gives
a recorded answer, and takes the verdict at the end. The engine is deterministic and reads the
key nowhere else, so the same answers mean the same verdict. A step that answers differently
ends the walk: the request is decided in full and its path is added to the tree.

Not cached (decided in full every time): several operations (CopyObject, DeleteObjects), a
session policy, SCPs or a proposed policy given with the request (unhashable documents), an
object the snapshot has its own record of (its ACL, owner, lock and encryption are the key's),
and a decision whose trace is `opaque` (the key entered a KMS encryption context).
Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeVar

from chalicelib.arn import access_point_object_arn
from chalicelib.engine.hits import TRACE, Trace, TraceStep
from chalicelib.model import AccessRequest
from chalicelib.snapshot import Bucket, Snapshot

V = TypeVar("V")

MAX_SHAPES: Final = 4096  # per snapshot; the cache starts afresh when full

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
    {"event_id", "event_time", "event_name", "scope_reason", "denial_hint", "notes"}
)


@dataclass(slots=True)
class _Step:
    """One recorded scan, and where each set of answers to it leads."""

    step: TraceStep
    after: dict[tuple[bool, ...], _Step | _Leaf] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Leaf:
    verdict: object


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
        trees[key] = None
        return compute()
    if root is not None:
        found = _walk(root, slots)
        if found is not None:
            return found.verdict  # type: ignore[return-value]
    trace = Trace(slots={resource: i for i, resource in enumerate(slots)})
    token = TRACE.set(trace)
    try:
        verdict = compute()
    finally:
        TRACE.reset(token)
    if not trace.opaque:
        trees[key] = _grow(root, trace.steps, _Leaf(verdict))
    return verdict


def _walk(node: _Step | _Leaf, slots: tuple[str, ...]) -> _Leaf | None:
    while isinstance(node, _Step):
        step = node.step
        resource, ctx = slots[step.slot], step.ctx
        matched = tuple(st.matches_resource(resource, ctx) for st in step.statements)
        found = node.after.get(matched)
        if found is None:
            return None
        node = found
    return node


def _grow(root: _Step | _Leaf | None, steps: list[TraceStep], leaf: _Leaf) -> _Step | _Leaf:
    """The tree with the path `steps` → `leaf` added (the shared prefix is followed)."""
    if root is None:
        return _path(steps, leaf)
    node = root
    for i, step in enumerate(steps):
        if not isinstance(node, _Step) or (node.step.slot, node.step.statements) != (
            step.slot,
            step.statements,
        ):
            return root  # the engine took another path on the same answers: keep what we have
        nxt = node.after.get(step.matched)
        if nxt is None:
            node.after[step.matched] = _path(steps[i + 1 :], leaf)
            return root
        node = nxt
    return root


def _path(steps: list[TraceStep], leaf: _Leaf) -> _Step | _Leaf:
    node: _Step | _Leaf = leaf
    for step in reversed(steps):
        node = _Step(step, {step.matched: node})
    return node


def _shape(
    request: AccessRequest, snapshot: Snapshot
) -> tuple[tuple[object, ...], tuple[str, ...]] | None:
    """(everything the engine reads of `request` but its object key, the key-bearing resource
    strings), or None when the request is not cached."""
    if len(request.operations) != 1:
        return None
    if request.session_policy is not None or request.scp_policies or request.proposed_policy:
        return None
    op = request.operations[0]
    slots: tuple[str, ...] = ()
    stem = op.resource_arn  # the resource without its key: the whole ARN for a bucket
    if op.key is not None:
        if not op.resource_arn.endswith(op.key) or _has_own_record(snapshot, op.bucket, op.key):
            return None
        stem = op.resource_arn[: len(op.resource_arn) - len(op.key)]
        slots = (op.resource_arn,)
        if request.access_point_arn:
            slots += (access_point_object_arn(request.access_point_arn, op.key),)
    key = (
        request.principal,
        request.context,
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


def _has_own_record(snapshot: Snapshot, name: str | None, key: str) -> bool:
    """Whether the snapshot lists this very object (or could not read it)."""
    bucket = snapshot.buckets.get(name or "")
    if not isinstance(bucket, Bucket) or not isinstance(bucket.objects, Mapping):
        return False
    return key in bucket.objects
