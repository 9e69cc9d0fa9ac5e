"""The live collector against a seeded moto account: what it reads is what was seeded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.collect.clients import Boto3Clients
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope, ObjectRef
from chalicelib.model import AccessRequest, Operation, Principal, PrincipalType
from chalicelib.snapshot import load_snapshot
from tests.functional.collect.conftest import (
    ACCOUNT,
    ACCOUNT_BPA,
    ALLOW_LIST,
    ALLOW_READ,
    BOUNDARY,
    BPA,
    BUCKET_POLICY,
    DENY_DELETE,
    ENDPOINT_POLICY,
    REGION,
    CallCounter,
    Seeded,
    client,
    configure_for_moto,
    gateway_endpoint,
    moto_clients,
    session,
)

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
APP_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/app-role/job-42"


def _source(url: str, counter: CallCounter | None = None, **kwargs: Any) -> Boto3SnapshotSource:
    return Boto3SnapshotSource(moto_clients(url, counter=counter), **kwargs)


def _by(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def _get_object_request(
    principal_arn: str, key: str = "2026/q3.csv", **extra: Any
) -> AccessRequest:
    return AccessRequest(
        principal=Principal(
            type=PrincipalType.IAM_USER,
            requester_arn=principal_arn,
            principal_arn=principal_arn,
            account_id=ACCOUNT,
        ),
        operations=(
            Operation(
                action="s3:GetObject",
                resource_arn=f"arn:aws:s3:::reports-bucket/{key}",
                bucket="reports-bucket",
                key=key,
            ),
        ),
        **extra,
    )


def test_collect_user_reads_inline_attached_and_group_policies_as_seeded(
    moto_url: str, seeded: Seeded
) -> None:
    # WHEN
    doc = _source(moto_url).collect(CollectionScope(principal_arns=(ALICE,)))

    # THEN
    (alice,) = doc["iam"]["UserDetailList"]
    assert alice["Arn"] == ALICE
    assert alice["UserPolicyList"] == [{"PolicyName": "AliceRead", "PolicyDocument": ALLOW_READ}]
    assert [p["PolicyArn"] for p in alice["AttachedManagedPolicies"]] == [seeded.read_policy_arn]
    assert alice["GroupList"] == ["analysts"]
    assert alice["Tags"] == [{"Key": "team", "Value": "finance"}]
    (group,) = doc["iam"]["GroupDetailList"]
    assert group["GroupPolicyList"] == [{"PolicyName": "NoDeletes", "PolicyDocument": DENY_DELETE}]
    assert [p["PolicyArn"] for p in group["AttachedManagedPolicies"]] == [seeded.list_policy_arn]
    policies = _by(doc["iam"]["Policies"], "Arn")
    assert set(policies) == {seeded.read_policy_arn, seeded.list_policy_arn}
    (version,) = policies[seeded.list_policy_arn]["PolicyVersionList"]
    assert version["IsDefaultVersion"] is True
    assert version["Document"] == ALLOW_LIST
    assert doc["iam"]["RoleDetailList"] == []


def test_collect_role_session_reads_the_role_with_its_path_and_boundary(
    moto_url: str, seeded: Seeded
) -> None:
    doc = _source(moto_url).collect(CollectionScope(principal_arns=(APP_SESSION,)))

    (role,) = doc["iam"]["RoleDetailList"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service/app-role"
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == seeded.boundary_arn
    assert role["RolePolicyList"] == [{"PolicyName": "AppRead", "PolicyDocument": ALLOW_READ}]
    policies = _by(doc["iam"]["Policies"], "Arn")
    assert policies[seeded.boundary_arn]["PolicyVersionList"][0]["Document"] == BOUNDARY
    assert seeded.list_policy_arn in policies
    assert doc["iam"]["UserDetailList"] == []


def test_collect_bucket_reads_every_configuration_part_as_seeded(
    moto_url: str, seeded: Seeded
) -> None:
    doc = _source(moto_url).collect(CollectionScope(buckets=("reports-bucket",)))

    bucket = doc["s3"]["buckets"]["reports-bucket"]
    assert json.loads(bucket["policy"]) == BUCKET_POLICY
    assert bucket["ownership_controls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
    assert bucket["public_access_block"] == BPA
    rule = bucket["encryption"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": seeded.default_key_arn}
    assert bucket["versioning"]["Status"] == "Enabled"
    assert bucket["owner"]["ID"] == bucket["acl"]["Owner"]["ID"]
    assert bucket["acl"]["Grants"][0]["Permission"] == "FULL_CONTROL"
    assert bucket["region"] == "us-east-1"
    assert doc["s3"]["account_public_access_block"] == ACCOUNT_BPA
    # the bucket's default key is read too: a new object would be encrypted with it
    assert set(doc["kms"]["keys"]) == {seeded.default_key_arn}


def test_collect_sse_kms_object_reads_head_acl_and_its_key_with_grants(
    moto_url: str, seeded: Seeded
) -> None:
    doc = _source(moto_url).collect(
        CollectionScope(objects=(ObjectRef(bucket="reports-bucket", key="2026/q3.csv"),))
    )

    obj = doc["s3"]["buckets"]["reports-bucket"]["objects"]["2026/q3.csv"]
    assert obj["head"]["SSEKMSKeyId"] == seeded.object_key_arn
    assert obj["head"]["VersionId"]
    assert obj["acl"]["Grants"][0]["Permission"] == "FULL_CONTROL"
    key = doc["kms"]["keys"][seeded.object_key_arn]
    assert key["metadata"]["Arn"] == seeded.object_key_arn
    assert json.loads(key["policy"])["Statement"][0]["Sid"] == "Root"
    assert [g["GrantId"] for g in key["grants"]] == [seeded.grant_id]
    assert key["grants"][0]["Operations"] == ["Decrypt"]


def test_collect_what_does_not_exist_is_left_out_or_unknown_when_named(
    moto_url: str, seeded: Seeded
) -> None:
    doc = _source(moto_url).collect(
        CollectionScope(
            principal_arns=(f"arn:aws:iam::{ACCOUNT}:user/deleted-user",),
            buckets=("no-such-bucket-here",),
            objects=(ObjectRef(bucket="plain-bucket", key="missing.txt"),),
            vpc_endpoint_ids=("vpce-0000000000000000",),
            kms_key_ids=(
                f"arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
            ),
        )
    )

    assert doc["iam"]["UserDetailList"] == []
    assert set(doc["s3"]["buckets"]) == {"plain-bucket"}
    plain = doc["s3"]["buckets"]["plain-bucket"]
    assert plain["objects"] == {}
    assert "policy" not in plain
    assert "public_access_block" not in plain
    assert "ownership_controls" not in plain
    assert "encryption" not in plain
    # a named VPC endpoint or KMS key that does not exist is unknown, never "absent" (which the
    # snapshot reads as the default full-access endpoint policy)
    missing_key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    assert doc["kms"]["keys"] == {
        missing_key: {"$unreadable": "NotFoundException", "needs": "kms:DescribeKey"}
    }
    assert doc["vpc_endpoints"] == {
        "vpce-0000000000000000": {
            "$unreadable": "InvalidVpcEndpointId.NotFound",
            "needs": "ec2:DescribeVpcEndpoints",
        }
    }
    del doc["kms"], doc["vpc_endpoints"]
    assert "$unreadable" not in json.dumps(doc)


def test_collect_vpc_endpoint_keeps_its_policy(moto_url: str, seeded: Seeded) -> None:
    doc = _source(moto_url).collect(CollectionScope(vpc_endpoint_ids=(seeded.vpc_endpoint_id,)))

    endpoint = doc["vpc_endpoints"][seeded.vpc_endpoint_id]
    assert json.loads(endpoint["PolicyDocument"]) == ENDPOINT_POLICY
    assert endpoint["VpcEndpointType"] == "Gateway"


def test_snapshot_for_request_is_a_valid_snapshot_with_what_the_request_needs(
    moto_url: str, seeded: Seeded
) -> None:
    # GIVEN a GetObject by alice through a VPC endpoint
    request = _get_object_request(ALICE, vpc_endpoint_id=seeded.vpc_endpoint_id)

    # WHEN
    doc = _source(moto_url).snapshot_for(request)

    # THEN the lead's loader accepts it, and every layer the request touches is there
    snapshot = load_snapshot(doc)
    assert snapshot.account_id == ACCOUNT
    assert set(snapshot.buckets) == {"reports-bucket"}
    assert [u["UserName"] for u in doc["iam"]["UserDetailList"]] == ["alice"]
    assert set(doc["kms"]["keys"]) == {seeded.object_key_arn, seeded.default_key_arn}
    assert set(doc["vpc_endpoints"]) == {seeded.vpc_endpoint_id}
    assert doc["collected_at"]


def test_cold_collection_takes_at_most_four_sequential_round_trips(
    moto_url: str, seeded: Seeded
) -> None:
    # GIVEN a user in a group (user -> groups -> attached policies -> policy -> default version)
    source = _source(moto_url)

    source.snapshot_for(_get_object_request(ALICE, vpc_endpoint_id=seeded.vpc_endpoint_id))

    assert source.last_round_trips <= 4


def test_snapshot_for_request_with_kms_key_reads_that_key_only(
    moto_url: str, seeded: Seeded
) -> None:
    request = _get_object_request(ALICE, kms_key_arn=seeded.default_key_arn)

    doc = _source(moto_url).snapshot_for(request)

    assert set(doc["kms"]["keys"]) == {seeded.default_key_arn}


def test_repeated_request_within_ttl_makes_at_most_two_calls(
    moto_url: str, seeded: Seeded, call_counter: CallCounter
) -> None:
    # GIVEN a warm container that diagnosed one denial
    source = _source(moto_url, call_counter)
    request = _get_object_request(ALICE)
    first = source.snapshot_for(request)
    cold_calls = call_counter.total

    # WHEN the same principal is denied on the same bucket again within the TTL
    call_counter.calls.clear()
    second = source.snapshot_for(request)

    # THEN
    assert cold_calls > 20
    assert call_counter.total <= 2
    assert {k: v for k, v in second.items() if k != "collected_at"} == {
        k: v for k, v in first.items() if k != "collected_at"
    }


def test_each_document_is_read_once_per_collection(
    moto_url: str, seeded: Seeded, call_counter: CallCounter
) -> None:
    # GIVEN two principals that share a managed policy, and two keys in one bucket
    scope = CollectionScope(
        principal_arns=(ALICE, APP_SESSION),
        objects=(
            ObjectRef(bucket="reports-bucket", key="2026/q3.csv"),
            ObjectRef(bucket="reports-bucket", key="missing.csv"),
        ),
    )

    _source(moto_url, call_counter).collect(scope)

    # four attachments (alice, her group, the role, its boundary) of three managed policies
    assert call_counter.calls["iam:GetPolicy"] == 3
    assert call_counter.calls["iam:GetPolicyVersion"] == 3
    assert call_counter.calls["s3:GetBucketPolicy"] == 1


def test_after_the_ttl_documents_are_read_again(
    moto_url: str, seeded: Seeded, call_counter: CallCounter
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    source = _source(moto_url, call_counter, ttl_seconds=60, clock=lambda: now[0])
    scope = CollectionScope(buckets=("plain-bucket",))
    source.collect(scope)

    call_counter.calls.clear()
    now[0] += timedelta(seconds=61)
    source.collect(scope)

    assert call_counter.calls["s3:GetBucketPolicy"] == 1


@pytest.mark.parametrize("workers", [1, 8])
def test_serial_and_concurrent_collection_give_the_same_document(
    moto_url: str, seeded: Seeded, workers: int
) -> None:
    scope = CollectionScope(
        principal_arns=(ALICE, APP_SESSION),
        objects=(ObjectRef(bucket="reports-bucket", key="2026/q3.csv"),),
    )
    fixed = datetime(2026, 1, 1, tzinfo=UTC)

    doc = _source(moto_url, max_workers=workers, clock=lambda: fixed).collect(scope)
    reference = _source(moto_url, max_workers=4, clock=lambda: fixed).collect(scope)

    assert doc == reference


def test_collect_access_point_reads_its_network_origin_and_policy(
    moto_url: str, seeded: Seeded
) -> None:
    # GIVEN a VPC-only access point with a policy
    s3control = client(moto_url, "s3control")
    arn = s3control.create_access_point(
        AccountId=ACCOUNT,
        Name="reports-vpc",
        Bucket="reports-bucket",
        VpcConfiguration={"VpcId": "vpc-0abc"},
    )["AccessPointArn"]
    point_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ALICE},
                "Action": "s3:GetObject",
                "Resource": f"{arn}/object/*",
            }
        ],
    }
    s3control.put_access_point_policy(
        AccountId=ACCOUNT, Name="reports-vpc", Policy=json.dumps(point_policy)
    )

    # WHEN
    doc = _source(moto_url).collect(CollectionScope(access_point_arns=(arn,)))

    # THEN
    point = doc["s3"]["access_points"][arn]
    assert point["Bucket"] == "reports-bucket"
    assert point["NetworkOrigin"] == "VPC"
    assert point["VpcConfiguration"] == {"VpcId": "vpc-0abc"}
    assert json.loads(point["policy"]) == point_policy
    assert load_snapshot(doc).access_points[arn] is not None


def _regional(url: str, service: str, region: str) -> Any:
    made = session().client(service, region_name=region, endpoint_url=url)
    configure_for_moto(service, made)
    return made


def test_a_vpc_endpoint_is_read_in_the_requests_region(moto_url: str, seeded: Seeded) -> None:
    """An endpoint is regional: a request made in eu-west-1 (events forwarded to one bus) went
    through an endpoint of that region, which the collector's own region does not know."""
    vpc, endpoint = gateway_endpoint(
        _regional(moto_url, "ec2", "eu-west-1"), "eu-west-1", "10.9.0.0/16"
    )
    request = _get_object_request(ALICE, vpc_endpoint_id=endpoint, region="eu-west-1")

    doc = _source(moto_url).snapshot_for(request)

    found = doc["vpc_endpoints"][endpoint]
    assert (found["VpcId"], json.loads(found["PolicyDocument"])) == (vpc, ENDPOINT_POLICY)


def test_an_access_point_is_read_through_its_regions_s3_control(
    moto_url: str, seeded: Seeded
) -> None:
    """S3 Control is regional: an access point of eu-west-1 is read through that region's
    endpoint. (moto keeps access points in one store whatever the region, so the region of the
    client each call went through is what is observed.)"""
    created = client(moto_url, "s3control").create_access_point(
        AccountId=ACCOUNT, Name="reports-eu", Bucket="reports-bucket"
    )["AccessPointArn"]
    arn = created.replace(":us-east-1:", ":eu-west-1:")
    regions: list[tuple[str, str]] = []

    def on_client(service: str, made: Any) -> None:
        configure_for_moto(service, made)

        def seen(model: Any, **_: Any) -> None:
            regions.append((model.name, made.meta.region_name))

        made.meta.events.register("before-call.s3-control.*", seen)

    clients = Boto3Clients(
        session(), region_name=REGION, endpoint_url=moto_url, on_client=on_client
    )
    doc = Boto3SnapshotSource(clients).collect(
        CollectionScope(access_point_arns=(arn,), account_settings=False)
    )

    assert doc["s3"]["access_points"][arn]["Name"] == "reports-eu"
    assert {name for name, _ in regions} >= {"GetAccessPoint", "GetAccessPointPolicy"}
    assert {region for _, region in regions} == {"eu-west-1"}
