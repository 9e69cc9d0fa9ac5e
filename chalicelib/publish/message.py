"""The alert for one finding: SNS subject, readable text, per-protocol bodies and attributes.

Shared by `SnsFindingPublisher` and its `ListPublisher` twin so both produce the same message.
SNS limits shape it: the subject is printable ASCII under 100 characters, attribute values are
never empty, and the whole message (every protocol's body together) stays under 256 KiB, so an
oversized finding loses its per-layer `evaluations` in the machine-readable bodies (the stored
finding keeps them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from chalicelib.diagnose import render
from chalicelib.model import Finding, Json, Verdict

SUBJECT_MAX = 99
# SNS accepts 262,144 bytes for the message and its attributes; keep room for the attributes.
MESSAGE_BUDGET = 240_000
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
    """Message attributes for subscription filter policies (DESIGN 3.5); empty ones left out."""
    request = finding.request
    strings = {
        "bucket": request.bucket,
        "principal_arn": request.principal.principal_arn,
        "action": request.action,
        "decision": finding.decision.value,
        "severity": severity(finding),
    }
    out = {
        name: {"DataType": "String", "StringValue": value}
        for name, value in strings.items()
        if value
    }
    out["blocked_by"] = {
        "DataType": "String.Array",
        "StringValue": json.dumps([b.value for b in finding.blocked_by]),
    }
    return out


def alert(finding: Finding) -> Alert:
    """The complete SNS message for `finding`."""
    readable = render.render_text(finding)
    document = finding.to_dict()
    message = _structured(readable, document)
    if len(message.encode()) > MESSAGE_BUDGET:
        slim = {**document, "evaluations": [], "truncated": ["evaluations"]}
        message = _structured(readable, slim)
    return Alert(subject=subject(finding), message=message, attributes=attributes(finding))


def _structured(readable: str, document: Json) -> str:
    body = json.dumps(document, sort_keys=True, separators=(",", ":"))
    structure = {"default": readable, "email": readable} | dict.fromkeys(JSON_PROTOCOLS, body)
    return json.dumps(structure, sort_keys=True)
