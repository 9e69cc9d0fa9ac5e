"""A collector that is refused some reads writes `$unreadable` markers, never "absent"."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.collect.base import ReadCache, ReadPlan
from chalicelib.collect.iam import IamCollector
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.s3 import BucketCollector
from chalicelib.collect.source import CollectionScope, ObjectRef
from chalicelib.model import Finding, Layer, Verdict
from chalicelib.pipeline import diagnose
from chalicelib.request import request_from_runbook
from tests.functional.collect.conftest import (
    ACCOUNT,
    REGION,
    Seeded,
    enable_iam_authentication,
    moto_clients,
    seed_account,
    user_session,
)

REFUSED = (
    "s3:GetBucketPolicy",
    "s3:GetObjectAcl",
    "iam:GetUserPolicy",
    "iam:ListGroupsForUser",
    "iam:GetPolicyVersion",
    "kms:GetKeyPolicy",
    "ec2:DescribeVpcEndpoints",
)


def _marker(needs: str) -> dict[str, str]:
    return {"$unreadable": "AccessDenied", "needs": needs}


@pytest.fixture(scope="module")
def refused(moto_url: str) -> tuple[Seeded, dict[str, Any]]:
    """The seeded account, collected by a user denied the REFUSED actions (moto IAM auth on)."""
    seeded = seed_account(moto_url)
    most = user_session(
        moto_url,
        "collector",
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": list(REFUSED), "Resource": "*"},
    )
    enable_iam_authentication(moto_url)
    source = Boto3SnapshotSource(moto_clients(moto_url, boto_session=most))
    doc = source.collect(
        CollectionScope(
            principal_arns=(f"arn:aws:iam::{ACCOUNT}:user/alice",),
            objects=(ObjectRef(bucket="reports-bucket", key="2026/q3.csv"),),
            vpc_endpoint_ids=(seeded.vpc_endpoint_id,),
        )
    )
    return seeded, doc


def test_refused_identity_reads_are_marked_with_the_action_that_was_refused(
    refused: tuple[Seeded, dict[str, Any]],
) -> None:
    seeded, doc = refused

    (alice,) = doc["iam"]["UserDetailList"]
    assert alice["UserPolicyList"] == [
        {"PolicyName": "AliceRead", "PolicyDocument": _marker("iam:GetUserPolicy")}
    ]
    assert alice["GroupList"] == _marker("iam:ListGroupsForUser")
    (managed,) = doc["iam"]["Policies"]
    assert managed["Arn"] == seeded.read_policy_arn
    assert managed["PolicyVersionList"] == _marker("iam:GetPolicyVersion")


def test_refused_resource_reads_are_marked_never_left_out(
    refused: tuple[Seeded, dict[str, Any]],
) -> None:
    seeded, doc = refused

    bucket = doc["s3"]["buckets"]["reports-bucket"]
    assert bucket["policy"] == _marker("s3:GetBucketPolicy")
    assert bucket["objects"]["2026/q3.csv"]["acl"] == _marker("s3:GetObjectAcl")
    assert doc["kms"]["keys"][seeded.object_key_arn]["policy"] == _marker("kms:GetKeyPolicy")
    assert doc["vpc_endpoints"][seeded.vpc_endpoint_id] == _marker("ec2:DescribeVpcEndpoints")
    # what was allowed is still read
    assert bucket["public_access_block"]["BlockPublicAcls"] is True


def _diagnose_alice_get_object(doc: dict[str, Any]) -> Finding:
    request = request_from_runbook(
        {
            "requester_arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
            "action": "s3:GetObject",
            "resource_arn": "arn:aws:s3:::reports-bucket/2026/q3.csv",
        }
    )
    return diagnose(request, doc)


def test_refused_reads_make_the_diagnosis_inconclusive_and_list_them_as_unchecked(
    refused: tuple[Seeded, dict[str, Any]],
) -> None:
    finding = _diagnose_alice_get_object(refused[1])

    assert finding.decision is Verdict.INCONCLUSIVE
    needs = {(u.layer, u.needs) for u in finding.unchecked}
    assert (Layer.BUCKET_POLICY, "s3:GetBucketPolicy") in needs
    assert (Layer.OBJECT_ACL, "s3:GetObjectAcl") in needs
    assert (Layer.KMS_KEY_POLICY, "kms:GetKeyPolicy") in needs
    assert (Layer.IDENTITY_POLICY, "iam:ListGroupsForUser") in needs
    assert {c.code for c in finding.causes if c.layer is Layer.BUCKET_POLICY} == {"INCONCLUSIVE"}


def test_refused_key_policy_is_never_a_definite_cause(
    refused: tuple[Seeded, dict[str, Any]],
) -> None:
    finding = _diagnose_alice_get_object(refused[1])

    definite = [c for c in finding.causes if c.confidence == "definite"]
    assert definite == []


def test_refused_user_boundary_policy_is_unreadable_not_absent() -> None:
    # GIVEN an IAM API (stubbed: moto has no user boundaries) that refuses the boundary policy
    iam = boto3.client("iam", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/DevBoundary"
    user = {
        "Path": "/",
        "UserName": "bob",
        "UserId": "AIDAEXAMPLEBOB000001",
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
        "CreateDate": datetime(2026, 1, 1, tzinfo=UTC),
        "PermissionsBoundary": {
            "PermissionsBoundaryType": "Policy",
            "PermissionsBoundaryArn": boundary,
        },
    }
    with Stubber(iam) as stub:
        stub.add_response("get_user", {"User": user}, {"UserName": "bob"})
        stub.add_response("list_user_policies", {"PolicyNames": []}, {"UserName": "bob"})
        stub.add_response(
            "list_attached_user_policies", {"AttachedPolicies": []}, {"UserName": "bob"}
        )
        stub.add_response("list_groups_for_user", {"Groups": []}, {"UserName": "bob"})
        stub.add_client_error(
            "get_policy",
            service_error_code="AccessDenied",
            http_status_code=403,
            expected_params={"PolicyArn": boundary},
        )
        # WHEN
        plan = _serial_plan()
        collector = IamCollector(iam, plan)
        collector.add_principal(f"arn:aws:iam::{ACCOUNT}:user/bob")
        plan.run()
        stub.assert_no_pending_responses()

    # THEN the user points at its boundary, and the boundary policy is marked unreadable
    doc = collector.document()
    (bob,) = doc["UserDetailList"]
    assert bob["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    (policy_entry,) = doc["Policies"]
    assert policy_entry["Arn"] == boundary
    assert policy_entry["PolicyVersionList"] == _marker("iam:GetPolicy")


def _serial_plan() -> ReadPlan:
    """One worker: a Stubber answers in the order the reads are scheduled."""
    return ReadPlan(
        ThreadPoolExecutor(max_workers=1),
        ReadCache(ttl_seconds=0, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC)),
    )


BUCKET_READS = (
    ("get_bucket_acl", "s3:GetBucketAcl"),
    ("get_bucket_location", "s3:GetBucketLocation"),
    ("get_bucket_policy", "s3:GetBucketPolicy"),
    ("get_bucket_policy_status", "s3:GetBucketPolicyStatus"),
    ("get_bucket_ownership_controls", "s3:GetBucketOwnershipControls"),
    ("get_public_access_block", "s3:GetBucketPublicAccessBlock"),
    ("get_bucket_encryption", "s3:GetEncryptionConfiguration"),
    ("get_bucket_request_payment", "s3:GetBucketRequestPayment"),
    ("get_bucket_versioning", "s3:GetBucketVersioning"),
    ("get_bucket_tagging", "s3:GetBucketTagging"),
    ("get_bucket_abac", "s3:GetBucketAbac"),
)


def test_bucket_refused_everything_is_unreadable_part_by_part_never_absent() -> None:
    s3 = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    plan = _serial_plan()
    collector = BucketCollector(s3, plan)
    with Stubber(s3) as stub:
        for operation, _ in BUCKET_READS:
            stub.add_client_error(operation, "AccessDenied", http_status_code=403)
        collector.add_bucket("locked-bucket")
        plan.run()

    bucket = collector.document()["locked-bucket"]
    assert bucket["policy"] == _marker("s3:GetBucketPolicy")
    assert bucket["acl"] == bucket["owner"] == _marker("s3:GetBucketAcl")
    assert bucket["public_access_block"] == _marker("s3:GetBucketPublicAccessBlock")
    assert bucket["ownership_controls"] == _marker("s3:GetBucketOwnershipControls")
    assert bucket["encryption"] == _marker("s3:GetEncryptionConfiguration")
    assert bucket["request_payment"] == _marker("s3:GetBucketRequestPayment")
    assert bucket["tags"] == _marker("s3:GetBucketTagging")
    assert bucket["abac"] == _marker("s3:GetBucketAbac")
    assert bucket["region"] is None  # unknown, and it decides no layer


def test_bucket_that_does_not_exist_is_left_out() -> None:
    s3 = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    plan = _serial_plan()
    collector = BucketCollector(s3, plan)
    with Stubber(s3) as stub:
        for operation, _ in BUCKET_READS:
            stub.add_client_error(operation, "NoSuchBucket", http_status_code=404)
        collector.add_bucket("gone-bucket")
        plan.run()

    assert collector.document() == {}


def test_requester_pays_bucket_reports_the_payer() -> None:
    s3 = boto3.client("s3", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    plan = _serial_plan()
    collector = BucketCollector(s3, plan)
    answers: dict[str, dict[str, Any]] = {
        "get_bucket_acl": {"Owner": {"ID": "owner-id"}, "Grants": []},
        "get_bucket_location": {"LocationConstraint": "EU"},
        "get_bucket_request_payment": {"Payer": "Requester"},
        "get_bucket_versioning": {},
    }
    with Stubber(s3) as stub:
        for operation, _ in BUCKET_READS:
            if operation in answers:
                stub.add_response(operation, answers[operation])
            else:
                stub.add_client_error(operation, "NoSuchBucketPolicy", http_status_code=404)
        collector.add_bucket("payer-bucket")
        plan.run()

    bucket = collector.document()["payer-bucket"]
    assert bucket["request_payment"] == "Requester"
    assert bucket["region"] == "eu-west-1"
    assert bucket["owner"] == {"ID": "owner-id"}
