"""A Requester Pays bucket refuses a requester of another account that does not say it pays
(x-amz-request-payer), which S3's log never shows: when nothing else denies, that leads the
possible explanations of a denial that was not reproduced, before "a policy changed"."""

from __future__ import annotations

from typing import Any

from chalicelib import pipeline
from chalicelib.demo.cloudtrail import iam_user_identity
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.runbook_documents import get_record, read_statement

OWNER = "111122223333"
PARTNER = "444455556666"
BUCKET = "shared-datasets"
FULL_ACCESS = {
    "target_id": "r-ab12",
    "scps": [
        {
            "Id": "p-FullAWSAccess",
            "Name": "FullAWSAccess",
            "Content": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            },
        }
    ],
}


def _iam(*users: dict[str, Any]) -> dict[str, Any]:
    return {"UserDetailList": list(users), "RoleDetailList": [], "GroupDetailList": []}


def test_requester_pays_leads_the_explanations_of_an_outsiders_denial() -> None:
    bob = {
        "UserName": "bob",
        "UserId": "AIDABOB0000000000000",
        "Path": "/",
        "Arn": f"arn:aws:iam::{PARTNER}:user/bob",
        "UserPolicyList": [
            {
                "PolicyName": "read",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [read_statement("Allow", BUCKET)],
                },
            }
        ],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }
    grant = read_statement("Allow", BUCKET, Principal={"AWS": f"arn:aws:iam::{PARTNER}:root"})
    snapshot = load_snapshot(
        {
            "account_id": OWNER,
            "partition": "aws",
            "region": "us-east-1",
            "iam": _iam(),
            "s3": {
                "buckets": {
                    BUCKET: {
                        "policy": {"Version": "2012-10-17", "Statement": [grant]},
                        "request_payment": "Requester",
                    }
                }
            },
            "accounts": {PARTNER: {"iam": _iam(bob), "organization": {"levels": [FULL_ACCESS]}}},
        }
    )
    identity = iam_user_identity(
        account_id=PARTNER, user_name="bob", user_id="AIDABOB0000000000000"
    )
    record = get_record(identity, OWNER, BUCKET, "2025/part-0001.parquet")

    finding = pipeline.diagnose(parse_event(record), snapshot)

    assert finding.decision is Verdict.ALLOWED
    [cause] = [c for c in finding.causes if c.code == "NOT_REPRODUCED"]
    explanations = cause.message.partition("Possible explanations: ")[2]
    assert explanations.startswith(
        f"{BUCKET} is a Requester Pays bucket: a requester outside the owner's account gets 403 "
        "unless it sends x-amz-request-payer: requester"
    )
