"""Verdicts of runbook documents, looked up before their requests are built (issue 15).

`s3doctor diagnose --batch --detail decision` on a replay spends most of a line building the
`AccessRequest` (its operation, its merged context), its shape key and its `RequestContext`,
although the verdict cache then answers from the shape's tree. A document whose template is
known (`request.lazy_request`) has the shape key of the earlier documents of its template and
bucket stem with the same header keys (`verdict_cache.DIRECT_KEYS`): every field of the shape
but the object key comes from the template and the stem. So the key is remembered per (template,
stem, header keys) the first time a request of them is built, and later documents walk the
tree with their object ARN and context alone; when the tree does not answer, the request is
built and decided as usual (`engine.decide`), which grows the tree.

Only a template whose principal the snapshot leaves as it is takes this path: `decide` resolves
the principal first (its ARN with the path, and the derived aws:PrincipalArn with it), and the
remembered key is that of a request that resolution did not change. An object the snapshot has
its own record of is never looked up (its verdict is not cached). Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .engine import Verdicts, decide, resolve_principal, verdict_cache
from .request import LazyRequest, lazy_request, request_from_runbook
from .snapshot import Snapshot

MAX_KEYS: Final = 4096  # (template, stem, header keys) remembered per snapshot; then afresh


def decide_runbook(data: Mapping[str, Any], snapshot: Snapshot) -> Verdicts:
    """`decide(request_from_runbook(data), snapshot)`, from the verdict tree when it answers."""
    lazy = lazy_request(data)
    if lazy is None:
        return decide(request_from_runbook(data), snapshot)
    slot = _slot(lazy, snapshot)
    if slot is None:
        return decide(lazy.build(), snapshot)
    context = lazy.context
    keys: dict[tuple[object, ...], tuple[object, ...]] = snapshot.cached(
        ("runbook-shape-keys",), dict
    )
    where = (lazy.key, slot[1], _header_keys(context))
    key = keys.get(where)
    if key is not None:
        found = verdict_cache.remembered(key, (slot[0],), context, snapshot)
        if found is not None:
            return found  # type: ignore[return-value]
    request = lazy.build()
    if key is None and resolve_principal(request, snapshot) is request:
        key = verdict_cache.shape_key(request, snapshot)
        if key is not None:
            if len(keys) >= MAX_KEYS:
                keys.clear()
            keys[where] = key
    return decide(request, snapshot)


def _slot(lazy: LazyRequest, snapshot: Snapshot) -> tuple[str, str] | None:
    """(object ARN, the ARN without its key) of an object request the cache may answer."""
    op = lazy.operation
    if op.key is None or not op.resource_arn.endswith(op.key):
        return None
    if verdict_cache.has_own_record(snapshot, op.bucket, op.key):
        return None
    return op.resource_arn, op.resource_arn[: len(op.resource_arn) - len(op.key)]


def _header_keys(context: tuple[Any, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The entries of `context` the engine reads outside its RequestContext (in the shape)."""
    lowered = _DIRECT_NAMES
    if len(lowered) >= MAX_KEYS:
        lowered.clear()
    found: list[tuple[str, tuple[str, ...]]] = []
    for e in context:
        low = lowered.get(e.name)
        if low is None:
            low = lowered[e.name] = _direct_name(e.name)
        if low:
            found.append((low, e.values))
    return tuple(found)


def _direct_name(name: str) -> str:
    """The lower-case name when it is one of `verdict_cache.DIRECT_KEYS`, else ""."""
    low = name.lower()
    return low if low in verdict_cache.DIRECT_KEYS else ""


# Context key names -> `_direct_name` (a batch names the same few keys on every line).
_DIRECT_NAMES: dict[str, str] = {}
