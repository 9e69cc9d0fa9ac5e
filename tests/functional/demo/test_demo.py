"""`s3doctor demo` (DESIGN 3.6): every seeded cause comes out of the real handler, alert and API."""

import json

import pytest

from chalicelib.cli import main
from chalicelib.demo.run import ALARMS, DASHBOARD, as_chat_user_sees, run_flow
from chalicelib.demo.scenarios import SCENARIOS
from chalicelib.publish.securityhub import asff_id


@pytest.fixture(scope="module")
def report():
    return run_flow()


def test_demo_seeds_at_least_six_classic_causes():
    assert len({s.cause_code for s in SCENARIOS}) >= 6
    assert len({s.layer for s in SCENARIOS}) >= 6


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_each_seeded_cause_is_diagnosed_and_listed_by_the_api(report, scenario):
    assert report.api_status == 200
    finding = report.finding_for(scenario)
    assert finding is not None, f"no finding for {scenario.name}"
    assert scenario.cause_code in [c.code for c in finding.causes]
    assert scenario.layer in finding.blocked_by
    assert finding.occurrences == 1


def test_subscriber_receives_one_alert_per_cause_with_filterable_attributes(report):
    assert len(report.deliveries) == len(SCENARIOS)
    by_event = {d.finding["event_id"]: d for d in report.deliveries}
    for scenario, event in zip(report.scenarios, report.events, strict=True):
        delivery = by_event[event["detail"]["eventID"]]
        assert delivery.attributes["bucket"] == event["detail"]["requestParameters"]["bucketName"]
        assert scenario.layer.value in json.loads(delivery.attributes["blocked_by"])
        assert scenario.cause_code in delivery.subject


def test_chat_receives_one_custom_notification_per_alert(report):
    assert len(report.chat) == len(SCENARIOS)
    titles = {d["content"]["title"] for d in report.chat}
    for delivery in report.deliveries:
        assert any(
            delivery.finding["finding_id"] in d["content"]["nextSteps"][-1] for d in report.chat
        )
    for scenario in SCENARIOS:
        assert any(scenario.cause_code in title for title in titles)
    for document in report.chat:
        assert (document["version"], document["source"]) == ("1.0", "custom")
        assert document["content"]["textType"] == "client-markdown"


def test_security_hub_holds_one_finding_per_alert(report):
    ids = sorted(f["Id"] for f in report.security_hub)
    assert ids == sorted(asff_id(d.finding["finding_id"]) for d in report.deliveries)
    for finding in report.security_hub:
        assert finding["Workflow"] == {"Status": "NEW"} and finding["RecordState"] == "ACTIVE"
        assert finding["Severity"]["Label"] in {"HIGH", "MEDIUM"}


def test_chat_markup_is_shown_as_a_chat_user_sees_it():
    assert as_chat_user_sees("*Why* `a&lt;b` _x_ x*y*z") == "Why a<b x x*y*z"


def test_demo_events_carry_the_real_eventbridge_envelope(report):
    for event in report.events:
        assert {"version", "id", "detail-type", "source", "account", "time", "region"} <= set(event)
        assert event["source"] == "aws.s3"
        assert event["detail"]["errorCode"] == "AccessDenied"
        assert event["account"] == event["detail"]["recipientAccountId"]


def test_s3doctor_demo_tells_the_story_and_exits_0(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert f"The SQS subscriber received {len(SCENARIOS)} alert(s)" in out
    assert f"GET /findings returned 200 with {len(SCENARIOS)} finding(s)." in out
    assert f"The chat topic (AWS Chatbot custom notifications) received {len(SCENARIOS)}" in out
    assert "As the chat channel shows the first one:" in out
    assert f"Security Hub holds {len(SCENARIOS)} finding(s) from s3-403-doctor (ASFF)." in out
    assert "Workflow: NEW" in out and "Severity: " in out
    assert all(name in out for name in ALARMS) and f"dashboard {DASHBOARD}" in out
    for scenario in SCENARIOS:
        assert f"* {scenario.name}: {scenario.title}" in out
        assert f"cause {scenario.cause_code}" in out
    assert max(len(line) for line in out.splitlines()) <= 100
