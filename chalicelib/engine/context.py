"""The request context as the policy engine sees it: a case-insensitive map of condition keys.

Pure: standard library and `chalicelib.model` only.

Key names compare case-insensitively ("Condition key names are not case-sensitive",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html).
The tag part of a tag key (`aws:ResourceTag/Project`) keeps its case, because S3 and most
services treat tag keys as case-sensitive; IAM principal tags are the exception (IAM refuses
two tags that differ only in case, and matches them case-insensitively), so
`aws:PrincipalTag/...` is folded whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import ClassVar

from .. import model

# Prefixes whose tag part is folded too (IAM tags are case-insensitive).
_CASE_INSENSITIVE_TAG_PREFIXES = frozenset({"aws:principaltag", "iam:resourcetag"})


@lru_cache(maxsize=8192)
def normalise_key(name: str) -> str:
    """The lookup form of a condition key name."""
    prefix, sep, rest = name.partition("/")
    prefix = prefix.lower()
    if not sep or prefix in _CASE_INSENSITIVE_TAG_PREFIXES:
        return prefix + sep + rest.lower()
    return prefix + sep + rest


def places_of(names: tuple[str, ...], keys: frozenset[str]) -> tuple[int, ...]:
    """The places of a context's entry names (in order) that are among `keys` (lower-case),
    kept for each (keys, names): the requests of a batch or a replay repeat a few lists of
    names."""
    found = _PLACES.get((keys, names))
    if found is None:
        found = tuple(at for at, low in enumerate(map(str.lower, names)) if low in keys)
        if len(_PLACES) >= _MAX_PLACES:
            _PLACES.clear()
        _PLACES[keys, names] = found
    return found


_PLACES: dict[tuple[frozenset[str], tuple[str, ...]], tuple[int, ...]] = {}
_MAX_PLACES = 4096


class RequestContext:
    """Condition keys of one request; a key is absent (None) unless given."""

    __slots__ = ("_entries", "_names")

    # True on the context of a decision whose reads are being recorded (`hits.TracingContext`):
    # conditions then report their answers through `traced_answer`.
    traced: ClassVar[bool] = False

    def __init__(self, entries: Mapping[str, Sequence[str]] | None = None) -> None:
        self._entries: dict[str, tuple[str, ...]] = {}
        self._names: dict[str, str] = {}
        for name, values in (entries or {}).items():
            key = normalise_key(name)
            self._entries[key] = tuple(values)
            self._names[key] = name

    @classmethod
    def normalised(
        cls, entries: dict[str, tuple[str, ...]], names: dict[str, str]
    ) -> RequestContext:
        """The context of `entries` already by lookup key (`normalise_key`), taken as they are;
        `names` gives each key's name as given (shared: no context changes it in place)."""
        context = cls.__new__(cls)
        context._entries = entries
        context._names = names
        return context

    @classmethod
    def from_request(cls, request: model.AccessRequest) -> RequestContext:
        """The context entries of a request, as given (derivation happens before)."""
        return cls({entry.name: entry.values for entry in request.context})

    def get(self, key: str) -> tuple[str, ...] | None:
        """Values of `key`, or None when the key is absent."""
        return self._entries.get(normalise_key(key))

    def lookup(self, normalised_key: str) -> tuple[str, ...] | None:
        """Like `get` for a key already passed through `normalise_key` (the hot path)."""
        return self._entries.get(normalised_key)

    def traced_answer(self, question: object, answer: Callable[[RequestContext], bool]) -> bool:
        """`answer(self)`; a tracing context also records it as the answer to `question`."""
        return answer(self)

    def with_entries(self, entries: Mapping[str, Sequence[str] | None]) -> RequestContext:
        """A copy with `entries` added or replaced; a None value removes the key."""
        copy = RequestContext()
        copy._entries = dict(self._entries)
        copy._names = dict(self._names)
        for name, values in entries.items():
            key = normalise_key(name)
            if values is None:
                copy._entries.pop(key, None)
                copy._names.pop(key, None)
            else:
                copy._entries[key] = tuple(values)
                copy._names[key] = name
        return copy

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and normalise_key(key) in self._entries

    def __iter__(self) -> Iterator[str]:
        """The key names as they were given."""
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._entries)

    def to_dict(self) -> dict[str, list[str]]:
        return {self._names[k]: list(v) for k, v in sorted(self._entries.items())}

    def __repr__(self) -> str:
        return f"RequestContext({self.to_dict()!r})"
