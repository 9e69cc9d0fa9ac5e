"""The SNS alert of a finding, as the ListPublisher twin records it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from chalicelib.diagnose.detail import Detail, at_detail
from chalicelib.diagnose.render import render_markdown
from chalicelib.model import Evaluation, Finding, Layer, LayerResult, Outcome, Remedy, Verdict
from chalicelib.publish.chat import chat_notification
from chalicelib.publish.memory import ListPublisher
from chalicelib.publish.message import MESSAGE_BUDGET, alert, subject
from chalicelib.publish.securityhub import asff_finding

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_alert_has_readable_text_for_people_and_the_finding_json_for_machines(make_finding):
    finding = make_finding(
        remedies=(
            Remedy(code="EDIT", target="reports", summary="Remove the Deny", cli="aws s3api"),
        )
    )
    message = json.loads(alert(finding, Detail.FULL).message)
    assert set(message) >= {"default", "email", "sqs", "lambda", "https"}
    assert "arn:aws:iam::111122223333:user/alice" in message["email"]
    assert "Remove the Deny" in message["default"]
    for protocol in ("sqs", "lambda", "https"):
        assert json.loads(message[protocol]) == json.loads(json.dumps(finding.to_dict()))


def test_alerts_show_references_unless_full_detail_is_asked_for(make_finding):
    finding = make_finding(
        remedies=(
            Remedy(code="EDIT", target="reports", summary="Remove the Deny", cli="aws s3api"),
        )
    )
    message = json.loads(alert(finding).message)
    assert "Remove the Deny" not in message["default"]
    expected = at_detail(finding, Detail.REFERENCES).to_dict()
    assert json.loads(message["sqs"]) == json.loads(json.dumps(expected))
    assert ListPublisher().publish(finding) and ListPublisher(detail=Detail.FULL).detail is (
        Detail.FULL
    )


def test_attributes_let_subscribers_filter_by_bucket_principal_decision_layer(make_finding):
    finding = make_finding(blocked_by=(Layer.BUCKET_POLICY, Layer.KMS_KEY_POLICY))
    attributes = alert(finding).attributes
    assert attributes["bucket"] == {"DataType": "String", "StringValue": "reports"}
    assert attributes["principal_arn"]["StringValue"] == "arn:aws:iam::111122223333:user/alice"
    assert attributes["action"]["StringValue"] == "s3:GetObject"
    assert attributes["decision"]["StringValue"] == "explicit-deny"
    assert attributes["severity"]["StringValue"] == "high"
    assert attributes["blocked_by"]["DataType"] == "String.Array"
    assert json.loads(attributes["blocked_by"]["StringValue"]) == [
        "bucket-policy",
        "kms-key-policy",
    ]


def test_severity_follows_the_decision(make_finding):
    def severity(decision):
        return alert(make_finding(decision=decision)).attributes["severity"]["StringValue"]

    assert severity(Verdict.IMPLICIT_DENY) == "medium"
    assert severity(Verdict.INCONCLUSIVE) == "medium"
    assert severity(Verdict.ALLOWED) == "low"


def test_subject_is_printable_ascii_under_100_characters_even_for_long_names(make_finding):
    finding = make_finding(bucket="b" * 63, user="u" * 64, action="s3:GetObjectVersionAttributes")
    text = subject(finding)
    assert len(text) < 100
    assert all(" " <= ch <= "~" for ch in text)


def test_oversized_finding_drops_evaluations_but_keeps_the_alert_under_the_sns_limit(make_finding):
    layers = tuple(
        LayerResult(layer=Layer.IDENTITY_POLICY, outcome=Outcome.IMPLICIT_DENY, detail="x" * 200)
        for _ in range(300)
    )
    evaluation = Evaluation(
        action="s3:GetObject",
        resource_arn="arn:aws:s3:::reports/data/report.csv",
        decision=Verdict.EXPLICIT_DENY,
        layers=layers,
    )
    big = alert(make_finding(evaluations=(evaluation,)), Detail.FULL)
    assert len(big.message.encode()) <= MESSAGE_BUDGET
    body = json.loads(json.loads(big.message)["sqs"])
    assert body["evaluations"] == []
    assert body["truncated"] == ["evaluations"]
    assert body["stored_finding"] == {
        "finding_id": "e-1",
        "cli": "s3doctor findings get e-1",
        "api": "GET /findings/e-1",
    }
    assert "s3doctor findings get e-1" in json.loads(big.message)["default"]
    small = json.loads(json.loads(alert(make_finding()).message)["sqs"])
    assert "truncated" not in small and "stored_finding" not in small


def test_list_publisher_keeps_each_alert_in_order(make_finding):
    publisher = ListPublisher()
    first = publisher.publish(make_finding("e-1"))
    second = publisher.publish(make_finding("e-2"))
    assert first != second
    assert [f.finding_id for f, _ in publisher.sent] == ["e-1", "e-2"]
    assert publisher.sent[0][1] == alert(make_finding("e-1"))


def test_a_references_alert_names_each_cause_and_fix_once() -> None:
    """At `references` a cause's message and a fix's summary are their catalog titles: the
    e-mail and the Markdown said each twice ("Explicit deny in the bucket policy" on the
    title line, then again as its explanation)."""
    scenarios = Path(__file__).resolve().parents[2] / "data" / "scenarios"
    for name in ("kms-key-disabled", "scp-explicit-deny", "bucket-policy-deny-insecure-transport"):
        finding = Finding.from_dict(json.loads((scenarios / name / "golden.json").read_text()))
        shown = at_detail(finding, Detail.REFERENCES)
        email = json.loads(alert(finding).message)["email"]
        markdown = render_markdown(shown)
        for cause in shown.causes:
            assert email.count(cause.message) == 1, (name, email)
            assert markdown.count(cause.message) == 1, (name, markdown)
        for remedy in shown.remedies:
            assert markdown.count(f"**{remedy.summary}**:") == 0, (name, markdown)


def test_the_catalogs_advice_reaches_every_references_alert() -> None:
    """A refusal no policy patch lifts (a disabled KMS key, MFA delete, an anonymous caller)
    gets the catalog's fix as advice; at `references` every alert said only "Advice"."""
    scenarios = Path(__file__).resolve().parents[2] / "data" / "scenarios"
    names = ("kms-key-disabled", "event-mfa-delete-refuses-version-delete")
    for name in (*names, "event-anonymous-head-object"):
        finding = Finding.from_dict(json.loads((scenarios / name / "golden.json").read_text()))
        [advice] = [r for r in finding.remedies if r.code == "FOLLOW_ADVICE"]
        start = advice.summary[:40]
        assert start in json.loads(alert(finding).message)["email"], name
        assert start in chat_notification(finding)["content"]["description"], name
        hub = asff_finding(finding, account_id="123456789012", region="us-east-1", now=NOW)
        assert hub["Remediation"]["Recommendation"]["Text"].startswith(start), name
        shown = render_markdown(at_detail(finding, Detail.REFERENCES)).replace("\\", "")
        assert start in shown, name


def test_a_missing_or_unreadable_object_keeps_its_advice_withheld() -> None:
    scenarios = Path(__file__).resolve().parents[2] / "data" / "scenarios"
    path = scenarios / "object-missing-without-listbucket" / "golden.json"
    finding = Finding.from_dict(json.loads(path.read_text()))
    assert "Fix the key or path" not in json.loads(alert(finding).message)["email"]
