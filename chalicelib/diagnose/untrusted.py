"""Untrusted text: strings from events and policies shown as data, never as markup (DESIGN 3.3).

Object keys, session names, user agents, error messages, Sids, policy paths and names (and our
messages that embed them) are written by outsiders. Every renderer passes them through here:

- `text`: plain text. C0/C1 controls, DEL, format characters (bidi overrides and isolates,
  marks, zero-width), line and paragraph separators and lone surrogates become visible
  escapes (`\\n`, `\\x1b`, `\\u202e`), so no input can start a line, move the cursor or
  reorder what follows; long values are shortened in the middle with `…`.
- `wrap`: wraps prose at spaces, never before a word that could pass for the start of one of
  our lines (a heading, a numbered step, a bullet or a `$` prompt).
- `md_code` / `md_text` / `md_fence`: CommonMark. Values become code spans with a fence longer
  than any backtick run inside (`|` escaped in table cells). Prose, never at the start of a
  line, gets its markup characters backslash-escaped (`<`, `>`, `&`, `@` as character
  references, and the `:` of `://` and `.` of `www.` escaped too), so it forms no link, image,
  emphasis, HTML, autolink or mention.
- `chat_code` / `chat_escape`: Slack-style client-markdown (AWS Chatbot): `&`, `<`, `>`
  escaped, input in backticks with any backtick inside replaced by `'`.
- `command_safe`: whether a shell command can be shown as is. `aws` commands are built with
  `shlex.join`; one whose arguments contain a character `text` would escape is not offered
  (patches.cli_for returns None and the remedy says to apply the patch by hand), because
  neither an escaped form nor the raw one would be both safe to display and right to paste.

Pure: no boto3, botocore or chalice.
"""

from __future__ import annotations

import re
import unicodedata

VALUE_LIMIT = 256
"""Longest value shown in full (a key, an ARN, a Sid)."""
MESSAGE_LIMIT = 1200
"""Longest message shown in full (a cause message or a note that embeds values)."""
ELLIPSIS = "…"

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A word that, starting a line, could pass for ours: a heading in capitals, a numbered step,
# a bullet, a prompt or any other punctuation.
_LINE_START = re.compile(r"\d+\W*|[A-Z][A-Z\W]*|[^\w\s].*")
# Markup characters, and the `:` of `://` and the `.` of `www.` (GFM extended autolinks).
_MD_MARKUP = re.compile(r"[\\`*_\[\]()<>!&~|@#$]|:(?=//)|(?<=www)\.", re.IGNORECASE)
_MD_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "@": "&#64;"}
_BACKTICKS = re.compile(r"`+")


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def neutralise(value: object) -> str:
    """`value` as one line of inert text: unsafe characters as visible escapes."""
    raw = str(value)
    if raw.isprintable():  # no Cc, Cf, Zl, Zp or Cs character: the common case
        return raw
    return "".join(_escape(c) if _unsafe(c) else c for c in raw)


def shorten(value: str, limit: int) -> str:
    """`value`, or its start and end around `…` so that it is `limit` characters long."""
    if len(value) <= limit:
        return value
    keep = max(limit - 1, 2)
    tail = keep // 3
    return value[: keep - tail] + ELLIPSIS + value[len(value) - tail :]


def text(value: object, limit: int = VALUE_LIMIT) -> str:
    """Plain text: neutralised, then shortened to `limit` characters."""
    return shorten(neutralise(value), limit)


def message(value: object) -> str:
    """One of our messages that embeds input, as plain text."""
    return text(value, MESSAGE_LIMIT)


def command_safe(command: str) -> bool:
    """Whether a shell command holds no character that `text` would escape."""
    return command.isprintable() or not any(_unsafe(c) for c in command)


def wrap(prose: str, width: int, indent: str, subsequent: str) -> list[str]:
    """`prose` (already neutralised) in lines of at most `width` columns; a long word overflows.

    Lines break at spaces, never before a word that could start a line of ours (a heading in
    capitals, a numbered step, a bullet, a `$` prompt), so no continuation line can pass for one.
    """
    chunks: list[str] = []
    for word in prose.split(" "):
        if chunks and (not word or _LINE_START.fullmatch(word)):
            chunks[-1] += " " + word
        else:
            chunks.append(word)
    lines: list[str] = []
    line = indent
    for chunk in chunks:
        if not line.strip():
            line += chunk.lstrip(" ")
        elif len(line) + 1 + len(chunk) > width:
            lines.append(line.rstrip(" "))
            line = subsequent + chunk.lstrip(" ")
        else:
            line += " " + chunk
    lines.append(line.rstrip(" ") or indent)
    return lines


def md_fence(content: str, minimum: int = 3) -> str:
    """A backtick fence longer than any backtick run in `content`."""
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    return "`" * max(minimum, longest + 1)


def md_code(value: object, limit: int = VALUE_LIMIT, *, table: bool = False) -> str:
    """A value as a CommonMark code span (with `|` escaped inside a table cell)."""
    body = text(value, limit)
    fence = md_fence(body, minimum=1)
    if not body.strip(" ") or body[0] in "` " or body[-1] in "` ":
        body = f" {body} "
    span = f"{fence}{body}{fence}"
    return span.replace("|", "\\|") if table else span


def md_text(value: object, limit: int = MESSAGE_LIMIT) -> str:
    """Prose that embeds input, as CommonMark text with its markup characters escaped."""
    return _MD_MARKUP.sub(
        lambda m: _MD_ENTITIES.get(m.group(), "\\" + m.group()), text(value, limit)
    )


def chat_escape(value: object, limit: int = MESSAGE_LIMIT) -> str:
    """Text for Slack-style markdown: neutralised, with `&`, `<` and `>` escaped."""
    return text(value, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chat_code(value: object, limit: int = MESSAGE_LIMIT) -> str:
    """Input for Slack-style markdown as inline code (a backtick inside becomes `'`)."""
    return "`" + chat_escape(value, limit).replace("`", "'") + "`"
