"""Renderers: what a paged person, a ticket and a chat channel see."""

from __future__ import annotations

import json

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
    assert "1. **Make the request comply with the Deny**: Send the request over HTTPS." in md


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
    assert content["title"] == subject(finding())
    assert "Explicit deny in the bucket policy" in content["description"]
    assert content["nextSteps"] == [
        "Send the request over HTTPS. `aws s3 cp s3://example-bucket/data/report.csv .`"
    ]
    assert note["metadata"]["threadId"].startswith("s3doctor-example-bucket-")
    json.dumps(note)
