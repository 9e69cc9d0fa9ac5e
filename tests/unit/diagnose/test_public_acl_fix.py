"""BlockPublicAcls refuses a request that sets a public ACL: the fix speaks of the thing the
request sets, an object's ACL on upload or the bucket's own (a canned ACL such as
bucket-owner-full-control is an object's, no answer for a bucket)."""

from __future__ import annotations

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.render import render_markdown, render_text
from chalicelib.request import request_from_runbook

from .diagnose_builders import ACCT as ACCOUNT
from .diagnose_builders import account_snapshot

BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": False,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}


@pytest.mark.parametrize(
    ("action", "resource", "start"),
    [
        ("s3:PutBucketAcl", "arn:aws:s3:::example-bucket", "Set the bucket's ACL without"),
        ("s3:PutObject", "arn:aws:s3:::example-bucket/a.txt", "Upload without a public ACL"),
    ],
)
def test_the_fix_for_a_public_acl_names_what_the_request_sets(
    action: str, resource: str, start: str
) -> None:
    snapshot = account_snapshot(buckets={"example-bucket": {"public_access_block": BLOCK}})
    request = request_from_runbook(
        {
            "requester_arn": f"arn:aws:iam::{ACCOUNT}:root",
            "action": action,
            "resource_arn": resource,
            "context": [
                {
                    "ContextKeyName": "s3:x-amz-acl",
                    "ContextKeyValues": ["public-read"],
                    "ContextKeyType": "string",
                }
            ],
        }
    )

    finding = pipeline.diagnose(request, snapshot)

    assert finding.causes[0].code == "BPA_BLOCK_PUBLIC_ACLS"
    assert finding.remedies[0].summary.startswith(start)
    # No Deny statement refuses it: the fix's title does not speak of one.
    for shown in (render_text(finding), render_markdown(finding)):
        assert start in shown
        assert "Deny" not in shown
