"""The alert for one finding: SNS subject, readable text, per-protocol bodies and attributes.

Shared by `SnsFindingPublisher` and its `ListPublisher` twin so both produce the same message.
The finding is shown at a detail level (`Detail.REFERENCES` unless the deployment opts in to
`FULL` with `ALERT_DETAIL`, DESIGN 3.3).

SNS limits shape it: the subject is printable ASCII under 100 characters, attribute values are
never empty and at most `ATTRIBUTE_CHARS` long, and the whole message (every protocol's body
together, the attributes and subject beside it) stays under SNS's 256 KiB by construction: an
oversized alert loses, step by step until it fits, the per-layer `evaluations`, the near misses,
the patch documents, the request's policy documents, then has its strings and lists shortened,
and at last keeps only a skeleton of the finding; the readable text is cut too from the string
step on. The JSON then has `truncated` (what was removed) and `stored_finding` (the finding id,
`s3doctor findings get ID` and `GET /findings/ID`), and the text ends with the same pointer.
The stored finding keeps everything.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

from ..diagnose import render
from ..diagnose.detail import Detail, at_detail
from ..lean_dataclass import dataclass
from ..model import Finding, Json, Verdict
from .ports import finding_account
from .sizing import (
    TRUNCATED,
    clip,
    clipped,
    skeleton,
    without_evaluations,
    without_near_misses,
    without_patches,
    without_policy_documents,
)

SUBJECT_MAX = 99
SNS_LIMIT = 262_144  # bytes: the message and its attributes together
# The message's own ceiling; attributes (ATTRIBUTE_CHARS each) and subject fit in the rest.
MESSAGE_BUDGET = 240_000
ATTRIBUTE_CHARS = 1_024
POINTER = "stored_finding"
# (label, what the JSON loses, how long the readable text may stay), applied in order.
_STEPS: tuple[tuple[str, Callable[[Json], Json], int | None], ...] = (
    ("evaluations", without_evaluations, None),
    ("near_misses", without_near_misses, None),
    ("remedies.patch", without_patches, None),
    ("request.policies", without_policy_documents, None),
    ("strings", clipped(2_000, 100), 16_000),
    ("strings", clipped(200, 20), 4_000),
    ("skeleton", skeleton(100), 2_000),
    ("skeleton", skeleton(16), 500),
)
JSON_PROTOCOLS = ("sqs", "lambda", "https", "http", "firehose")
_SEVERITY = {
    Verdict.EXPLICIT_DENY: "high",
    Verdict.IMPLICIT_DENY: "medium",
    Verdict.INCONCLUSIVE: "medium",
    Verdict.ALLOWED: "low",  # the denial was not reproduced
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """Everything `sns.publish` needs, in SNS's own shapes."""

    subject: str
    message: str  # the MessageStructure=json document
    attributes: dict[str, dict[str, str]]


def severity(finding: Finding) -> str:
    """`high` for an explicit deny, `medium` for implicit or inconclusive, `low` if allowed.

    A finding may carry its own `severity` (in `extra`), which wins.
    """
    given = finding.extra.get("severity")
    return str(given) if given else _SEVERITY[finding.decision]


def subject(finding: Finding) -> str:
    """The renderer's one-line subject, as printable ASCII under 100 characters."""
    # SNS rejects non-ASCII subjects; the renderer shortens long resources with an ellipsis.
    line = render.subject(finding).replace("\u2026", "...")
    printable = "".join(ch if " " <= ch <= "~" else "?" for ch in line)
    return printable if len(printable) <= SUBJECT_MAX else printable[: SUBJECT_MAX - 3] + "..."


def attributes(finding: Finding) -> dict[str, dict[str, str]]:
    """Message attributes for subscription filter policies (DESIGN 3.5); empty ones left out.

    `account` (an extension): the account the denial happened in (`ports.finding_account`).
    """
    request = finding.request
    strings = {
        "bucket": request.bucket,
        "principal_arn": request.principal.principal_arn,
        "action": request.action,
        "decision": finding.decision.value,
        "severity": severity(finding),
        "account": finding_account(finding),
    }
    out = {
        name: {"DataType": "String", "StringValue": clip(value, chars=ATTRIBUTE_CHARS, items=0)}
        for name, value in strings.items()
        if value
    }
    out["blocked_by"] = {
        "DataType": "String.Array",
        "StringValue": json.dumps([b.value for b in finding.blocked_by]),
    }
    return out


def alert(finding: Finding, detail: Detail = Detail.REFERENCES) -> Alert:
    """The complete SNS message for `finding` shown at `detail`, under SNS's size limit."""
    shown = at_detail(finding, detail)
    title = subject(shown)
    tags = attributes(shown)
    budget = min(MESSAGE_BUDGET, SNS_LIMIT - len(title.encode()) - _size(tags))
    text = render.render_text(shown)
    document = shown.to_dict()
    message = _structured(text, document)
    applied: list[str] = []
    for label, step, text_chars in _STEPS:
        if len(message.encode()) <= budget:
            break
        document = step(document)
        applied.append(label)
        if text_chars is not None and len(text) > text_chars:
            text = clip(text, chars=text_chars, items=0)
            applied.append("text")
        labels = list(dict.fromkeys(applied))
        message = _structured(
            text + _pointer_text(shown.finding_id, labels),
            {**document, TRUNCATED: labels, POINTER: _pointer(shown.finding_id)},
        )
    if len(message.encode()) > budget:  # the last skeleton always fits; a bug otherwise
        raise ValueError(f"alert of finding {finding.finding_id} does not fit SNS")
    return Alert(subject=title, message=message, attributes=tags)


def _pointer(finding_id: str) -> Json:
    """Where the whole finding can be read."""
    shown = clip(finding_id, chars=1_024, items=0)
    return {
        "finding_id": shown,
        "cli": f"s3doctor findings get {shlex.quote(shown)}",
        "api": f"GET /findings/{shown}",
    }


def _pointer_text(finding_id: str, labels: list[str]) -> str:
    pointer = _pointer(finding_id)
    return (
        f"\n\n[truncated: {', '.join(labels)}] The whole finding: {pointer['cli']}"
        f" (API: {pointer['api']})\n"
    )


def _size(tags: dict[str, dict[str, str]]) -> int:
    """SNS's count of message attributes: names, data types and values."""
    return sum(
        len(name.encode()) + len(v["DataType"].encode()) + len(v["StringValue"].encode())
        for name, v in tags.items()
    )


def _structured(readable: str, document: Json) -> str:
    body = json.dumps(document, sort_keys=True, separators=(",", ":"))
    structure = {"default": readable, "email": readable} | dict.fromkeys(JSON_PROTOCOLS, body)
    return json.dumps(structure, sort_keys=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """An alert about alerts (publish/budget.py): the budget is spent, or how many a window
    held back. The bucket name is the only input; the text shows it neutralised
    (`untrusted.text`) and quotes it in commands."""

    bucket: str
    subject: str
    text: str


def notice_alert(notice: Notice) -> Alert:
    """The SNS message of a notice: its text for people, a small JSON document for machines,
    and the attributes `kind` (`alert-budget`), `bucket` and `severity` (`info`)."""
    document = {"kind": "alert-budget", "bucket": notice.bucket, "text": notice.text}
    title = "".join(
        ch if " " <= ch <= "~" else "?" for ch in notice.subject.replace("\u2026", "...")
    )
    tags = {
        "kind": {"DataType": "String", "StringValue": "alert-budget"},
        "bucket": {"DataType": "String", "StringValue": notice.bucket[:ATTRIBUTE_CHARS]},
        "severity": {"DataType": "String", "StringValue": "info"},
    }
    return Alert(
        subject=title[:SUBJECT_MAX],
        message=_structured(notice.text + "\n", document),
        attributes=tags,
    )
