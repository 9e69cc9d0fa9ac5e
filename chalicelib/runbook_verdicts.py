"""Verdicts of runbook documents, looked up before their requests are built (issue 15).

`s3doctor diagnose --batch --detail decision` on a replay spends most of a line building the
`AccessRequest` (its operation, its merged context), its shape key and its `RequestContext`,
although the verdict cache then answers from the shape's tree. A document whose template is
known (`request.lazy_request`) has the shape key of the earlier documents of its template and
bucket stem with the same header keys (`verdict_cache.DIRECT_KEYS`): every field of the shape
but the object key comes from the template and the stem. So the key is remembered per (template,
stem, header keys, form) the first time a request of them is built, and later documents walk the
tree with their object ARN and context alone: no `AccessRequest`, `Operation` nor
`ContextEntry` is built, the walk's `RequestContext` is the entries' values zipped with the
lookup keys of their names (once per `ContextForm`) and the template's derived entries. When
the tree does not answer, the request is built and decided as usual (`engine.decide`), which
grows the tree.

Only a template whose principal the snapshot leaves as it is takes this path: `decide` resolves
the principal first (its ARN with the path, and the derived aws:PrincipalArn with it), and the
remembered key is that of a request whose principal resolution did not change. Resolution also
adds the context entries the snapshot knows and the context lacks (`engine.resolve`: the
principal's tags, the bucket owner's account, the organizations, the endpoint's VPC): they depend
on the template, the bucket (in the stem) and the names the form gives, so they are remembered
with the key, per form, and added to the walk's context; a form that gives a key whose value they
depend on (`engine.resolve.VALUE_READ_KEYS`) does not walk. An object the snapshot has its own
record of is never looked up (its verdict is not cached). Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .engine import Verdicts, decide, resolve_principal, verdict_cache
from .engine.context import RequestContext, normalise_key
from .engine.resolve import VALUE_READ_KEYS
from .lean_dataclass import dataclass
from .model import ContextEntry
from .request import ContextForm, lazy_request, request_from_runbook
from .snapshot import Snapshot

MAX_KEYS: Final = 4096  # (template, stem, header keys, form) remembered per snapshot; then afresh


def decide_runbook(data: Mapping[str, Any], snapshot: Snapshot) -> Verdicts:
    """`decide(request_from_runbook(data), snapshot)`, from the verdict tree when it answers."""
    lazy = lazy_request(data)
    if lazy is None:
        return decide(request_from_runbook(data), snapshot)
    object_key = lazy.object_key
    if object_key is None or verdict_cache.has_own_record(snapshot, lazy.bucket, object_key):
        return decide(lazy.build(), snapshot)
    form = _FORMS.get(lazy.form) or _form(lazy.form)
    if not form.walks:
        return decide(lazy.build(), snapshot)
    resource, values = lazy.resource, lazy.values
    keys: dict[tuple[object, ...], _Key] = snapshot.cached(("runbook-shape-keys",), dict)
    # the object ARN ends with its key (`split_s3_arn`): the stem is the ARN without it
    stem = resource[: len(resource) - len(object_key)]
    where = (lazy.key, stem, form.header_keys(values), lazy.form)
    known = keys.get(where)
    if known is not None:
        context = form.context(values, known.added)
        found = verdict_cache.remembered(known.shape, (resource,), context, snapshot)
        if found is not None:
            return found  # type: ignore[return-value]
    request = lazy.build()
    if known is None:
        resolved = resolve_principal(request, snapshot)
        if resolved.principal is request.principal:  # at most the resource account added
            shape = verdict_cache.shape_key(resolved, snapshot)
            if shape is not None:
                if len(keys) >= MAX_KEYS:
                    keys.clear()
                added = resolved.context[len(request.context) :]
                keys[where] = _Key(shape, _Added.of(added, form))
    return decide(request, snapshot)


@dataclass(frozen=True, slots=True)
class _Added:
    """The context entries resolution adds to a form's requests on one bucket, by lookup key,
    and every lookup key's name as given (the form's and theirs)."""

    entries: dict[str, tuple[str, ...]]
    names: dict[str, str]

    @classmethod
    def of(cls, added: tuple[ContextEntry, ...], form: _Form) -> _Added:
        keys = [normalise_key(entry.name) for entry in added]
        return cls(
            entries={key: e.values for key, e in zip(keys, added, strict=True)},
            names={**form.names, **{key: e.name for key, e in zip(keys, added, strict=True)}},
        )


@dataclass(frozen=True, slots=True)
class _Key:
    """A remembered shape key, and what resolution adds to its requests' context."""

    shape: tuple[object, ...]
    added: _Added


@dataclass(frozen=True, slots=True)
class _Form:
    """What the walk and the shape read of the context of an object request of one
    `ContextForm`: the `RequestContext` of its entries is `dict(zip(keys, values))` with
    `derived` (as `RequestContext.from_request` makes it of the built request's context)."""

    walks: bool  # False: two entries share a lookup key (the request is built)
    keys: tuple[str, ...]  # the lookup key of each explicit entry
    derived: dict[str, tuple[str, ...]]  # the derived entries kept, by lookup key
    names: dict[str, str]  # every lookup key's name as given
    header: tuple[tuple[int, str], ...]  # (position, lower-case name) of the header keys
    derived_header: tuple[tuple[str, tuple[str, ...]], ...]  # the derived header keys

    def context(
        self, values: tuple[tuple[str, ...], ...], added: _Added | None = None
    ) -> RequestContext:
        """The `RequestContext` of the request whose explicit entries have these values, with
        the entries resolution `added` (the snapshot's keys the context lacks)."""
        # as many values as keys: both come from the entries of one context (`ContextForm`)
        entries = dict(zip(self.keys, values, strict=False))
        entries.update(self.derived)
        if added is not None and added.entries:
            entries.update(added.entries)
            return RequestContext.normalised(entries, added.names)
        return RequestContext.normalised(entries, self.names)

    def header_keys(self, values: tuple[tuple[str, ...], ...]) -> tuple[object, ...]:
        """The header keys of that request, as its shape has them (lower-case name, values)."""
        if not self.header:
            return self.derived_header
        return (*((low, values[i]) for i, low in self.header), *self.derived_header)


def _form(form: ContextForm) -> _Form:
    keys = tuple(map(normalise_key, form.names))
    kept = form.object_kept
    derived = {normalise_key(e.name): e.values for e in kept}
    names = {
        **dict(zip(keys, form.names, strict=True)),
        **{normalise_key(e.name): e.name for e in kept},
    }
    found = _Form(
        # names given once, and none whose value the entries resolution adds depend on
        walks=len(names) == len(keys) + len(derived) and VALUE_READ_KEYS.isdisjoint(keys),
        keys=keys,
        derived=derived,
        names=names,
        header=tuple((i, low) for i, name in enumerate(form.names) if (low := _direct_name(name))),
        derived_header=tuple((low, e.values) for e in kept if (low := _direct_name(e.name))),
    )
    if len(_FORMS) >= MAX_KEYS:
        _FORMS.clear()
    _FORMS[form] = found
    return found


# By `ContextForm` (compared by identity; a batch repeats a few).
_FORMS: dict[ContextForm, _Form] = {}


def _direct_name(name: str) -> str:
    """The lower-case name when it is one of `verdict_cache.DIRECT_KEYS`, else ""."""
    low = name.lower()
    return low if low in verdict_cache.DIRECT_KEYS else ""
