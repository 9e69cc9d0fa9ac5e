"""A VPC endpoint the request names but the account does not have: the fix says to check the
name, not to grant the diagnoser a read that would find nothing more."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.model import Verdict
from chalicelib.pipeline import diagnose
from chalicelib.request import request_from_runbook

SCENARIO = (
    Path(__file__).resolve().parents[2] / "data" / "scenarios" / "vpc-endpoint-policy-no-allow"
)


def _finding(marker: str):
    snapshot = json.loads((SCENARIO / "snapshot.json").read_text())
    request = json.loads((SCENARIO / "request.json").read_text())
    snapshot["vpc_endpoints"] = {request["vpc_endpoint_id"]: {"$unreadable": marker}}
    return diagnose(request_from_runbook(request), snapshot, finding_id="f", now="t")


def test_a_missing_endpoint_asks_to_check_its_name() -> None:
    finding = _finding("InvalidVpcEndpointId.NotFound")

    assert finding.decision is Verdict.INCONCLUSIVE
    [remedy] = finding.remedies
    assert remedy.summary.startswith("Check vpce-0123456789abcdef0: the account has no such")
    assert "diagnoser" not in remedy.summary


def test_an_unreadable_endpoint_still_asks_for_the_read() -> None:
    finding = _finding("AccessDenied")

    [remedy] = finding.remedies
    assert "Let the diagnoser read vpc-endpoint-policy" in remedy.summary
