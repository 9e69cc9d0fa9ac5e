"""SCPs and RCPs the diagnoser could not read: the fix says they are read through the
organization-read role (ORG_READ_ROLE_ARN), an organization deployment's member accounts
included, and not by granting the event function's own role `organizations:*` reads, which a
member account is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.diagnose.detail import Detail, at_detail
from chalicelib.model import Finding, Verdict
from chalicelib.pipeline import diagnose
from chalicelib.request import request_from_runbook

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
UNREADABLE = {"$unreadable": "AccessDenied"}


def _finding(scenario: str, **parts: Any) -> Finding:
    snapshot = json.loads((SCENARIOS / scenario / "snapshot.json").read_text()) | parts
    request = json.loads((SCENARIOS / scenario / "request.json").read_text())
    return diagnose(request_from_runbook(request), snapshot, finding_id="f", now="t")


@pytest.mark.parametrize(
    "organization",
    [
        UNREADABLE,  # the organization itself (the function's own role was refused)
        {  # one level's policies (the organization-read role lacks ListPoliciesForTarget)
            "management_account_id": "999988887777",
            "levels": [{"target_id": "r-ab12", "scps": UNREADABLE, "rcps": UNREADABLE}],
        },
    ],
    ids=["organization", "level"],
)
def test_the_fix_for_unread_scps_names_the_organization_read_role(organization: Any) -> None:
    finding = _finding("scp-unreadable-inconclusive", organization=organization)

    assert finding.decision is Verdict.INCONCLUSIVE
    [fix] = [r for r in finding.remedies if r.code == "GRANT_DIAGNOSER_READ"]
    assert fix.summary.startswith("Let the diagnoser read rcp, scp (")
    assert "through the role ORG_READ_ROLE_ARN names (the stack's OrgReadRoleArn" in fix.summary
    assert "In an organization deployment this holds for every member account too" in fix.summary
    # An alert (references) says it too: it is what the deployment lacks, no policy text.
    [shown] = [r for r in at_detail(finding, Detail.REFERENCES).remedies if r.code == fix.code]
    assert shown.summary == fix.summary


def test_the_fix_for_another_unread_layer_does_not_mention_it() -> None:
    request = json.loads((SCENARIOS / "vpc-endpoint-policy-no-allow" / "request.json").read_text())
    finding = _finding(
        "vpc-endpoint-policy-no-allow", vpc_endpoints={request["vpc_endpoint_id"]: UNREADABLE}
    )

    [fix] = finding.remedies
    assert fix.summary.startswith("Let the diagnoser read vpc-endpoint-policy")
    assert "ORG_READ_ROLE_ARN" not in fix.summary
