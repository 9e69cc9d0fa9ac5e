"""`s3doctor demo` (DESIGN 3.6): every seeded cause comes out of the real handler, alert and API."""

import json

import pytest

from chalicelib.cli import main
from chalicelib.demo.run import run_flow
from chalicelib.demo.scenarios import SCENARIOS


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
    for scenario in SCENARIOS:
        assert f"* {scenario.name}: {scenario.title}" in out
        assert f"cause {scenario.cause_code}" in out
    assert max(len(line) for line in out.splitlines()) <= 100
