"""Size budgets for a finding's JSON document: shrink it step by step until it fits.

SNS takes 256 KiB per message and DynamoDB 400 KB per item, while a finding can carry whole
policy documents (patches, a proposed bucket policy), every statement of every layer and
thousands of near misses. `fit` applies `Step`s in order (each one removes or shortens one kind
of content) until the document fits, and names what it removed in the `truncated` marker. The
last step, `skeleton`, keeps only short identifying fields and fits any sane budget, so a
document always fits by construction.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from ..model import Json

TRUNCATED = "truncated"
ELLIPSIS = "\u2026"

Step = tuple[str, Callable[[Json], Json]]


def compact(document: Json) -> str:
    """The canonical JSON text of a document (sorted keys, no spaces)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def clip(value: Any, *, chars: int, items: int) -> Any:
    """`value` with every string cut to `chars` characters and every list to `items` items."""
    if isinstance(value, str):
        return value if len(value) <= chars else value[: max(chars - 1, 0)] + ELLIPSIS
    if isinstance(value, list):
        return [clip(v, chars=chars, items=items) for v in value[:items]]
    if isinstance(value, dict):
        return {
            clip(str(k), chars=chars, items=items): clip(v, chars=chars, items=items)
            for k, v in value.items()
        }
    return value


def fit(
    document: Json,
    steps: Sequence[Step],
    fits: Callable[[Json], bool],
) -> tuple[Json, list[str]]:
    """`document` after as few `steps` as make `fits` true, and the labels of those applied.

    `fits` is asked about the document as returned, the `truncated` marker (the labels) included.
    Raises ValueError when even the last step does not fit.
    """
    if fits(document):
        return document, []
    applied: list[str] = []
    for label, step in steps:
        document = step(document)
        if label not in applied:
            applied.append(label)
        marked = {**document, TRUNCATED: list(applied)}
        if fits(marked):
            return marked, applied
    raise ValueError("the document does not fit even as a skeleton")


# ---------------------------------------------------------------------------- steps


def without_statements(document: Json) -> Json:
    """Evaluations keep their layers and outcomes, not the statements behind them."""
    evaluations = [
        {**e, "layers": [{**layer, "statements": []} for layer in e.get("layers", [])]}
        for e in document.get("evaluations", [])
    ]
    return {**document, "evaluations": evaluations}


def without_evaluations(document: Json) -> Json:
    return {**document, "evaluations": []}


def without_near_misses(document: Json) -> Json:
    return {**document, "near_misses": []}


def without_patches(document: Json) -> Json:
    remedies = [{**r, "patch": None} for r in document.get("remedies", [])]
    return {**document, "remedies": remedies}


def without_policy_documents(document: Json) -> Json:
    """The request's session, SCP and proposed policies (whole documents) are left out."""
    request = document.get("request")
    if not isinstance(request, dict):
        return document
    slim = {**request, "session_policy": None, "scp_policies": [], "proposed_policy": None}
    return {**document, "request": slim}


def clipped(chars: int, items: int) -> Callable[[Json], Json]:
    def step(document: Json) -> Json:
        out: Json = clip(document, chars=chars, items=items)
        return out

    return step


def skeleton(chars: int) -> Callable[[Json], Json]:
    """Only what identifies the finding and its verdict, every string cut to `chars`."""

    def short(value: Any) -> Any:
        return clip(value, chars=chars, items=0) if isinstance(value, str) else value

    def pick(data: Any, names: Sequence[str]) -> Json:
        source = data if isinstance(data, dict) else {}
        return {name: short(source[name]) for name in names if name in source}

    def step(document: Json) -> Json:
        request = document.get("request")
        request = request if isinstance(request, dict) else {}
        operations = [
            pick(op, ("action", "resource_arn", "bucket", "key", "role"))
            for op in list(request.get("operations") or [])[:2]
        ]
        slim_request = pick(
            request, ("action", "resource_arn", "bucket", "key", "event_id", "event_time")
        ) | {
            "principal": pick(
                request.get("principal"),
                ("type", "requester_arn", "principal_arn", "account_id"),
            ),
            "operations": operations,
        }
        occurrences = document.get("occurrences")
        return pick(
            document,
            (
                "finding_id",
                "event_id",
                "event_time",
                "engine_version",
                "decision",
                "first_seen",
                "last_seen",
            ),
        ) | {
            "blocked_by": [short(b) for b in list(document.get("blocked_by") or [])[:20]],
            "request": slim_request,
            "causes": [
                pick(c, ("code", "layer", "message"))
                for c in list(document.get("causes") or [])[:5]
            ],
            "remedies": [
                pick(r, ("code", "target", "summary"))
                for r in list(document.get("remedies") or [])[:3]
            ],
            "evaluations": [],
            "near_misses": [],
            "unchecked": [],
            "notes": [],
            "occurrences": occurrences if isinstance(occurrences, int) else 1,
        }

    return step


# ---------------------------------------------------------------------------- stored findings

ITEM_BUDGET = 350_000  # bytes; DynamoDB refuses items over 400 KB, leave room for updates
STORE_STEPS: tuple[Step, ...] = (
    ("evaluations.statements", without_statements),
    ("remedies.patch", without_patches),
    ("near_misses", without_near_misses),
    ("request.policies", without_policy_documents),
    ("evaluations", without_evaluations),
    ("strings", clipped(2_000, 200)),
    ("strings", clipped(200, 20)),
    ("skeleton", skeleton(200)),
    ("skeleton", skeleton(16)),
)


def item_body(document: Json, *, overhead: int) -> tuple[str | bytes, Json]:
    """The stored body of a finding and the document it holds, in under `ITEM_BUDGET` bytes
    together with `overhead` (the item's other attributes).

    Compact JSON text when it fits; else zlib-compressed JSON; else the compressed document
    trimmed by `STORE_STEPS`, with the `truncated` marker naming what was removed.
    """
    text = compact(document)
    if len(text.encode()) + overhead <= ITEM_BUDGET:
        return text, document

    def packed(doc: Json) -> bytes:
        return zlib.compress(compact(doc).encode(), 6)

    fitted, _ = fit(document, STORE_STEPS, lambda d: len(packed(d)) + overhead <= ITEM_BUDGET)
    return packed(fitted), fitted


def read_body(body: str | bytes) -> Json:
    """The document of a stored body (`item_body`'s first value)."""
    text = zlib.decompress(body).decode() if isinstance(body, bytes) else body
    data: Json = json.loads(text)
    return data
