"""Renderers of a finding: terminal text, Markdown, JSON (DESIGN 3.3), AWS Chatbot, subject.

The text form answers, on its first screen, what was denied, why, and the fix; detail (near
misses, layers, unchecked layers) follows. Colour is opt-in: the CLI turns it on for a TTY.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import textwrap
from collections.abc import Mapping

from ..arn import split_s3_arn
from ..model import (
    Finding,
    Json,
    Operation,
    Outcome,
    Remedy,
    Scope,
    StatementRef,
    Verdict,
    WhatIf,
)
from .catalog import CauseCode, RemedyCode, entry, remedy_title
from .causes import operation_of
from .untrusted import (
    chat_code,
    chat_escape,
    command_safe,
    md_code,
    md_fence,
    md_text,
    message,
    neutralise,
    shorten,
    text,
    wrap,
)

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
    """ALLOWED for a runbook request; NOT REPRODUCED for a denied event found allowed; NOT
    DIAGNOSED for a request the engine does not model."""
    if finding.request.scope is Scope.OUT_OF_SCOPE:
        return "NOT DIAGNOSED"
    return {
        Verdict.ALLOWED: "ALLOWED" if finding.request.event_id is None else "NOT REPRODUCED",
        Verdict.EXPLICIT_DENY: "DENIED",
        Verdict.IMPLICIT_DENY: "DENIED",
        Verdict.INCONCLUSIVE: "INCONCLUSIVE",
    }[finding.decision]


def _what_if_line(
    item: WhatIf, decision: Verdict, *, markdown: bool = False, logged: bool = True
) -> str:
    """`denied if aws:SecureTransport is false (the request did not say): explicit-deny, …`;
    `logged=False` for an event's key that CloudTrail does not log."""
    show = md_code if markdown else text
    values = " or ".join(show(v) for v in item.assumed_values)
    key = show(item.key)
    said = f"{key} is {values}" if values else f"{key} is set (value withheld)"
    blocked = ", ".join(b.value for b in item.blocked_by)
    tail = f": {item.decision.value}" + (f", blocked by {blocked}" if blocked else "")
    word = "allowed" if item.decision is Verdict.ALLOWED else "denied"
    if decision is not Verdict.INCONCLUSIVE and (
        (item.decision is Verdict.ALLOWED) == (decision is Verdict.ALLOWED)
    ):
        word = f"still {word}"
    unsaid = "the request did not say" if logged else "CloudTrail does not log it"
    return f"{word} if {said} ({unsaid}){tail}"


def _resource_short(arn: str) -> str:
    """`bucket/key` of an S3 ARN of any partition; other ARNs whole."""
    target = split_s3_arn(arn)
    if target is None:
        return arn
    bucket, key = target
    return bucket if key is None else f"{bucket}/{key}"


def subject(finding: Finding) -> str:
    """One line under 100 characters for alerts: verdict, action, resource, first cause."""
    head, resource, tail = _subject_parts(finding)
    room = SUBJECT_LIMIT - len(head) - len(tail)
    if room < 8:
        return (head + tail.removeprefix(": "))[:SUBJECT_LIMIT]
    return f"{head}{shorten(resource, room)}{tail}"


def _subject_parts(finding: Finding) -> tuple[str, str, str]:
    cause = finding.causes[0].code if finding.causes else finding.decision.value
    named = denied_operation(finding)
    action = text(named.action, 40)
    resource = neutralise(_resource_short(named.resource_arn))
    return f"S3 403 {action} ", resource, f": {text(cause, 40)}"


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, value: str, name: str) -> str:
        if not self.color:
            return value
        return f"\033[{_COLOURS[name]}m{value}\033[0m"


def _wrap(prose: str, indent: str) -> list[str]:
    return wrap(prose, WIDTH, indent, indent + "  ")


def _command(cli: str) -> str | None:
    """A stored command shown only when it is safe to display and to paste as is."""
    return cli if command_safe(cli) else None


def _attempts(finding: Finding) -> str | None:
    """The line of an "outside access attempts" finding (aggregation.py): what it counts."""
    attempts = finding.extra.get("outside_attempts")
    if not isinstance(attempts, Mapping):
        return None
    who = "anonymous callers" if attempts.get("origin") == "anonymous" else "other accounts"

    def top(counts: object) -> str:
        if not isinstance(counts, Mapping):
            return "-"
        pairs = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))[:3]
        return ", ".join(f"{text(name, 60)} {int(n)}" for name, n in pairs) or "-"

    return (
        f"outside access attempts by {who}: {finding.occurrences} counted on this finding in "
        f"its window (actions: {top(attempts.get('by_action'))}; sources: "
        f"{top(attempts.get('by_source'))})"
    )


FURTHER_SHOWN = 3
"""The further operations of a call that a heading names (a DeleteObjects has one per key)."""


def denied_operation(finding: Finding) -> Operation:
    """The operation that the subject and the headings name: the first that the evaluation did
    not allow, else the request's first. A copy whose source read is allowed names its write,
    a PUT whose tagging header is refused names s3:PutObjectTagging, and a refused KMS leg
    names the operation it was evaluated for."""
    return _headline(finding)[0]


def _refused(finding: Finding) -> tuple[Operation, ...]:
    """The operations of a refused call that the evaluation did not allow, in the order of
    their first refusal (none in an allowed call)."""
    if finding.decision is Verdict.ALLOWED:
        return ()
    refused: dict[tuple[str, str], Operation] = {}
    for at, evaluation in enumerate(finding.evaluations):
        if evaluation.decision is Verdict.ALLOWED:
            continue
        found = operation_of(finding.request, finding.evaluations, at)
        if found is not None:
            refused.setdefault((found.action, found.resource_arn), found)
    return tuple(refused.values())


def _headline(finding: Finding) -> tuple[Operation, list[tuple[str, str, bool]], int]:
    """`denied_operation`; the (action, resource, allowed) of the other operations S3
    authorises the call as, the first `FURTHER_SHOWN` of them; and how many more. A copy reads
    its source and writes its destination, a request with ACL or tagging headers is also
    authorised as those. `allowed`: evaluated and allowed in a call that was refused (a copy
    refused its write only: its read)."""
    refused = _refused(finding)
    first = refused[0] if refused else finding.request.operations[0]
    pairs = list(
        dict.fromkeys(
            (op.action, op.resource_arn)
            for op in finding.request.operations
            if (op.action, op.resource_arn) != (first.action, first.resource_arn)
        )
    )
    shown = pairs[:FURTHER_SHOWN]
    marks = finding.decision is not Verdict.ALLOWED
    evaluated = {(e.action, e.resource_arn) for e in finding.evaluations} if marks else set()
    not_allowed = {(op.action, op.resource_arn) for op in refused}
    further = [(*pair, pair in evaluated and pair not in not_allowed) for pair in shown]
    return first, further, max(0, len(pairs) - FURTHER_SHOWN)


def render_text(finding: Finding, *, color: bool = False) -> str:
    """Terminal text, at most 100 columns wide (except unbreakable ARNs and commands).

    Every value from the event or a policy goes through `untrusted`; commands are printed
    whole on one line, and withheld when they hold a character that is unsafe to print.
    """
    s = _Style(color)
    req = finding.request
    lines: list[str] = []
    verdict = s(_verdict_word(finding), "bold")
    verdict = s(verdict, _VERDICT_COLOUR[finding.decision])
    first, further, more = _headline(finding)
    lines.append(f"{verdict}  {text(first.action)} on {text(first.resource_arn)}")
    lines += [
        f"  and {text(action)} on {text(resource)}{' (allowed)' if allowed else ''}"
        for action, resource, allowed in further
    ]
    if more:
        lines.append(f"  and {more} more (LAYERS lists each)")
    who = req.principal.requester_arn
    lines.append(f"  by {text(who)} ({req.principal.type.value})")
    if req.principal.principal_arn != who:
        lines.append(f"  as {text(req.principal.principal_arn)}")
    blocked = ", ".join(b.value for b in finding.blocked_by) or "-"
    lines.append(f"  verdict {finding.decision.value}; blocked by {blocked}")
    if finding.event_id:
        event = f"  event {text(finding.event_id)} at {text(finding.event_time or '?')}"
        lines.append(s(event, "dim"))
    attempts = _attempts(finding)
    if attempts:
        lines += _wrap(attempts, "  ")

    lines += ["", s("WHY", "bold")]
    if not finding.causes:
        lines.append("  No cause found.")
    for cause in finding.causes:
        layer = f" [{cause.layer.value}]" if cause.layer else ""
        maybe = " (possible)" if cause.confidence == "possible" else ""
        title = text(_title(cause.code))
        lines.append(f"  {s('✗', 'red')} {s(title, 'bold')}{layer}{maybe}")
        if cause.message != _title(cause.code):  # at `references` the message is the title
            lines += _wrap(message(cause.message), "    ")
        lines.append(s(f"    code {text(cause.code)}", "dim"))

    if finding.what_if:
        lines += ["", s("IF THE REQUEST SAID…", "bold")]
    for assumed in finding.what_if:
        line = _what_if_line(assumed, finding.decision, logged=finding.event_id is None)
        lines += _wrap(f"- {line}", "  ")

    if finding.remedies:
        lines += ["", s("FIX", "bold")]
    for number, remedy in enumerate(finding.remedies, 1):
        mark = s("verified", "green") if remedy.verified else s("not verified", "yellow")
        lines += _wrap(f"{number}. {message(remedy.summary)} ({mark})", "  ")
        lines.append(f"     target {text(remedy.target)}")
        cli = _command(remedy.cli) if remedy.cli else None
        if cli:
            lines.append(s(f"     $ {cli}", "cyan"))
        elif remedy.cli:
            lines.append("     (command withheld: it holds control characters)")

    if finding.near_misses:
        lines += ["", s("NEARLY MATCHED", "bold")]
    for miss in finding.near_misses:
        sid = f" '{text(miss.sid)}'" if miss.sid else ""
        lines += _wrap(f"- {text(miss.policy)} #{miss.index}{sid}: {message(miss.why)}", "  ")

    if finding.unchecked:
        lines += ["", s("NOT CHECKED", "bold")]
    for item in finding.unchecked:
        needs = f" (needs {text(item.needs)})" if item.needs else ""
        lines += _wrap(f"- {item.layer.value}: {message(item.reason)}{needs}", "  ")

    if finding.evaluations:
        lines += ["", s("LAYERS", "bold")]
    for evaluation in finding.evaluations:
        decision = s(evaluation.decision.value, _VERDICT_COLOUR[evaluation.decision])
        action, resource = text(evaluation.action), text(evaluation.resource_arn)
        lines.append(f"  {action} on {resource}: {decision}")
        for lr in evaluation.layers:
            refs = ", ".join(
                f"{text(st.sid or '#' + str(st.index))} in {text(st.policy)}"
                for st in lr.statements
            )
            outcome = s(f"{lr.outcome.value:<15}", _OUTCOME_COLOUR[lr.outcome])
            lines += _wrap(f"{lr.layer.value:<22}{outcome} {refs}".rstrip(), "    ")

    if finding.notes:
        lines += ["", s("NOTES", "bold")]
        for note in finding.notes:
            lines += _wrap(f"- {message(note)}", "  ")
    return "\n".join(lines) + "\n"


def render_markdown(finding: Finding) -> str:
    """Markdown for a ticket: summary, causes, fixes with patch and command, evidence.

    Values are code spans, prose that embeds them is escaped (`untrusted`), and fenced blocks
    get a fence longer than any backtick run inside.
    """
    req = finding.request
    verdict = _verdict_word(finding).capitalize()
    first, further, more = _headline(finding)
    also = [
        f"{md_code(action)} on {md_code(resource)}{' (allowed)' if allowed else ''}"
        for action, resource, allowed in further
    ]
    also += [f"{more} more (see the evaluations)"] if more else []
    out: list[str] = [
        f"## {verdict}: {md_code(first.action)} on {md_code(first.resource_arn)}",
        "",
        *([f"- **Also authorised as:** {'; '.join(also)}"] if also else []),
        f"- **Requester:** {md_code(req.principal.requester_arn)} ({req.principal.type.value})",
        f"- **Policies of:** {md_code(req.principal.principal_arn)}",
        f"- **Verdict:** {finding.decision.value}; blocked by "
        + (", ".join(f"`{b.value}`" for b in finding.blocked_by) or "nothing"),
    ]
    if finding.event_id:
        when = md_code(finding.event_time) if finding.event_time else "unknown time"
        out.append(f"- **Event:** {md_code(finding.event_id)} at {when}")
    attempts = _attempts(finding)
    if attempts:
        out.append(f"- **Outside access attempts:** {md_text(attempts)}")
    out += ["", "### Why", ""]
    for cause in finding.causes or ():
        layer = f" (`{cause.layer.value}`)" if cause.layer else ""
        maybe = " *(possible)*" if cause.confidence == "possible" else ""
        title = md_text(_title(cause.code))
        said = f": {md_text(cause.message)}" if cause.message != _title(cause.code) else ""
        out.append(f"- **{title}**{layer}{maybe}{said} {md_code(cause.code)}")
    if not finding.causes:
        out.append("- No cause found.")
    if finding.what_if:
        out += ["", "### If the request said…", ""]
        logged = finding.event_id is None
        out += [
            f"- {_what_if_line(w, finding.decision, markdown=True, logged=logged)}"
            for w in finding.what_if
        ]
    if finding.remedies:
        out += ["", "### Fix", ""]
    for number, remedy in enumerate(finding.remedies, 1):
        check = "verified by re-evaluation" if remedy.verified else "not verified"
        title = md_text(_remedy_title(remedy.code))
        said = (
            f": {md_text(remedy.summary)}" if remedy.summary != _remedy_title(remedy.code) else ""
        )
        out.append(f"{number}. **{title}**{said} ({check}); target {md_code(remedy.target)}")
        if remedy.patch is not None:
            out += ["", *_md_block("json", json.dumps(remedy.patch, indent=2, sort_keys=True))]
        cli = _command(remedy.cli) if remedy.cli else None
        if cli:
            out += ["", *_md_block("sh", cli)]
        elif remedy.cli:
            out += ["", "   *(command withheld: it holds control characters)*"]
        out.append("")
    if finding.near_misses:
        out += ["", "### Nearly matched", ""]
        out += [
            f"- {md_code(m.policy)} #{m.index}{' ' + md_code(m.sid) if m.sid else ''}: "
            + md_text(m.why)
            for m in finding.near_misses
        ]
    if finding.unchecked:
        out += ["", "### Not checked", ""]
        out += [
            f"- `{u.layer.value}`: {md_text(u.reason)}"
            + (f" (needs {md_code(u.needs)})" if u.needs else "")
            for u in finding.unchecked
        ]
    if finding.evaluations:
        out += ["", "### Layers", "", "| Action | Resource | Layer | Outcome | Statements |"]
        out.append("|---|---|---|---|---|")
    for evaluation in finding.evaluations:
        for lr in evaluation.layers:
            refs = "; ".join(_md_statement(st) for st in lr.statements)
            out.append(
                f"| {md_code(evaluation.action, table=True)} "
                f"| {md_code(evaluation.resource_arn, table=True)} | {lr.layer.value} "
                f"| {lr.outcome.value} | {refs} |"
            )
    if finding.notes:
        out += ["", "### Notes", ""] + [f"- {md_text(note)}" for note in finding.notes]
    rendered = "\n".join(out).rstrip() + "\n"
    while "\n\n\n" in rendered:
        rendered = rendered.replace("\n\n\n", "\n\n")
    return rendered


def _md_statement(st: StatementRef) -> str:
    sid = f" {md_code(st.sid, table=True)}" if st.sid else ""
    return f"{md_code(st.policy, table=True)} #{st.index}{sid}"


def _md_block(language: str, body: str) -> list[str]:
    """A fenced block inside a list item; `body` is ours (JSON or a safe command)."""
    fence = md_fence(body)
    return [f"   {fence}{language}", textwrap.indent(body, "   "), f"   {fence}"]


def _keywords(finding: Finding, named: Operation) -> list[str]:
    """Chat tags: the layers that blocked, the bucket of `named` (`denied_operation`), the
    decision (in that order)."""
    words = [layer.value for layer in finding.blocked_by]
    words += [named.bucket or "no-bucket", finding.decision.value]
    return list(dict.fromkeys(words))[:CHAT_KEYWORDS]


# AWS Chatbot (Amazon Q Developer in chat applications) custom notifications: the bounds we
# keep, well inside what Slack and Teams render in one message (a Slack text block holds 3,000
# characters), so the whole document stays under 16 KiB and far below SNS's 256 KiB.
CHAT_TITLE = 250
CHAT_DESCRIPTION = 3_000
CHAT_STEPS = 5
CHAT_STEP = 600
CHAT_KEYWORDS = 5
CHAT_KEYWORD = 40
CHAT_THREAD_ID = 128
CHAT_CAUSES = 3
CHAT_REMEDIES = 3
_CHAT_LINE = 700  # one line of the description, after escaping
_CHAT_LIMITS = (300, 120, 40, 12)  # input shown per value, smaller until the line fits


def render_chatbot(finding: Finding) -> Json:
    """An AWS Chatbot (Amazon Q Developer in chat) custom notification for Slack/Teams.

    `title` is the one-line verdict; `description` says what was denied, why (up to three
    causes) and the fix (up to three remedies) in client-markdown; `nextSteps` are the fixes
    and where to read the whole finding (`s3doctor findings get ID`, `GET /findings/ID`);
    `keywords` are the blocking layers, the bucket and the decision. `metadata.threadId` is a
    digest of what makes two findings the same diagnosis (principal, action, bucket, decision,
    blocked layers, cause codes) prefixed with the bucket: the alert of a later aggregation
    window for the same denial joins the thread of the first one (repeats within a window are
    counted on the finding and sent no message).

    Input is code-quoted and escaped for client-markdown (`untrusted.chat_code`); a command
    holding a backtick or an unsafe character is left out (it could not be shown as is). Every
    field stays within the CHAT_* bounds whatever the input: a value is shown shorter until its
    line fits, and lines past CHAT_DESCRIPTION are dropped (with a pointer to the finding).
    """
    req = finding.request
    title = _chat_title(finding)
    blocked = ", ".join(b.value for b in finding.blocked_by) or "-"
    first = denied_operation(finding)
    lines = [
        _chat_fit(
            f"*{chat_escape(first.action, 40)}* on ",
            first.resource_arn,
            req.principal.requester_arn,
        ),
        f"*Verdict:* {chat_escape(finding.decision.value)}, blocked by {chat_escape(blocked)}"
        f" · seen {int(finding.occurrences)} time{'s' if finding.occurrences != 1 else ''}",
        "*Why*",
    ]
    lines += (
        [
            _chat_fit(f"• *{chat_escape(_title(c.code), 80)}*: ", c.message)
            if c.message != _title(c.code)  # at `references` the message is the title
            else f"• *{chat_escape(_title(c.code), 80)}*"
            for c in finding.causes[:CHAT_CAUSES]
        ]
        or ["• No cause found."]
    )
    if finding.remedies:
        lines.append("*Fix*")
        lines += [
            _chat_fit(f"{i}. ", r.summary)
            for i, r in enumerate(finding.remedies[:CHAT_REMEDIES], 1)
        ]
    pointer = _chat_pointer(finding.finding_id)
    description = _chat_lines(lines, f"_Whole finding:_ {pointer}")
    steps = [_chat_step(remedy) for remedy in finding.remedies[: CHAT_STEPS - 1]]
    steps.append(f"Read the whole finding: {pointer}")
    return {
        "version": "1.0",
        "source": "custom",
        "id": text(finding.finding_id, 128),
        "content": {
            "textType": "client-markdown",
            "title": title,
            "description": description,
            "nextSteps": steps,
            "keywords": [chat_escape(word, CHAT_KEYWORD) for word in _keywords(finding, first)],
        },
        "metadata": {
            "threadId": _thread_id(finding),
            "summary": title,
            "eventType": "S3AccessDenied",
            "relatedResources": [text(first.resource_arn), text(req.principal.principal_arn)],
            "additionalContext": {
                "finding_id": text(finding.finding_id, 128),
                "decision": finding.decision.value,
                "blocked_by": text(",".join(b.value for b in finding.blocked_by), 256),
                "occurrences": str(int(finding.occurrences)),
            },
        },
    }


def _chat_fit(prefix: str, *values: str, between: str = " by ") -> str:
    """`prefix` and `values` code-quoted, with the largest input limit that keeps the line
    within _CHAT_LINE (the smallest always fits: a few dozen characters per value)."""
    for limit in _CHAT_LIMITS:
        shown = prefix + between.join(chat_code(value, limit) for value in values)
        if len(shown) <= _CHAT_LINE:
            break
    return shown


def _chat_lines(lines: list[str], last: str) -> str:
    """`lines`, or as many as fit CHAT_DESCRIPTION then `…` and `last` (a pointer)."""
    if len("\n".join(lines)) <= CHAT_DESCRIPTION:
        return "\n".join(lines)
    kept: list[str] = []
    size = len(last) + 2
    for line in lines:
        if size + len(line) + 1 > CHAT_DESCRIPTION:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join([*kept, "…", last])


def _chat_pointer(finding_id: str) -> str:
    shown = text(finding_id, 128)
    return (
        f"{chat_code('s3doctor findings get ' + shlex.quote(shown), 200)}"
        f" or {chat_code('GET /findings/' + shown, 200)}"
    )


def _thread_id(finding: Finding) -> str:
    """`s3doctor-<bucket>-<digest of the diagnosis>`: at most CHAT_THREAD_ID characters."""
    req = finding.request
    key = [
        req.principal.principal_arn,
        req.action,
        req.bucket,
        finding.decision.value,
        sorted(b.value for b in finding.blocked_by),
        sorted(c.code for c in finding.causes),
    ]
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]
    bucket = re.sub(r"[^a-z0-9.-]", "", (req.bucket or "account").lower())[:63] or "bucket"
    return f"s3doctor-{bucket}-{digest}"[:CHAT_THREAD_ID]


def _chat_title(finding: Finding) -> str:
    """The subject with the resource code-quoted and escaped for client-markdown."""
    head, resource, tail = _subject_parts(finding)
    room = max(SUBJECT_LIMIT - len(head) - len(tail) - 2, 8)
    title = f"{chat_escape(head)}{chat_code(resource, room)}{chat_escape(tail)}"
    return title if len(title) <= CHAT_TITLE else f"{chat_escape(head)}{chat_escape(tail)}"


def _chat_step(remedy: Remedy) -> str:
    step = chat_code(remedy.summary, 300)
    cli = _command(remedy.cli) if remedy.cli else None
    if cli and "`" not in cli and len(step) + len(cli) + 3 <= CHAT_STEP:
        step += f" {chat_code(cli, len(cli))}"
    return step if len(step) <= CHAT_STEP else chat_code(remedy.summary, 60)
