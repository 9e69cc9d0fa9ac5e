"""The demo's denials: classic causes of an S3 403 in two member accounts, seeded into moto.

Each scenario creates what it needs (users, roles, policies, buckets, keys, endpoints) in its
member account through real boto3 calls, then returns the CloudTrail record of the request that
S3 denied. Two need the organization: a Deny in the SCP attached to `shop`, and a principal of
`analytics` reading a bucket of `shop` (cross-account). Objects are written before any bucket
policy with a Deny: moto applies such a Deny to every object call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING

from ..lean_dataclass import dataclass
from ..model import Json, Layer
from .cloudtrail import (
    assumed_role_identity,
    demo_id,
    denied_message,
    iam_user_identity,
    s3_access_denied_record,
)
from .organization import BACKUPS_BUCKET, PARTNER_ACCOUNT

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoAccount:
    """Clients on the demo's moto server, and the member account they act in."""

    account_id: str
    region: str
    event_time: str
    run_id: str
    iam: IAMClient
    s3: S3Client
    kms: KMSClient
    ec2: EC2Client
    bucket_suffix: str = ""  # bucket names are global: later runs in one process add one
    peers: Mapping[str, DemoAccount] = field(default_factory=dict)  # the other members

    def bucket(self, name: str) -> str:
        return f"{name}{self.bucket_suffix}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One cause: where it is seeded, and what the diagnosis must say."""

    name: str
    account: str  # the member account the bucket is in (and the request, unless `requester`)
    title: str
    layer: Layer
    cause_code: str
    seed: Callable[[DemoAccount], Json]
    requester: str | None = None  # another member account whose principal made the request


_TEXT = b"demo object\n"


def _doc(*statements: Json) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions: str | list[str], resources: str | list[str], sid: str) -> Json:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}


def _user(acct: DemoAccount, name: str, *statements: Json) -> Json:
    user = acct.iam.create_user(UserName=name)["User"]
    if statements:
        acct.iam.put_user_policy(
            UserName=name, PolicyName=f"{name}-s3", PolicyDocument=_doc(*statements)
        )
    return iam_user_identity(account_id=acct.account_id, user_name=name, user_id=user["UserId"])


def _bucket(acct: DemoAccount, name: str, *keys: str) -> None:
    acct.s3.create_bucket(Bucket=name)
    for key in keys:
        acct.s3.put_object(Bucket=name, Key=key, Body=_TEXT)


def _record(
    acct: DemoAccount,
    name: str,
    *,
    identity: Json,
    event_name: str,
    bucket: str,
    key: str | None,
    action: str,
    context: str,
    message_resource: str | None = None,
    request_parameters: Json | None = None,
    https: bool = True,
    vpc_endpoint_id: str | None = None,
    source_ip: str = "203.0.113.10",
    bucket_account: str | None = None,
) -> Json:
    """The record of the denied call; `message_resource` is what errorMessage names;
    `bucket_account` the bucket's owner when not `acct` (the requester's copy)."""
    resource = message_resource or f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")
    return s3_access_denied_record(
        event_id=demo_id(acct.run_id, name),
        event_time=acct.event_time,
        region=acct.region,
        identity=identity,
        event_name=event_name,
        bucket=bucket,
        bucket_account=bucket_account or acct.account_id,
        key=key,
        error_message=denied_message(identity["arn"], action, resource, context),
        request_parameters=request_parameters,
        https=https,
        vpc_endpoint_id=vpc_endpoint_id,
        source_ip=source_ip,
    )


def _bucket_policy_denies_http(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket("demo-tls-only"), "reports/2025-q1.csv"
    identity = _user(
        acct, "http-client", _allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*", "ReadReports")
    )
    _bucket(acct, bucket, key)
    deny_http = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    acct.s3.put_bucket_policy(Bucket=bucket, Policy=_doc(deny_http))
    return _record(
        acct,
        "bucket-policy-denies-http",
        identity=identity,
        event_name="GetObject",
        bucket=bucket,
        key=key,
        action="s3:GetObject",
        context="with an explicit deny in a resource-based policy",
        https=False,
    )


def _no_identity_allow(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket("demo-finance-reports"), "2025/03/ledger.csv"
    identity = _user(acct, "new-analyst")
    _bucket(acct, bucket, key)
    return _record(
        acct,
        "no-identity-allow",
        identity=identity,
        event_name="GetObject",
        bucket=bucket,
        key=key,
        action="s3:GetObject",
        context="because no identity-based policy allows the s3:GetObject action",
    )


def _object_action_on_bucket_arn(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket("demo-datalake"), "raw/orders.csv"
    # The classic slip: an object action granted on the bucket ARN, without "/*".
    identity = _user(acct, "etl-reader", _allow("s3:GetObject", f"arn:aws:s3:::{bucket}", "Read"))
    _bucket(acct, bucket, key)
    return _record(
        acct,
        "object-action-on-bucket-arn",
        identity=identity,
        event_name="GetObject",
        bucket=bucket,
        key=key,
        action="s3:GetObject",
        context="because no identity-based policy allows the s3:GetObject action",
    )


def _kms_key_policy_not_delegating(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket("demo-payroll"), "2025/03/payslips.pdf"
    identity = _user(
        acct,
        "payroll-app",
        _allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*", "ReadPayslips"),
        _allow(["kms:Decrypt", "kms:GenerateDataKey"], "*", "UseKeys"),
    )
    admin = acct.iam.create_role(
        RoleName="payroll-key-admin",
        AssumeRolePolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{acct.account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]
    # The key policy names one admin role and does not delegate to IAM (no account root
    # statement), so the user's identity policy cannot grant kms:Decrypt.
    key_policy = _doc(
        {
            "Sid": "KeyAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": admin["Arn"]},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    key_arn = acct.kms.create_key(Policy=key_policy, Description="payroll data")["KeyMetadata"][
        "Arn"
    ]
    acct.s3.create_bucket(Bucket=bucket)
    acct.s3.put_object(
        Bucket=bucket, Key=key, Body=_TEXT, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn
    )
    return _record(
        acct,
        "kms-key-policy-not-delegating",
        identity=identity,
        event_name="GetObject",
        bucket=bucket,
        key=key,
        action="kms:Decrypt",
        message_resource=key_arn,
        context="because no resource-based policy allows the kms:Decrypt action",
    )


def _vpc_endpoint_policy_deny(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket("demo-build-artifacts"), "releases/app-1.4.2.zip"
    identity = _user(
        acct, "build-agent", _allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*", "ReadArtifacts")
    )
    _bucket(acct, bucket, key)
    vpc_id = acct.ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    # The endpoint only lets traffic reach one approved bucket, not the artifacts bucket.
    endpoint = acct.ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        ServiceName=f"com.amazonaws.{acct.region}.s3",
        VpcEndpointType="Gateway",
        PolicyDocument=_doc(
            {
                "Sid": "OnlyApprovedBuckets",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [
                    "arn:aws:s3:::demo-approved-mirror",
                    "arn:aws:s3:::demo-approved-mirror/*",
                ],
            }
        ),
    )["VpcEndpoint"]
    return _record(
        acct,
        "vpc-endpoint-policy-deny",
        identity=identity,
        event_name="GetObject",
        bucket=bucket,
        key=key,
        action="s3:GetObject",
        context="because no VPC endpoint policy allows the s3:GetObject action",
        vpc_endpoint_id=endpoint["VpcEndpointId"],
        source_ip="10.20.3.41",
    )


def _block_public_acls(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket("demo-website-assets"), "img/logo.png"
    identity = _user(
        acct,
        "web-publisher",
        _allow(["s3:PutObject", "s3:PutObjectAcl"], f"arn:aws:s3:::{bucket}/*", "Publish"),
    )
    _bucket(acct, bucket)
    acct.s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return _record(
        acct,
        "block-public-acls",
        identity=identity,
        event_name="PutObject",
        bucket=bucket,
        key=key,
        action="s3:PutObject",
        context="because public ACLs are prevented by the BlockPublicAcls setting in S3 "
        "Block Public Access.",
        request_parameters={"x-amz-acl": "public-read"},
    )


def _role_permissions_boundary(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket("demo-ingest"), "incoming/batch-0042.json"
    boundary_arn = acct.iam.create_policy(
        PolicyName="ingest-read-only-boundary",
        PolicyDocument=_doc(_allow(["s3:GetObject", "s3:ListBucket"], "*", "ReadOnlyCeiling")),
    )["Policy"]["Arn"]
    role = acct.iam.create_role(
        RoleName="ingest-worker",
        Path="/service-role/",
        AssumeRolePolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
        PermissionsBoundary=boundary_arn,
    )["Role"]
    acct.iam.put_role_policy(
        RoleName="ingest-worker",
        PolicyName="write-incoming",
        PolicyDocument=_doc(_allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*", "WriteIncoming")),
    )
    _bucket(acct, bucket)
    identity = assumed_role_identity(
        account_id=acct.account_id,
        role_name="ingest-worker",
        role_id=role["RoleId"],
        session_name="ingest-function",
        path="/service-role/",
    )
    return _record(
        acct,
        "role-permissions-boundary",
        identity=identity,
        event_name="PutObject",
        bucket=bucket,
        key=key,
        action="s3:PutObject",
        context="because no permissions boundary allows the s3:PutObject action",
    )


def _identity_explicit_deny(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket("demo-audit-logs"), "2025/03/04/trail.json.gz"
    identity = _user(
        acct,
        "ops-engineer",
        _allow(["s3:GetObject", "s3:DeleteObject"], "arn:aws:s3:::*/*", "ManageObjects"),
        {
            "Sid": "ProtectAuditLogs",
            "Effect": "Deny",
            "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
    )
    _bucket(acct, bucket, key)
    return _record(
        acct,
        "identity-explicit-deny",
        identity=identity,
        event_name="DeleteObject",
        bucket=bucket,
        key=key,
        action="s3:DeleteObject",
        context="with an explicit deny in an identity-based policy",
    )


def _scp_denies_backup_deletion(acct: DemoAccount) -> Json:
    bucket, key = acct.bucket(BACKUPS_BUCKET), "db/2025-03-01.dump"
    # The user may delete old dumps; the organization's SCP on this account says otherwise.
    identity = _user(
        acct, "cleanup-job", _allow("s3:DeleteObject", f"arn:aws:s3:::{bucket}/*", "Prune")
    )
    _bucket(acct, bucket, key)
    return _record(
        acct,
        "scp-denies-backup-deletion",
        identity=identity,
        event_name="DeleteObject",
        bucket=bucket,
        key=key,
        action="s3:DeleteObject",
        context="with an explicit deny in a service control policy",
    )


def _cross_account_read(acct: DemoAccount) -> Json:
    requester = acct.peers["analytics"]
    bucket, key = acct.bucket("demo-shop-orders"), "exports/2025-03.csv"
    role_arn = f"arn:aws:iam::{requester.account_id}:role/report-builder"
    role = requester.iam.create_role(
        RoleName="report-builder",
        AssumeRolePolicyDocument=_doc(
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ),
    )["Role"]
    requester.iam.put_role_policy(
        RoleName="report-builder",
        PolicyName="read-shop-orders",
        PolicyDocument=_doc(_allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*", "ReadOrders")),
    )
    _bucket(acct, bucket, key, "shared/summary.csv")
    # The bucket owner shares one prefix with the analytics role; the report reads another.
    share = {
        "Sid": "ShareSummaryWithAnalytics",
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/shared/*",
    }
    acct.s3.put_bucket_policy(Bucket=bucket, Policy=_doc(share))
    identity = assumed_role_identity(
        account_id=requester.account_id,
        role_name="report-builder",
        role_id=role["RoleId"],
        session_name="nightly-report",
    )
    return _record(
        acct,
        "cross-account-read",
        identity=identity,
        event_name="GetObject",
        bucket=bucket,
        key=key,
        action="s3:GetObject",
        context="because no resource-based policy allows the s3:GetObject action",
    )


def _partner_bucket_perimeter(acct: DemoAccount) -> Json:
    bucket, key = "demo-partner-drop", "inbound/2025-03-01.csv"  # the partner's, not seeded
    identity = _user(
        acct, "partner-sync", _allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*", "ReadDrop")
    )
    record = _record(
        acct,
        "partner-bucket-perimeter",
        identity=identity,
        event_name="GetObject",
        bucket=bucket,
        key=key,
        action="s3:GetObject",
        context="with an explicit deny in a service control policy",
        bucket_account=PARTNER_ACCOUNT,
    )
    record["recipientAccountId"] = acct.account_id  # the requester's copy; the partner's is theirs
    return record


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="bucket-policy-denies-http",
        account="shop",
        title="Bucket policy denies requests that do not use HTTPS",
        layer=Layer.BUCKET_POLICY,
        cause_code="EXPLICIT_DENY_BUCKET_POLICY",
        seed=_bucket_policy_denies_http,
    ),
    Scenario(
        name="no-identity-allow",
        account="shop",
        title="A new user with no policy that allows the read",
        layer=Layer.IDENTITY_POLICY,
        cause_code="NO_ALLOW_IDENTITY",
        seed=_no_identity_allow,
    ),
    Scenario(
        name="object-action-on-bucket-arn",
        account="analytics",
        title="s3:GetObject granted on the bucket ARN, without /*",
        layer=Layer.IDENTITY_POLICY,
        cause_code="WRONG_RESOURCE_OR_ACTION_FORM",
        seed=_object_action_on_bucket_arn,
    ),
    Scenario(
        name="kms-key-policy-not-delegating",
        account="shop",
        title="SSE-KMS object whose key policy does not delegate to IAM",
        layer=Layer.KMS_KEY_POLICY,
        cause_code="KMS_KEY_POLICY",
        seed=_kms_key_policy_not_delegating,
    ),
    Scenario(
        name="vpc-endpoint-policy-deny",
        account="analytics",
        title="The VPC endpoint policy only allows other buckets",
        layer=Layer.VPC_ENDPOINT_POLICY,
        cause_code="NO_ALLOW_VPCE_POLICY",
        seed=_vpc_endpoint_policy_deny,
    ),
    Scenario(
        name="block-public-acls",
        account="shop",
        title="Upload with a public-read ACL under Block Public Access",
        layer=Layer.BLOCK_PUBLIC_ACCESS,
        cause_code="BPA_BLOCK_PUBLIC_ACLS",
        seed=_block_public_acls,
    ),
    Scenario(
        name="role-permissions-boundary",
        account="analytics",
        title="Role allowed to write, but its permissions boundary only allows reads",
        layer=Layer.PERMISSIONS_BOUNDARY,
        cause_code="NO_ALLOW_BOUNDARY",
        seed=_role_permissions_boundary,
    ),
    Scenario(
        name="identity-explicit-deny",
        account="analytics",
        title="An explicit Deny in the user's own policy protects the audit logs",
        layer=Layer.IDENTITY_POLICY,
        cause_code="EXPLICIT_DENY_IDENTITY",
        seed=_identity_explicit_deny,
    ),
    Scenario(
        name="scp-denies-backup-deletion",
        account="shop",
        title="The organization's SCP on this account forbids deleting backups",
        layer=Layer.SCP,
        cause_code="EXPLICIT_DENY_SCP",
        seed=_scp_denies_backup_deletion,
    ),
    Scenario(
        name="cross-account-read",
        account="shop",
        requester="analytics",
        title="A role of analytics reads a shop bucket that shares another prefix only",
        layer=Layer.BUCKET_POLICY,
        cause_code="WRONG_RESOURCE_OR_ACTION_FORM",
        seed=_cross_account_read,
    ),
    Scenario(
        name="partner-bucket-perimeter",
        account="analytics",
        title="A partner's bucket, outside the organization, beyond its data perimeter",
        layer=Layer.SCP,
        cause_code="EXPLICIT_DENY_SCP",
        seed=_partner_bucket_perimeter,
    ),
)
