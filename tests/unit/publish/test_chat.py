"""Chat alerts: every golden finding renders to a valid, bounded Chatbot custom notification."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from chalicelib.diagnose.detail import Detail
from chalicelib.model import Finding, Remedy
from chalicelib.publish.budget import spent_notice
from chalicelib.publish.chat import (
    CHAT_MESSAGE_LIMIT,
    chat_notification,
    encode,
    notice_notification,
)
from tests.unit.diagnose.test_render import hostile_finding

from .builders import build_finding

DATA = Path(__file__).resolve().parents[2] / "data"
SCHEMA = json.loads((DATA / "chatbot-custom-notification.schema.json").read_text())
GOLDEN = sorted(DATA.glob("scenarios/*/golden.json"))


def check(document: dict) -> None:
    jsonschema.validate(document, SCHEMA)
    assert len(encode(document).encode()) <= CHAT_MESSAGE_LIMIT


@pytest.mark.parametrize("detail", list(Detail))
@pytest.mark.parametrize("path", GOLDEN, ids=[p.parent.name for p in GOLDEN])
def test_every_golden_finding_renders_to_a_valid_bounded_notification(path, detail) -> None:
    finding = Finding.from_dict(json.loads(path.read_text(encoding="utf-8")))
    document = chat_notification(finding, detail)
    check(document)
    content = document["content"]
    assert content["nextSteps"][-1] == (
        f"Read the whole finding: `s3doctor findings get {finding.finding_id}`"
        f" or `GET /findings/{finding.finding_id}`"
    )
    assert finding.decision.value in content["keywords"]
    assert document["metadata"]["threadId"].startswith("s3doctor-")


def test_golden_scenarios_are_there() -> None:
    assert len(GOLDEN) >= 40


def test_hostile_and_huge_findings_stay_within_every_bound() -> None:
    huge = build_finding(
        "h" * 300,
        bucket="b" * 63,
        remedies=tuple(
            Remedy(code="FIX_STATEMENT", target="t", summary="&<>" * 2_000) for _ in range(50)
        ),
    )
    for finding in (hostile_finding(), huge):
        for detail in Detail:
            document = chat_notification(finding, detail)
            check(document)
            assert "<" not in document["content"]["description"]


def test_repeats_of_one_diagnosis_share_a_thread_and_other_diagnoses_do_not() -> None:
    first = chat_notification(build_finding("e-1"))
    later = chat_notification(build_finding("e-2", first_seen="2025-03-02T10:00:00Z"))
    other = chat_notification(build_finding("e-3", user="bob"))
    assert first["metadata"]["threadId"] == later["metadata"]["threadId"]
    assert first["metadata"]["threadId"] != other["metadata"]["threadId"]
    assert first["metadata"]["threadId"].startswith("s3doctor-reports-")


def test_the_alert_detail_level_hides_cause_messages() -> None:
    finding = build_finding(
        remedies=(Remedy(code="FIX_STATEMENT", target="t", summary="secret-value in policy"),)
    )
    shown = json.dumps(chat_notification(finding, Detail.REFERENCES))
    assert "secret-value" not in shown and "A Deny matched." not in shown
    assert "secret-value" in json.dumps(chat_notification(finding, Detail.FULL))


def test_budget_notices_are_simple_custom_notifications() -> None:
    document = notice_notification(spent_notice("reports", limit=10, end="2025-03-01T10:15:00Z"))
    check(document)
    assert document["content"]["keywords"] == ["alert-budget", "reports"]
    assert document["metadata"]["threadId"] == "s3doctor-budget-reports"
