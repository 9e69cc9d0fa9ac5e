"""Patches land where the policy lives in a snapshot document, with the matching CLI command."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from typing import Any

from chalicelib.diagnose.patches import (
    apply_patch,
    apply_to_request,
    cli_for,
    policy_document,
)
from chalicelib.model import ContextEntry
from tests.unit.diagnose.diagnose_builders import request

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                              "Resource": "arn:aws:s3:::b/*"}]}  # fmt: skip


def snapshot_doc() -> dict[str, Any]:
    return {
        "account_id": "111122223333",
        "iam": {
            "UserDetailList": [{"UserName": "alice", "UserPolicyList": []}],
            "RoleDetailList": [],
            "GroupDetailList": [],
            "Policies": [
                {
                    "Arn": "arn:aws:iam::111122223333:policy/P",
                    "DefaultVersionId": "v2",
                    "PolicyVersionList": [
                        {"VersionId": "v1", "IsDefaultVersion": False, "Document": {}},
                        {"VersionId": "v2", "IsDefaultVersion": True, "Document": json.dumps(DOC)},
                    ],
                }
            ],
        },
        "s3": {"buckets": {"b": {"policy": json.dumps(DOC)}}},
    }


def test_inline_policy_patch_adds_a_policy_and_keeps_the_original_untouched() -> None:
    original = snapshot_doc()
    patch = {"kind": "policy", "policy": "inline:user/alice/new", "document": DOC}
    out = apply_patch(original, patch)
    assert policy_document(out, "inline:user/alice/new") == DOC
    assert original["iam"]["UserDetailList"][0]["UserPolicyList"] == []
    cli = cli_for(patch, request())
    assert cli is not None
    assert shlex.split(cli)[:7] == [
        "aws", "iam", "put-user-policy", "--user-name", "alice", "--policy-name", "new"
    ]  # fmt: skip
    assert json.loads(shlex.split(cli)[-1]) == DOC


def test_managed_policy_patch_becomes_the_new_default_version() -> None:
    arn = "arn:aws:iam::111122223333:policy/P"
    new = {"Version": "2012-10-17", "Statement": []}
    out = apply_patch(snapshot_doc(), {"kind": "policy", "policy": arn, "document": new})
    assert policy_document(out, arn) == new
    policy = out["iam"]["Policies"][0]
    assert policy["DefaultVersionId"] == "v3"
    assert [v["IsDefaultVersion"] for v in policy["PolicyVersionList"]] == [False, False, True]
    cli = cli_for({"kind": "policy", "policy": arn, "document": new}, request())
    assert cli is not None and "create-policy-version" in cli and "--set-as-default" in cli


def test_bucket_policy_document_is_read_from_its_json_string() -> None:
    assert policy_document(snapshot_doc(), "bucket-policy:b") == DOC
    assert policy_document(snapshot_doc(), "bucket-policy:missing") is None


def test_ownership_patch_and_command() -> None:
    patch = {"kind": "ownership", "bucket": "b", "object_ownership": "BucketOwnerEnforced"}
    out = apply_patch(snapshot_doc(), patch)
    rules = out["s3"]["buckets"]["b"]["ownership_controls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "put-bucket-ownership-controls --bucket b" in (cli_for(patch, request()) or "")


def test_request_patch_replaces_and_removes_context_keys() -> None:
    base = replace(
        request(),
        context=(
            ContextEntry(name="aws:SecureTransport", values=("false",), type="boolean"),
            ContextEntry(name="s3:x-amz-acl", values=("public-read",)),
        ),
    )
    patch = {"kind": "request", "context": {"aws:securetransport": ["true"], "s3:x-amz-acl": None}}
    out = apply_to_request(base, patch)
    assert out.context_value("aws:SecureTransport") == ("true",)
    assert out.context_value("s3:x-amz-acl") is None
    assert cli_for(patch, base) is None


def test_a_patch_into_an_unreadable_list_is_an_input_error_not_a_crash() -> None:
    """A list read as an `$unreadable` marker holds nothing to patch: both appliers say so
    (before, iterating the marker's keys raised AttributeError out of fix verification)."""
    import pytest

    from chalicelib.diagnose.patches import apply_patch_shared
    from chalicelib.model import InputError

    marker = {"$unreadable": "AccessDenied", "needs": "iam:GetAccountAuthorizationDetails"}
    cases = [
        ("Policies", "arn:aws:iam::111122223333:policy/P", "managed policy"),
        ("UserDetailList", "inline:user/alice/grant", "no IAM user named 'alice'"),
    ]
    for table, policy_id, said in cases:
        doc = snapshot_doc()
        doc["iam"][table] = dict(marker)
        for apply in (apply_patch, apply_patch_shared):
            with pytest.raises(InputError, match=said):
                apply(doc, {"kind": "policy", "policy": policy_id, "document": DOC})
