"""A runbook PutBucketPolicy under BlockPublicPolicy: whether S3 refused it turns on the policy
the request tried to set, which only the call's CloudTrail record carries. The finding says so;
"let the diagnoser read Block Public Access" (read already) would send the reader nowhere."""

from __future__ import annotations

from chalicelib import pipeline
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook

from .diagnose_builders import ACCT as ACCOUNT
from .diagnose_builders import account_snapshot

BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def test_the_policy_a_put_bucket_policy_set_is_what_to_give() -> None:
    snapshot = account_snapshot(
        buckets={"example-bucket": {"public_access_block": BLOCK}},
        account_public_access_block=BLOCK,
    )
    request = request_from_runbook(
        {
            "requester_arn": f"arn:aws:iam::{ACCOUNT}:root",
            "action": "s3:PutBucketPolicy",
            "resource_arn": "arn:aws:s3:::example-bucket",
        }
    )

    finding = pipeline.diagnose(request, snapshot)

    assert finding.decision is Verdict.INCONCLUSIVE
    [unchecked] = finding.unchecked
    assert "CloudTrail event" in (unchecked.needs or "")
    [fix] = finding.remedies
    assert fix.summary.startswith("Diagnose the call's CloudTrail event")
