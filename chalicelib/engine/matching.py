"""Action and resource matching, compiled once per statement into fast matchers.

Pure: standard library only.

Actions (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html):
`service:Name`, case-insensitive, `*` and `?` wildcards anywhere; `"*"` matches every action.

Resources (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards):
case-sensitive. In the partition, service, region and account parts, `*` and `?` stay inside
their colon-delimited segment, except that a `*` that is the last character of a segment "can
expand to match beyond the colon boundaries". In the resource part (after the fifth colon) `*`
matches anything, `/` and `:` included, so `arn:aws:s3:::bucket/*` covers every key.
Examples (also test rows): `arn:aws:s3:::bucket/*` matches `arn:aws:s3:::bucket/a/b:c` but not
`arn:aws:s3:::bucket`; `arn:*:s3:::b` matches `arn:aws:s3:::b`; `arn:aws:ec2:us-?:*` does not
match `arn:aws:ec2:us-east-1:1:x` (`?` is one character) but `arn:aws:ec2:us-*` does.
Text substituted from a policy variable is literal: its `*` and `?` are not wildcards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import field
from functools import lru_cache

from ..lean_dataclass import dataclass
from .context import RequestContext
from .variables import Piece, Template

_WILDCARDS = frozenset("*?")


# --------------------------------------------------------------------------- globs


def _tokens(pieces: Iterable[Piece]) -> list[tuple[str, bool]]:
    return [(ch, p.wild) for p in pieces for ch in p.text]


def _glob_source(tokens: list[tuple[str, bool]]) -> str:
    out: list[str] = []
    for ch, wild in tokens:
        if wild and ch == "*":
            out.append(".*")
        elif wild and ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _arn_source(tokens: list[tuple[str, bool]]) -> str:
    """Segment-aware regex source for an ARN pattern (see the module docstring)."""
    if "".join(ch for ch, _ in tokens[:4]) != "arn:":
        return _glob_source(tokens)
    out: list[str] = []
    colons = 0
    for i, (ch, wild) in enumerate(tokens):
        if ch == ":":
            colons += 1
            out.append(":")
        elif wild and ch == "*":
            if colons >= 5:
                out.append(".*")
            else:
                nxt = tokens[i + 1][0] if i + 1 < len(tokens) else ":"
                out.append(".*" if nxt == ":" else "[^:]*")
        elif wild and ch == "?":
            out.append("." if colons >= 5 else "[^:]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@lru_cache(maxsize=4096)
def glob_regex(pieces: tuple[Piece, ...], ignore_case: bool = False) -> re.Pattern[str]:
    """A compiled full-match regex for a StringLike-style pattern."""
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.compile(_glob_source(_tokens(pieces)), flags)


@lru_cache(maxsize=4096)
def arn_regex(pieces: tuple[Piece, ...]) -> re.Pattern[str]:
    """A compiled full-match regex for an ARN pattern (Resource, ArnLike)."""
    return re.compile(_arn_source(_tokens(pieces)), re.DOTALL)


def has_wildcard(pieces: tuple[Piece, ...]) -> bool:
    return any(p.wild and not _WILDCARDS.isdisjoint(p.text) for p in pieces)


def arn_matches(pieces: tuple[Piece, ...], value: str) -> bool:
    """Whether `value` matches the resolved ARN pattern `pieces`."""
    if not has_wildcard(pieces):
        return "".join(p.text for p in pieces) == value
    return arn_regex(pieces).fullmatch(value) is not None


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class ActionMatcher:
    """Matches action names against a statement's Action (or NotAction) list."""

    patterns: tuple[str, ...]
    _any: bool = False
    _exact: frozenset[str] = frozenset()
    _prefixes: tuple[str, ...] = ()
    _regex: re.Pattern[str] | None = None

    @classmethod
    def compile(cls, patterns: Iterable[str]) -> ActionMatcher:
        patterns = tuple(patterns)
        exact: set[str] = set()
        prefixes: list[str] = []
        regexes: list[str] = []
        for pattern in patterns:
            low = pattern.lower()
            if low == "*":
                return cls(patterns, _any=True)
            head = low[:-1] if low.endswith("*") else None
            if _WILDCARDS.isdisjoint(low):
                exact.add(low)
            elif head is not None and _WILDCARDS.isdisjoint(head):
                prefixes.append(head)
            else:
                regexes.append(_glob_source(_tokens((Piece(low, wild=True),))))
        regex = re.compile("|".join(f"(?:{r})" for r in regexes)) if regexes else None
        return cls(patterns, _exact=frozenset(exact), _prefixes=tuple(prefixes), _regex=regex)

    def matches(self, action: str) -> bool:
        if self._any:
            return True
        low = action.lower()
        if low in self._exact or (self._prefixes and low.startswith(self._prefixes)):
            return True
        return self._regex is not None and self._regex.fullmatch(low) is not None


# --------------------------------------------------------------------------- resources


_Patterns = tuple[frozenset[str], tuple[str, ...], re.Pattern[str] | None]


def _patterns(resolved: Iterable[tuple[Piece, ...]]) -> _Patterns:
    """The exact ARNs, the heads of the patterns whose one wildcard is a final `*`, and one
    regex for the rest. A final `*` is `.*` in every segment (`_arn_source`): its pattern
    matches what starts with the text before it (`arn:aws:s3:::bucket/*`, the most written,
    needs no regex)."""
    exact: set[str] = set()
    heads: list[str] = []
    regexes: list[str] = []
    for pieces in resolved:
        if not has_wildcard(pieces):
            exact.add("".join(piece.text for piece in pieces))  # escapes resolved
            continue
        last = pieces[-1]
        head = (*pieces[:-1], Piece(last.text[:-1], wild=last.wild))
        if last.text.endswith("*") and not has_wildcard(head):  # so the `*` is a wildcard
            heads.append("".join(piece.text for piece in head))
        else:
            regexes.append(_arn_source(_tokens(pieces)))
    regex = re.compile("|".join(f"(?:{r})" for r in regexes), re.DOTALL) if regexes else None
    return frozenset(exact), tuple(heads), regex


@dataclass(frozen=True, slots=True)
class ResourceMatcher:
    """Matches resource ARNs against a statement's Resource (or NotResource) list.

    Patterns without variables are merged into one exact set and one regex at compile time;
    patterns with variables are merged the same way once per set of variable values.
    """

    templates: tuple[Template, ...]
    _any: bool = False
    _exact: frozenset[str] = frozenset()
    _heads: tuple[str, ...] = ()
    _regex: re.Pattern[str] | None = None
    _dynamic: tuple[Template, ...] = ()
    _keys: tuple[str, ...] = ()  # the context keys the variables read
    _resolved: dict[tuple[tuple[str, ...] | None, ...], _Patterns] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def compile(cls, templates: Iterable[Template]) -> ResourceMatcher:
        templates = tuple(templates)
        if any(t.source == "*" and not t.has_variables for t in templates):
            return cls(templates, _any=True)
        dynamic = tuple(t for t in templates if t.has_variables)
        exact, heads, regex = _patterns(t.parts for t in templates if not t.has_variables)  # type: ignore[misc]
        return cls(
            templates,
            _exact=exact,
            _heads=heads,
            _regex=regex,
            _dynamic=dynamic,
            _keys=tuple(sorted({v.lookup for t in dynamic for v in t.variables})),
        )

    @property
    def has_variables(self) -> bool:
        return bool(self._dynamic)

    @property
    def reads(self) -> frozenset[str]:
        """The (normalised) context keys whose values can change a match: its variables'."""
        return frozenset(self._keys)

    @property
    def matches_everything(self) -> bool:
        return self._any

    def matches(self, resource_arn: str, ctx: RequestContext) -> bool:
        if self._any or resource_arn in self._exact:
            return True
        if self._heads and resource_arn.startswith(self._heads):
            return True
        if self._regex is not None and self._regex.fullmatch(resource_arn) is not None:
            return True
        if not self._dynamic:
            return False
        values = tuple(ctx.lookup(k) for k in self._keys)
        found = self._resolved.get(values)
        if found is None:
            resolved = (t.resolve(ctx) for t in self._dynamic)
            found = _patterns(pieces for pieces in resolved if pieces is not None)
            if len(self._resolved) < 4096:
                self._resolved[values] = found
        exact, heads, regex = found
        return (
            resource_arn in exact
            or (bool(heads) and resource_arn.startswith(heads))
            or (regex is not None and regex.fullmatch(resource_arn) is not None)
        )

    def unresolvable(self, ctx: RequestContext) -> bool:
        """Whether a pattern holds a variable the request cannot fill (the statement is void)."""
        return any(t.resolve(ctx) is None for t in self._dynamic)

    def matching(self, resource_arn: str, ctx: RequestContext) -> tuple[str, ...]:
        """The patterns (as written) that match `resource_arn`."""
        out = []
        for template in self.templates:
            pieces = template.resolve(ctx)
            if template.source == "*" or (pieces is not None and arn_matches(pieces, resource_arn)):
                out.append(template.source)
        return tuple(out)
