"""A realistic account for the engine benchmark: 11 policies, 48 statements.

A user in two groups (inline + managed policies), a permissions boundary, a bucket policy and a
three-level SCP chain, with conditions, wildcards and a policy variable, as a real account has.
"""

from __future__ import annotations

from typing import Any

ACCOUNT = "111122223333"
BUCKET = "acme-data-lake-prod"


def _statements(prefix: str, count: int, effect: str = "Allow") -> list[dict[str, Any]]:
    """`count` statements on other services/buckets, so matching has to look past them."""
    out: list[dict[str, Any]] = []
    for i in range(count):
        out.append(
            {
                "Sid": f"{prefix}{i}",
                "Effect": effect,
                "Action": [f"ec2:Describe{i}*", f"dynamodb:Get{i}*", "s3:GetBucketTagging"],
                "Resource": [
                    f"arn:aws:s3:::other-bucket-{i}/*",
                    f"arn:aws:dynamodb:*:{ACCOUNT}:table/t{i}",
                ],
                "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}},
            }
        )
    return out


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _managed(name: str, document: dict[str, Any]) -> dict[str, Any]:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    return {
        "PolicyName": name,
        "Arn": arn,
        "DefaultVersionId": "v2",
        "PolicyVersionList": [{"VersionId": "v2", "IsDefaultVersion": True, "Document": document}],
    }


def snapshot() -> dict[str, Any]:
    data_read = _doc(
        *_statements("Other", 4),
        {
            "Sid": "ReadOwnPrefix",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"arn:aws:s3:::{BUCKET}/home/${{aws:username}}/*",
        },
        {
            "Sid": "ReadRaw",
            "Effect": "Allow",
            "Action": "s3:Get*",
            "Resource": f"arn:aws:s3:::{BUCKET}/raw/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
    )
    analysts = _doc(
        *_statements("Analyst", 5),
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
    )
    engineers = _doc(
        *_statements("Eng", 4), {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
    )
    boundary = _doc(
        {
            "Sid": "S3AndFriends",
            "Effect": "Allow",
            "Action": ["s3:*", "ec2:Describe*", "dynamodb:*"],
            "Resource": "*",
        },
        *_statements("Bound", 2, "Deny"),
    )
    tagging = _doc(*_statements("Tagging", 6))
    managed = [
        _managed("DataRead", data_read),
        _managed("Analysts", analysts),
        _managed("Engineers", engineers),
        _managed("Boundary", boundary),
        _managed("Tagging", tagging),
    ]
    scp_root = _doc({"Effect": "Allow", "Action": "*", "Resource": "*"})
    scp_ou = _doc(
        {"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            "Sid": "DenyRegions",
            "Effect": "Deny",
            "NotAction": ["iam:*", "s3:*", "sts:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "us-east-1"]}},
        },
        {
            "Sid": "DenyLeaveOrg",
            "Effect": "Deny",
            "Action": "organizations:LeaveOrganization",
            "Resource": "*",
        },
    )
    scp_account = _doc(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {
            "Sid": "ProtectTrail",
            "Effect": "Deny",
            "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"],
            "Resource": "*",
        },
    )
    bucket_policy = _doc(
        {
            "Sid": "DenyInsecure",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOtherVpce",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
            "Condition": {"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-0a1b2c3d4e5f60789"}},
        },
        {
            "Sid": "Pipeline",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/etl"},
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{BUCKET}/curated/*",
        },
        *_statements_resource(4),
    )
    return {
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "iam": {
            "UserDetailList": [
                {
                    "UserName": "alice",
                    "UserId": "AIDAEXAMPLEALICE",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
                    "GroupList": ["analysts", "engineers"],
                    "UserPolicyList": [
                        {
                            "PolicyName": "inline-tags",
                            "PolicyDocument": _doc(*_statements("Inline", 3)),
                        }
                    ],
                    "AttachedManagedPolicies": [
                        {"PolicyName": "DataRead", "PolicyArn": managed[0]["Arn"]},
                        {"PolicyName": "Tagging", "PolicyArn": managed[4]["Arn"]},
                    ],
                    "PermissionsBoundary": {
                        "PermissionsBoundaryType": "Policy",
                        "PermissionsBoundaryArn": managed[3]["Arn"],
                    },
                }
            ],
            "GroupDetailList": [
                {
                    "GroupName": "analysts",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:group/analysts",
                    "GroupPolicyList": [],
                    "AttachedManagedPolicies": [
                        {"PolicyName": "Analysts", "PolicyArn": managed[1]["Arn"]}
                    ],
                },
                {
                    "GroupName": "engineers",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:group/engineers",
                    "GroupPolicyList": [
                        {"PolicyName": "oncall", "PolicyDocument": _doc(*_statements("OnCall", 6))}
                    ],
                    "AttachedManagedPolicies": [
                        {"PolicyName": "Engineers", "PolicyArn": managed[2]["Arn"]}
                    ],
                },
            ],
            "RoleDetailList": [],
            "Policies": managed,
        },
        "organization": {
            "management_account_id": "999988887777",
            "levels": [
                {"target_id": "r-ab12", "scps": [{"Id": "p-FullAWSAccess", "Content": scp_root}]},
                {"target_id": "ou-ab12-data", "scps": [{"Id": "p-guardrails", "Content": scp_ou}]},
                {"target_id": ACCOUNT, "scps": [{"Id": "p-account", "Content": scp_account}]},
            ],
        },
        "s3": {
            "buckets": {
                BUCKET: {
                    "owner": {"ID": "c" * 64},
                    "policy": bucket_policy,
                    "ownership_controls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                }
            }
        },
    }


def _statements_resource(count: int) -> list[dict[str, Any]]:
    return [
        {
            "Sid": f"Partner{i}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::44445555666{i}:root"},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/shared/p{i}/*",
        }
        for i in range(count)
    ]


def request(i: int, *, distinct: bool = False) -> dict[str, Any]:
    """Runbook-style request number i: varied keys, mostly allowed, some denied.

    `distinct` gives every request its own source IP, so no two share a shape and the engine's
    verdict cache never answers (the worst case)."""
    key = f"raw/2025/{i % 12:02d}/part-{i}.csv" if i % 4 else f"home/alice/notes-{i}.txt"
    return {
        "requester_arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "action": "s3:GetObject",
        "resource_arn": f"arn:aws:s3:::{BUCKET}/{key}",
        "context": [
            {
                "ContextKeyName": "aws:SecureTransport",
                "ContextKeyValues": ["true" if i % 7 else "false"],
                "ContextKeyType": "boolean",
            },
            {
                "ContextKeyName": "aws:RequestedRegion",
                "ContextKeyValues": ["eu-west-1"],
                "ContextKeyType": "string",
            },
            {
                "ContextKeyName": "aws:SourceIp",
                "ContextKeyValues": [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"]
                if distinct
                else ["203.0.113.7"],
                "ContextKeyType": "ip",
            },
        ],
    }


def statement_count(doc: dict[str, Any]) -> tuple[int, int]:
    """(policies, statements) in the snapshot, to show the workload's size."""
    iam = doc["iam"]
    docs = [p["PolicyVersionList"][0]["Document"] for p in iam["Policies"]]
    docs += [p["PolicyDocument"] for u in iam["UserDetailList"] for p in u["UserPolicyList"]]
    docs += [p["PolicyDocument"] for g in iam["GroupDetailList"] for p in g["GroupPolicyList"]]
    docs += [s["Content"] for level in doc["organization"]["levels"] for s in level["scps"]]
    docs += [b["policy"] for b in doc["s3"]["buckets"].values()]
    return len(docs), sum(len(d["Statement"]) for d in docs)
