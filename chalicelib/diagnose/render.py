"""Renderers of a finding: terminal text, Markdown, JSON (DESIGN 3.3), AWS Chatbot, subject.

The text form answers, on its first screen, what was denied, why, and the fix; detail (near
misses, layers, unchecked layers) follows. Colour is opt-in: the CLI turns it on for a TTY.
"""

from __future__ import annotations

import json
import textwrap

from chalicelib.diagnose.catalog import CauseCode, RemedyCode, entry, remedy_title
from chalicelib.model import Finding, Json, Outcome, Verdict

WIDTH = 100
SUBJECT_LIMIT = 99

_COLOURS = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2", "cyan": "36"}
_VERDICT_COLOUR = {
    Verdict.ALLOWED: "green",
    Verdict.EXPLICIT_DENY: "red",
    Verdict.IMPLICIT_DENY: "red",
    Verdict.INCONCLUSIVE: "yellow",
}
_OUTCOME_COLOUR = {
    Outcome.ALLOW: "green",
    Outcome.EXPLICIT_DENY: "red",
    Outcome.IMPLICIT_DENY: "red",
    Outcome.UNKNOWN: "yellow",
    Outcome.NOT_APPLICABLE: "dim",
}


def render_json(finding: Finding) -> str:
    """The finding as DESIGN 3.3 JSON: sorted keys, indent 2, trailing newline."""
    return json.dumps(finding.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _title(code: str) -> str:
    try:
        return entry(CauseCode(code)).title
    except ValueError:
        return code


def _remedy_title(code: str) -> str:
    try:
        return remedy_title(RemedyCode(code))
    except ValueError:
        return code


def _verdict_word(finding: Finding) -> str:
    return {
        Verdict.ALLOWED: "NOT REPRODUCED",
        Verdict.EXPLICIT_DENY: "DENIED",
        Verdict.IMPLICIT_DENY: "DENIED",
        Verdict.INCONCLUSIVE: "INCONCLUSIVE",
    }[finding.decision]


def _resource_short(arn: str) -> str:
    return arn.removeprefix("arn:aws:s3:::")


def subject(finding: Finding) -> str:
    """One line under 100 characters for alerts: verdict, action, resource, first cause."""
    cause = finding.causes[0].code if finding.causes else finding.decision.value
    action = finding.request.action
    resource = _resource_short(finding.request.resource_arn)
    head = f"S3 403 {action} "
    tail = f": {cause}"
    room = SUBJECT_LIMIT - len(head) - len(tail)
    if room < 8:
        return (head + tail.removeprefix(": "))[:SUBJECT_LIMIT]
    if len(resource) > room:
        resource = resource[: room - 1] + "…"
    return f"{head}{resource}{tail}"


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, name: str) -> str:
        if not self.color:
            return text
        return f"\033[{_COLOURS[name]}m{text}\033[0m"


def _wrap(text: str, indent: str, width: int = WIDTH) -> list[str]:
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent]


def render_text(finding: Finding, *, color: bool = False) -> str:
    """Terminal text, at most 100 columns wide (except unbreakable ARNs and commands)."""
    s = _Style(color)
    req = finding.request
    lines: list[str] = []
    verdict = s(_verdict_word(finding), "bold")
    verdict = s(verdict, _VERDICT_COLOUR[finding.decision])
    lines.append(f"{verdict}  {req.action} on {req.resource_arn}")
    who = req.principal.requester_arn
    lines.append(f"  by {who} ({req.principal.type.value})")
    if req.principal.principal_arn != who:
        lines.append(f"  as {req.principal.principal_arn}")
    blocked = ", ".join(b.value for b in finding.blocked_by) or "-"
    lines.append(f"  verdict {finding.decision.value}; blocked by {blocked}")
    if finding.event_id:
        lines.append(s(f"  event {finding.event_id} at {finding.event_time or '?'}", "dim"))

    lines += ["", s("WHY", "bold")]
    if not finding.causes:
        lines.append("  No cause found.")
    for cause in finding.causes:
        layer = f" [{cause.layer.value}]" if cause.layer else ""
        maybe = " (possible)" if cause.confidence == "possible" else ""
        lines.append(f"  {s('✗', 'red')} {s(_title(cause.code), 'bold')}{layer}{maybe}")
        lines += _wrap(cause.message, "    ")
        lines.append(s(f"    code {cause.code}", "dim"))

    if finding.remedies:
        lines += ["", s("FIX", "bold")]
    for number, remedy in enumerate(finding.remedies, 1):
        mark = s("verified", "green") if remedy.verified else s("not verified", "yellow")
        lines += _wrap(f"{number}. {remedy.summary} ({mark})", "  ")
        lines.append(f"     target {remedy.target}")
        if remedy.cli:
            lines.append(s(f"     $ {remedy.cli}", "cyan"))

    if finding.near_misses:
        lines += ["", s("NEARLY MATCHED", "bold")]
    for miss in finding.near_misses:
        sid = f" {miss.sid!r}" if miss.sid else ""
        lines += _wrap(f"- {miss.policy} #{miss.index}{sid}: {miss.why}", "  ")

    if finding.unchecked:
        lines += ["", s("NOT CHECKED", "bold")]
    for item in finding.unchecked:
        needs = f" (needs {item.needs})" if item.needs else ""
        lines += _wrap(f"- {item.layer.value}: {item.reason}{needs}", "  ")

    lines += ["", s("LAYERS", "bold")]
    for evaluation in finding.evaluations:
        decision = s(evaluation.decision.value, _VERDICT_COLOUR[evaluation.decision])
        lines.append(f"  {evaluation.action} on {evaluation.resource_arn}: {decision}")
        for lr in evaluation.layers:
            refs = ", ".join(
                f"{st.sid or '#' + str(st.index)} in {st.policy}" for st in lr.statements
            )
            outcome = s(f"{lr.outcome.value:<15}", _OUTCOME_COLOUR[lr.outcome])
            lines += _wrap(f"{lr.layer.value:<22}{outcome} {refs}".rstrip(), "    ")

    if finding.notes:
        lines += ["", s("NOTES", "bold")]
        for note in finding.notes:
            lines += _wrap(f"- {note}", "  ")
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(finding: Finding) -> str:
    """Markdown for a ticket: summary, causes, fixes with patch and command, evidence."""
    req = finding.request
    out: list[str] = [
        f"## {_verdict_word(finding).capitalize()}: `{req.action}` on `{req.resource_arn}`",
        "",
        f"- **Requester:** `{req.principal.requester_arn}` ({req.principal.type.value})",
        f"- **Policies of:** `{req.principal.principal_arn}`",
        f"- **Verdict:** {finding.decision.value}; blocked by "
        + (", ".join(f"`{b.value}`" for b in finding.blocked_by) or "nothing"),
    ]
    if finding.event_id:
        out.append(f"- **Event:** `{finding.event_id}` at {finding.event_time or 'unknown time'}")
    out += ["", "### Why", ""]
    for cause in finding.causes or ():
        layer = f" (`{cause.layer.value}`)" if cause.layer else ""
        maybe = " *(possible)*" if cause.confidence == "possible" else ""
        out.append(f"- **{_title(cause.code)}**{layer}{maybe}: {cause.message} `{cause.code}`")
    if not finding.causes:
        out.append("- No cause found.")
    if finding.remedies:
        out += ["", "### Fix", ""]
    for number, remedy in enumerate(finding.remedies, 1):
        check = "verified by re-evaluation" if remedy.verified else "not verified"
        title = _remedy_title(remedy.code)
        out.append(f"{number}. **{title}**: {remedy.summary} ({check}); target `{remedy.target}`")
        if remedy.patch is not None:
            patch = json.dumps(remedy.patch, indent=2, sort_keys=True)
            out += ["", "   ```json", textwrap.indent(patch, "   "), "   ```"]
        if remedy.cli:
            out += ["", "   ```sh", f"   {remedy.cli}", "   ```"]
        out.append("")
    if finding.near_misses:
        out += ["", "### Nearly matched", ""]
        out += [
            f"- `{m.policy}` #{m.index}{' ' + repr(m.sid) if m.sid else ''}: {m.why}"
            for m in finding.near_misses
        ]
    if finding.unchecked:
        out += ["", "### Not checked", ""]
        out += [
            f"- `{u.layer.value}`: {u.reason}" + (f" (needs `{u.needs}`)" if u.needs else "")
            for u in finding.unchecked
        ]
    out += ["", "### Layers", "", "| Action | Resource | Layer | Outcome | Statements |"]
    out.append("|---|---|---|---|---|")
    for evaluation in finding.evaluations:
        for lr in evaluation.layers:
            refs = "; ".join(
                f"{st.policy} #{st.index} {st.sid or ''}".strip() for st in lr.statements
            )
            out.append(
                f"| `{evaluation.action}` | `{evaluation.resource_arn}` | {lr.layer.value} "
                f"| {lr.outcome.value} | {_md_escape(refs)} |"
            )
    if finding.notes:
        out += ["", "### Notes", ""] + [f"- {note}" for note in finding.notes]
    text = "\n".join(out).rstrip() + "\n"
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def _keywords(finding: Finding) -> list[str]:
    words = [c.code for c in finding.causes] + [layer.value for layer in finding.blocked_by]
    return list(dict.fromkeys(words))[:5]


def render_chatbot(finding: Finding) -> Json:
    """An AWS Chatbot (Amazon Q Developer in chat) custom notification for Slack/Teams."""
    req = finding.request
    lines = [f"*{req.action}* on `{req.resource_arn}` by `{req.principal.requester_arn}`"]
    lines += [f"• *{_title(c.code)}*: {c.message}" for c in finding.causes[:3]]
    steps = [
        remedy.summary + (f" `{remedy.cli}`" if remedy.cli else "")
        for remedy in finding.remedies[:3]
    ]
    return {
        "version": "1.0",
        "source": "custom",
        "id": finding.finding_id,
        "content": {
            "textType": "client-markdown",
            "title": subject(finding),
            "description": "\n".join(lines),
            "nextSteps": steps,
            "keywords": _keywords(finding),
        },
        "metadata": {
            "threadId": f"s3doctor-{req.bucket or 'account'}-{req.principal.principal_arn}",
            "summary": subject(finding),
            "eventType": "S3AccessDenied",
            "relatedResources": [req.resource_arn, req.principal.principal_arn],
            "additionalContext": {
                "finding_id": finding.finding_id,
                "decision": finding.decision.value,
                "blocked_by": ",".join(b.value for b in finding.blocked_by),
            },
        },
    }
