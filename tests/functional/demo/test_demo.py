"""`s3doctor demo` (issue 14.6): an organization on moto, its denials diagnosed by account."""

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from chalicelib.demo.member_template import member_role
from chalicelib.demo.organization import MEMBERS, PARTNER_ACCOUNT
from chalicelib.demo.run import (
    ALARMS,
    DASHBOARD,
    MEMBER_TEMPLATE,
    as_chat_user_sees,
    render,
    run_flow,
)
from chalicelib.demo.scenarios import SCENARIOS
from chalicelib.model import Layer, Outcome
from chalicelib.publish.securityhub import asff_id

CROSS_ACCOUNT = [s for s in SCENARIOS if s.requester is not None]
PARTNER_SCENARIO = "partner-bucket-perimeter"
S3DOCTOR = Path(sys.executable).with_name("s3doctor")
ACCOUNT_HEADER = re.compile(r"^(\w+) (\d{12}): (\d+) finding\(s\)$", re.MULTILINE)


@pytest.fixture(scope="module")
def report():
    return run_flow()


def test_demo_seeds_classic_causes_in_both_members_and_one_cross_account_denial():
    assert len({s.cause_code for s in SCENARIOS}) >= 8
    assert {s.account for s in SCENARIOS} == set(MEMBERS)
    assert "scp" in {s.layer.value for s in SCENARIOS}
    assert [(s.account, s.requester) for s in CROSS_ACCOUNT] == [("shop", "analytics")]


def test_the_organization_has_four_accounts(report):
    org = report.organization
    assert len(set(org.account_ids)) == 4
    assert set(org.accounts) == {"security", *MEMBERS}
    assert org.central_role_arn.startswith(f"arn:aws:iam::{org.accounts['security']}:role/")


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_each_denial_has_one_finding_listed_under_its_account(report, scenario):
    assert report.api_status == 200
    [finding] = report.findings_for(scenario)
    assert scenario.cause_code in [c.code for c in finding.causes]
    assert scenario.layer in finding.blocked_by
    account = report.organization.accounts[scenario.account]
    bucket_account = PARTNER_ACCOUNT if scenario.name == PARTNER_SCENARIO else account
    assert finding.request.bucket_account == bucket_account
    listed = {a: [f.finding_id for f in found] for a, found in report.by_account.items()}
    assert listed[account].count(finding.finding_id) == 1
    assert all(finding.finding_id not in ids for a, ids in listed.items() if a != account)


def test_the_cross_account_denial_is_sent_twice_and_found_once(report):
    [scenario] = CROSS_ACCOUNT
    org = report.organization
    owner, requester = (org.accounts[scenario.account], org.accounts[scenario.requester])
    copies = [event["detail"] for event in report.events[scenario.name]]
    assert sorted(c["recipientAccountId"] for c in copies) == sorted([owner, requester])
    assert len({c["eventID"] for c in copies}) == 2
    assert len({c["sharedEventID"] for c in copies}) == 1
    [finding] = report.findings_for(scenario)
    assert finding.request.principal.account_id == requester
    assert finding.occurrences == 1
    # judged on both sides: the requester's identity policy (read in analytics) allows
    [evaluation] = finding.evaluations
    assert evaluation.layer(Layer.IDENTITY_POLICY).outcome is Outcome.ALLOW
    assert evaluation.blocked_by == (Layer.BUCKET_POLICY,)
    alerts = [d for d in report.deliveries if d.finding["finding_id"] == finding.finding_id]
    assert len(alerts) == 1 and alerts[0].attributes["account"] == owner


def test_a_partners_bucket_is_judged_on_the_members_side_under_its_perimeter(report):
    """The partner's bucket is outside the organization: no member role of ours reads it, the
    requester's side (read in analytics) decides, and its data-perimeter SCP denies."""
    [scenario] = [s for s in SCENARIOS if s.name == PARTNER_SCENARIO]
    [finding] = report.findings_for(scenario)
    [evaluation] = finding.evaluations
    assert evaluation.layer(Layer.IDENTITY_POLICY).outcome is Outcome.ALLOW
    assert evaluation.blocked_by == (Layer.SCP,)
    [scp] = [c for c in finding.causes if c.code == "EXPLICIT_DENY_SCP"]
    assert scp.confidence == "definite" and scp.statement.sid == "OnlyOurBuckets"
    assert "judged on the requester's side only" in (finding.request.scope_reason or "")


def test_one_alert_per_denial_carries_its_account(report):
    assert len(report.deliveries) == len(SCENARIOS)
    for delivery in report.deliveries:
        assert delivery.attributes["account"] == delivery.finding["account"]
        assert delivery.attributes["bucket"] == delivery.finding["request"]["bucket"]
    members = {report.organization.accounts[name] for name in MEMBERS}
    assert {d.attributes["account"] for d in report.deliveries} == members


def test_chat_and_security_hub_get_each_alert_with_the_member_account(report):
    assert len(report.chat) == len(report.deliveries)
    for document in report.chat:
        assert (document["version"], document["source"]) == ("1.0", "custom")
    by_id = {asff_id(d.finding["finding_id"]): d.finding["account"] for d in report.deliveries}
    hub = report.security_hub
    assert {f["Id"]: f["ProductFields"]["s3doctor/Account"] for f in hub} == by_id
    # Security Hub accepts a default-product finding only from the account it names
    assert {f["AwsAccountId"] for f in hub} == {report.organization.accounts["security"]}


def test_member_roles_are_the_templates_trusting_the_central_role_only():
    template = json.loads(MEMBER_TEMPLATE.read_text())
    params = {
        "AWS::Partition": "aws",
        "AWS::AccountId": "210987654321",
        "CentralAccountId": "123456789012",
        "CentralRegion": "eu-west-1",
    }
    role = member_role(MEMBER_TEMPLATE, params)
    [statement] = role.trust_policy["Statement"]
    assert statement["Principal"] == {
        "AWS": "arn:aws:iam::123456789012:role/s3-403-doctor-prod-eu-west-1-events"
    }
    assert role.name == template["Parameters"]["MemberRoleName"]["Default"]
    [document] = role.inline_policies.values()
    sids = [s["Sid"] for s in document["Statement"]]
    assert sids == ["ReadPolicyLayers", "ReadObjectHeadsAndAcls"]
    without_objects = member_role(MEMBER_TEMPLATE, {**params, "ReadObjects": "false"})
    [document] = without_objects.inline_policies.values()
    assert [s["Sid"] for s in document["Statement"]] == ["ReadPolicyLayers"]


def test_a_denial_without_its_one_finding_is_said(report):
    [scenario] = CROSS_ACCOUNT
    [finding] = report.findings_for(scenario)

    def without(findings):
        return tuple(f for f in findings if f.finding_id != finding.finding_id)

    partial = replace(
        report,
        api_findings=without(report.api_findings),
        by_account={a: without(found) for a, found in report.by_account.items()},
    )
    assert f"0 findings (expected 1) for: {scenario.title}" in render(partial)
    assert "expected 1" not in render(report)


def test_chat_markup_is_shown_as_a_chat_user_sees_it():
    assert as_chat_user_sees("*Why* `a&lt;b` _x_ x*y*z") == "Why a<b x x*y*z"


def test_demo_events_carry_the_real_eventbridge_envelope(report):
    for events in report.events.values():
        for event in events:
            assert {"version", "id", "detail-type", "source", "account", "time"} <= set(event)
            assert event["source"] == "aws.s3"
            assert event["detail"]["errorCode"] == "AccessDenied"
            assert event["account"] == event["detail"]["recipientAccountId"]


def test_s3doctor_demo_prints_the_findings_by_account_within_a_minute():
    started = time.monotonic()
    shell = {**os.environ, "MOTO_ACCOUNT_ID": "999999999999"}  # would merge every account
    done = subprocess.run(
        [str(S3DOCTOR), "demo"], capture_output=True, text=True, timeout=60, check=False, env=shell
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert time.monotonic() - started < 60
    out = done.stdout
    headers = ACCOUNT_HEADER.findall(out)
    assert [(name, int(count)) for name, _, count in headers] == [
        (name, sum(s.account == name for s in SCENARIOS)) for name in MEMBERS
    ]
    texts = ACCOUNT_HEADER.split(out)[4::4]
    sections = dict(zip([name for name, _, _ in headers], texts, strict=True))
    for scenario in SCENARIOS:
        assert sections[scenario.account].count(f"* {scenario.title}") == 1
        assert f"{scenario.cause_code}" in sections[scenario.account]
    assert out.count(f"* {CROSS_ACCOUNT[0].title}") == 1
    sides = "requester's side (analytics): identity-policy allow, scp allow; bucket's side (shop):"
    assert sides in sections["shop"]
    assert all(name in out for name in ALARMS) and DASHBOARD in out
    assert max(len(line) for line in out.splitlines()) <= 100
