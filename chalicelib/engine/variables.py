"""Policy variables (`${aws:username}`, `${key, 'default'}`, `${*}`) in Resource and Condition.

Pure: standard library only. A value is parsed once, at compile time, into a `Template`: a
tuple of pieces that are policy text (where `*` and `?` are wildcards for the matching
operators), escaped literal characters, or variables. Resolving a template against a request
context gives `Piece`s whose `wild` flag tells the matcher whether wildcards are live: text
substituted from the request, from a default or from an escape is always literal.

Rules (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html):
- Variables are substituted only when the policy's Version is 2012-10-17; under 2008-10-17 or
  with no Version, `${...}` is literal text.
- `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`.
- `${key, 'default'}` uses the default when the key is absent; `''` inside the quotes is one `'`.
- A key that is absent (no default) or multi-valued cannot be substituted: the value that
  holds it matches nothing ("the element does not match").
"""

from __future__ import annotations

import re

from ..lean_dataclass import dataclass
from .context import RequestContext, normalise_key

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"

_ESCAPES = {"*": "*", "?": "?", "$": "$"}
# `key` or `key, 'default'` inside `${...}`; the key has no spaces, quotes or braces.
_BODY = re.compile(r"\s*([^\s,'{}]+)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")


@dataclass(frozen=True, slots=True)
class Piece:
    """A run of text; `wild` is True when `*` and `?` in it are wildcards."""

    text: str
    wild: bool


@dataclass(frozen=True, slots=True)
class Variable:
    """`${key}` or `${key, 'default'}`; `key` is kept as written, `lookup` normalised."""

    key: str
    lookup: str
    default: str | None = None


Part = Piece | Variable


@dataclass(frozen=True, slots=True)
class Template:
    """A policy value parsed once; `source` is the text as written in the policy."""

    source: str
    parts: tuple[Part, ...]
    variables: tuple[Variable, ...] = ()

    @property
    def has_variables(self) -> bool:
        return bool(self.variables)

    def resolve(self, ctx: RequestContext) -> tuple[Piece, ...] | None:
        """The pieces with variables substituted; None when one cannot be substituted."""
        if not self.variables:
            return self.parts  # type: ignore[return-value]  # no Variable in parts
        out: list[Piece] = []
        for part in self.parts:
            if isinstance(part, Piece):
                out.append(part)
                continue
            values = ctx.lookup(part.lookup)
            if values is not None and len(values) == 1:
                out.append(Piece(values[0], wild=False))
            elif (values is None or not values) and part.default is not None:
                out.append(Piece(part.default, wild=False))
            else:
                return None
        return tuple(out)

    def render(self, ctx: RequestContext) -> str | None:
        """The resolved text (wildcards included as written); None when unresolvable."""
        pieces = self.resolve(ctx)
        return None if pieces is None else "".join(p.text for p in pieces)


def literal(text: str) -> Template:
    """A template that is policy text only (no variables)."""
    return Template(text, (Piece(text, wild=True),) if text else ())


def parse_template(text: str, *, variables: bool) -> Template:
    """Parse `text`; with `variables` False (a 2008-10-17 policy) it is all literal text."""
    if not variables or "${" not in text:
        return literal(text)
    parts: list[Part] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            buf.append(text[i:])
            break
        buf.append(text[i:start])
        end = _closing_brace(text, start + 2)
        body = text[start + 2 : end] if end >= 0 else ""
        escape = _ESCAPES.get(body)
        match = _BODY.fullmatch(body) if end >= 0 and escape is None else None
        if escape is not None:
            _flush(buf, parts)
            parts.append(Piece(escape, wild=False))
        elif match is not None:
            _flush(buf, parts)
            default = match.group(2)
            parts.append(
                Variable(
                    key=match.group(1),
                    lookup=normalise_key(match.group(1)),
                    default=None if default is None else default.replace("''", "'"),
                )
            )
        else:  # not a well-formed variable: keep the text as written
            buf.append("${")
            i = start + 2
            continue
        i = end + 1
    _flush(buf, parts)
    return Template(text, tuple(parts), tuple(p for p in parts if isinstance(p, Variable)))


def _closing_brace(text: str, start: int) -> int:
    """Index of the `}` closing a variable body, skipping quoted defaults."""
    quoted = False
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif ch == "}" and not quoted:
            return i
    return -1


def _flush(buf: list[str], parts: list[Part]) -> None:
    text = "".join(buf)
    buf.clear()
    if text:
        parts.append(Piece(text, wild=True))
