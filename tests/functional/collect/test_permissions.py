"""Every AWS call in `chalicelib/collect/` is declared: its IAM action is in READ_PERMISSIONS."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import botocore.session
from botocore import xform_name

from chalicelib.collect import permissions
from chalicelib.collect.permissions import COLLECTORS, MEMBERSHIP_PERMISSIONS, READ_PERMISSIONS

COLLECT_DIR = Path(permissions.__file__).parent

# How the collectors name their clients.
RECEIVERS = {
    "s3": "s3",
    "s3control": "s3control",
    "iam": "iam",
    "kms": "kms",
    "ec2": "ec2",
    "org": "organizations",
    "sts": "sts",
}

# The IAM action(s) each API call needs (Service Authorization Reference), written by hand.
ACTION_FOR_CALL: dict[str, tuple[str, ...]] = {
    "iam:get_user": ("iam:GetUser",),
    "iam:list_user_policies": ("iam:ListUserPolicies",),
    "iam:get_user_policy": ("iam:GetUserPolicy",),
    "iam:list_attached_user_policies": ("iam:ListAttachedUserPolicies",),
    "iam:list_groups_for_user": ("iam:ListGroupsForUser",),
    "iam:list_group_policies": ("iam:ListGroupPolicies",),
    "iam:get_group_policy": ("iam:GetGroupPolicy",),
    "iam:list_attached_group_policies": ("iam:ListAttachedGroupPolicies",),
    "iam:get_role": ("iam:GetRole",),
    "iam:list_role_policies": ("iam:ListRolePolicies",),
    "iam:get_role_policy": ("iam:GetRolePolicy",),
    "iam:list_attached_role_policies": ("iam:ListAttachedRolePolicies",),
    "iam:get_policy": ("iam:GetPolicy",),
    "iam:get_policy_version": ("iam:GetPolicyVersion",),
    "s3:get_bucket_acl": ("s3:GetBucketAcl",),
    "s3:get_bucket_location": ("s3:GetBucketLocation",),
    "s3:get_bucket_policy": ("s3:GetBucketPolicy",),
    "s3:get_bucket_policy_status": ("s3:GetBucketPolicyStatus",),
    "s3:get_bucket_ownership_controls": ("s3:GetBucketOwnershipControls",),
    "s3:get_public_access_block": ("s3:GetBucketPublicAccessBlock",),
    "s3:get_bucket_encryption": ("s3:GetEncryptionConfiguration",),
    "s3:get_bucket_request_payment": ("s3:GetBucketRequestPayment",),
    "s3:get_bucket_versioning": ("s3:GetBucketVersioning",),
    "s3:get_bucket_tagging": ("s3:GetBucketTagging",),
    "s3:get_bucket_abac": ("s3:GetBucketAbac",),
    "s3:list_buckets": ("s3:ListAllMyBuckets",),
    "s3:head_object": ("s3:GetObject", "s3:GetObjectVersion"),
    "s3:get_object_acl": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "s3:get_object_tagging": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "s3control:get_public_access_block": ("s3:GetAccountPublicAccessBlock",),
    "s3control:get_access_point": ("s3:GetAccessPoint",),
    "s3control:get_access_point_policy": ("s3:GetAccessPointPolicy",),
    "s3control:list_tags_for_resource": ("s3:ListTagsForResource",),
    "kms:describe_key": ("kms:DescribeKey",),
    "kms:get_key_policy": ("kms:GetKeyPolicy",),
    "kms:list_grants": ("kms:ListGrants",),
    "kms:list_resource_tags": ("kms:ListResourceTags",),
    "ec2:describe_vpc_endpoints": ("ec2:DescribeVpcEndpoints",),
    "organizations:describe_organization": ("organizations:DescribeOrganization",),
    "organizations:list_roots": ("organizations:ListRoots",),
    "organizations:list_parents": ("organizations:ListParents",),
    "organizations:list_policies_for_target": ("organizations:ListPoliciesForTarget",),
    "organizations:describe_policy": ("organizations:DescribePolicy",),
    "organizations:list_accounts": ("organizations:ListAccounts",),  # collect/membership.py
    "sts:assume_role": ("sts:AssumeRole",),
    "sts:get_caller_identity": ("sts:GetCallerIdentity",),
}


def _operations(service: str) -> set[str]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name) for name in model.operation_names}


OPERATIONS = {service: _operations(service) for service in set(RECEIVERS.values())}


def _receiver(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _aws_calls(tree: ast.AST) -> Iterator[str]:
    """`service:method` of every client method used (called or passed on), paginated or not."""
    for node in ast.walk(tree):
        receiver: str | None = None
        method: str | None = None
        if isinstance(node, ast.Attribute):
            receiver, method = _receiver(node.value), node.attr
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[-1], ast.Constant):
            func, args = node.func, node.args
            if isinstance(func, ast.Attribute) and func.attr == "get_paginator":
                receiver, method = _receiver(func.value), str(args[0].value)
            elif isinstance(func, ast.Name) and func.id == "_all" and len(args) == 2:
                receiver, method = _receiver(args[0]), str(args[1].value)
        service = RECEIVERS.get(receiver or "")
        if service and method in OPERATIONS[service]:
            yield f"{service}:{method}"


def _calls_in_collect() -> set[str]:
    calls: set[str] = set()
    for path in sorted(COLLECT_DIR.glob("*.py")):
        calls.update(_aws_calls(ast.parse(path.read_text(), filename=str(path))))
    return calls


def test_every_aws_call_in_collect_maps_to_a_declared_permission() -> None:
    calls = _calls_in_collect()

    assert calls, "the scan found no AWS calls: the receiver names changed?"
    unknown = sorted(calls - set(ACTION_FOR_CALL))
    assert unknown == [], f"calls without a known IAM action: {unknown}"
    undeclared = sorted(
        action
        for call in calls
        for action in ACTION_FOR_CALL[call]
        if action not in READ_PERMISSIONS | MEMBERSHIP_PERMISSIONS
    )
    assert undeclared == []


def test_every_declared_permission_is_used_by_some_call() -> None:
    used = {action for call in _calls_in_collect() for action in ACTION_FOR_CALL[call]}

    assert sorted((READ_PERMISSIONS | MEMBERSHIP_PERMISSIONS) - used) == []


def test_read_permissions_are_read_only_actions() -> None:
    verbs = ("Get", "List", "Describe", "Head")
    assert all(
        action.split(":", 1)[1].startswith(verbs) or action == "sts:AssumeRole"
        for action in READ_PERMISSIONS
    )
    assert all(isinstance(collector.permissions, tuple) for collector in COLLECTORS)
