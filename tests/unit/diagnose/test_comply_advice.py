"""How a fix tells the requester to meet an Allow's condition: a pattern is named as one
(`vpce-*`, not the shortest value that matches it, `vpce-`), and a key the action never carries
gets no "send the request with" advice, which nobody could follow."""

from __future__ import annotations

from typing import Any

from chalicelib import pipeline
from chalicelib.request import request_from_runbook
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering

from .diagnose_builders import ACCT as ACCOUNT
from .diagnose_builders import account_snapshot, iam_user


def _finding(condition: dict[str, Any]) -> Any:
    grant = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::example-bucket/*",
        "Condition": condition,
    }
    snapshot = account_snapshot(iam_user("alice", grant), buckets={"example-bucket": {}})
    request = request_from_runbook(
        {
            "requester_arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
            "action": "s3:GetObject",
            "resource_arn": "arn:aws:s3:::example-bucket/data/report.csv",
        }
    )
    return pipeline.diagnose(request, snapshot)


def test_a_pattern_condition_is_met_by_a_value_matching_the_pattern() -> None:
    finding = _finding({"StringLike": {"aws:SourceVpce": "vpce-*"}})

    [comply] = [r for r in finding.remedies if r.target == "the request"]
    assert "matching 'vpce-*'" in comply.summary
    assert "through VPC endpoint vpce-." not in comply.summary


def test_no_advice_to_send_a_key_the_action_never_carries() -> None:
    finding = _finding({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a"]}})

    assert not [r for r in finding.remedies if "aws:TagKeys" in r.summary and r.patch]
    assert not [r for r in finding.remedies if r.target == "the request"]


def test_a_hostile_pattern_is_data_in_the_advice_and_every_rendering() -> None:
    """The pattern comes from a policy an admin wrote: quoted, never a line or markup of ours."""
    pattern = "vpce-*\u202e\n\nFIX\n  1. Run: `$(id)`<b>\x1b]52;c;"
    finding = _finding({"StringLike": {"aws:SourceVpce": pattern}})

    [comply] = [r for r in finding.remedies if r.target == "the request"]
    assert f"matching {pattern!r}" in comply.summary
    assert_inert_in_every_rendering(finding)
