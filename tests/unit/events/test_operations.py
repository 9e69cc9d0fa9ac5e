"""The operation table: eventName → IAM action(s), resource form and KMS actions (spec 6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.demo.cloudtrail import iam_user_identity, s3_access_denied_record
from chalicelib.events import parse_event
from chalicelib.events.operations import (
    OPERATIONS,
    TABLE_PATH,
    CallKind,
    ResourceKind,
    action_kms,
    action_resource,
    lookup,
    parse_copy_source,
    version_action,
)
from chalicelib.model import Scope, Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.events.eventdata import load, parsed

BUCKET = "acme-reports"


def _record(event_name: str, params: dict[str, Any] | None = None, key: str | None = "k/a.txt"):
    base = load("headbucket")["detail"]
    request_parameters = {"bucketName": BUCKET, **(params or {})}
    if key is not None:
        request_parameters["key"] = key
    return {**base, "eventName": event_name, "requestParameters": request_parameters}


def _actions(event_name: str, params: dict[str, Any] | None = None, key: str | None = "k/a.txt"):
    request = parse_event(_record(event_name, params, key))
    return [(op.action, op.resource_arn) for op in request.operations]


def test_table_covers_at_least_seventy_s3_event_names_with_provenance() -> None:
    doc = json.loads(TABLE_PATH.read_text(encoding="utf-8"))

    assert len(OPERATIONS) >= 70
    assert doc["_source"]
    for spec in OPERATIONS.values():
        assert all(action.startswith("s3:") for action in spec.actions), spec.event_name
        assert len(spec.version_actions) in (0, len(spec.actions)), spec.event_name
        assert all(a.startswith("kms:") for a in spec.kms), spec.event_name


@pytest.mark.parametrize("event_name", sorted(OPERATIONS))
def test_every_table_row_gives_its_action_on_the_right_resource_form(event_name: str) -> None:
    spec = OPERATIONS[event_name]
    params = {"x-amz-copy-source": "src/a.txt"} if spec.kind is CallKind.COPY else {}

    request = parse_event(_record(event_name, params))

    primary = next(op for op in request.operations if op.role in ("", "destination"))
    assert primary.action == spec.actions[0]
    assert request.scope is Scope.SAME_ACCOUNT
    if spec.resource is ResourceKind.ACCOUNT:
        assert primary.resource_arn == "*"
    elif spec.resource is ResourceKind.BUCKET and spec.kind is not CallKind.DELETE_OBJECTS:
        assert primary.resource_arn == f"arn:aws:s3:::{BUCKET}"
    else:
        assert primary.resource_arn.startswith(f"arn:aws:s3:::{BUCKET}/")
    assert primary.kms_actions == spec.kms


@pytest.mark.parametrize(
    ("event_name", "params", "key", "expected"),
    [
        ("ListObjects", {}, None, "s3:ListBucket"),
        ("ListObjects", {"list-type": "2"}, None, "s3:ListBucket"),
        ("ListObjectsV2", {}, None, "s3:ListBucket"),
        ("ListObjectVersions", {}, None, "s3:ListBucketVersions"),
        ("HeadBucket", {}, None, "s3:ListBucket"),
        ("HeadObject", {}, "a", "s3:GetObject"),
        ("HeadObject", {"versionId": "v"}, "a", "s3:GetObjectVersion"),
        ("GetObject", {"versionId": "v"}, "a", "s3:GetObjectVersion"),
        ("GetObjectAcl", {"versionId": "v"}, "a", "s3:GetObjectVersionAcl"),
        ("PutObjectTagging", {"versionId": "v"}, "a", "s3:PutObjectVersionTagging"),
        ("DeleteObject", {"versionId": "v"}, "a", "s3:DeleteObjectVersion"),
        ("ListParts", {}, "a", "s3:ListMultipartUploadParts"),
        ("PutBucketLifecycle", {}, None, "s3:PutLifecycleConfiguration"),
        ("DeleteBucketLifecycle", {}, None, "s3:PutLifecycleConfiguration"),
        ("GetBucketEncryption", {}, None, "s3:GetEncryptionConfiguration"),
        ("DeleteBucketEncryption", {}, None, "s3:PutEncryptionConfiguration"),
        ("GetBucketObjectLockConfiguration", {}, None, "s3:GetBucketObjectLockConfiguration"),
        ("GetBucketNotification", {}, None, "s3:GetBucketNotification"),
        ("PutBucketNotificationConfiguration", {}, None, "s3:PutBucketNotification"),
        ("DeleteBucketPublicAccessBlock", {}, None, "s3:PutBucketPublicAccessBlock"),
        ("DeleteBucketCors", {}, None, "s3:PutBucketCORS"),
        ("DeleteBucketTagging", {}, None, "s3:PutBucketTagging"),
        ("DeleteBucketWebsite", {}, None, "s3:DeleteBucketWebsite"),
        ("DeleteBucketPolicy", {}, None, "s3:DeleteBucketPolicy"),
        ("ListBuckets", {}, None, "s3:ListAllMyBuckets"),
    ],
)
def test_naming_traps_map_to_the_iam_action_s3_checks(
    event_name: str, params: dict[str, str], key: str | None, expected: str
) -> None:
    assert _actions(event_name, params, key)[0][0] == expected


def test_getobject_with_version_needs_decrypt_and_headobject_needs_no_kms() -> None:
    assert action_kms("s3:GetObjectVersion") == ("kms:Decrypt",)
    assert lookup("HeadObject") is not None
    head = parse_event(_record("HeadObject"))
    assert head.operations[0].kms_actions == ()


def test_copy_reads_the_decoded_versioned_source_and_writes_the_destination() -> None:
    request = parsed("copyobject-versioned-source-url-encoded")

    roles = {op.role: op for op in request.operations}
    assert roles["source"].action == "s3:GetObjectVersion"
    assert roles["source"].resource_arn == "arn:aws:s3:::acme-raw/reports/q1 final+draft.csv"
    assert roles["source"].version_id == "3HL4kqtJ"
    assert roles["source"].kms_actions == ("kms:Decrypt",)
    assert roles["destination"].action == "s3:PutObject"
    assert roles["destination"].resource_arn == "arn:aws:s3:::acme-reports/reports/q1.csv"
    assert roles["destination"].kms_actions == ("kms:GenerateDataKey",)
    assert "header:x-amz-acl" not in roles  # bucket-owner-full-control: see the test below


@pytest.mark.parametrize("event_name", ["PutObject", "CopyObject", "CreateMultipartUpload"])
def test_the_bucket_owners_canned_acl_needs_no_put_object_acl(event_name: str) -> None:
    """AWS's bucket policies for log delivery and cross-account uploads grant s3:PutObject alone
    to uploads sending x-amz-acl: bucket-owner-full-control, and they succeed; any other ACL
    header sets an ACL, which needs s3:PutObjectAcl as well."""
    copy = {"x-amz-copy-source": "src/a.txt"} if event_name == "CopyObject" else {}
    owner = _actions(event_name, {**copy, "x-amz-acl": "Bucket-Owner-Full-Control"})
    public = _actions(event_name, {**copy, "x-amz-acl": "public-read"})
    grant = _actions(event_name, {**copy, "x-amz-grant-full-control": 'id="79a59df9"'})

    assert "s3:PutObjectAcl" not in [action for action, _ in owner]
    assert "s3:PutObjectAcl" in [action for action, _ in public]
    assert "s3:PutObjectAcl" in [action for action, _ in grant]


def test_upload_part_copy_without_version_reads_with_getobject() -> None:
    request = parsed("uploadpartcopy-source-without-version")

    assert [(op.role, op.action) for op in request.operations] == [
        ("source", "s3:GetObject"),
        ("destination", "s3:PutObject"),
    ]


def test_copy_without_logged_source_says_the_source_read_was_not_checked() -> None:
    request = parsed("copyobject-source-not-logged")

    assert [op.action for op in request.operations] == ["s3:PutObject"]
    assert any("could not check the source read" in note for note in request.notes)


@pytest.mark.parametrize(
    ("value", "bucket", "key", "version"),
    [
        ("src/a.txt", "src", "a.txt", None),
        ("/src/dir/a%20b.txt", "src", "dir/a b.txt", None),
        ("src/a%3Fb.txt?versionId=xyz", "src", "a?b.txt", "xyz"),
    ],
)
def test_copy_source_is_url_decoded_with_its_version(
    value: str, bucket: str, key: str, version: str | None
) -> None:
    source = parse_copy_source(value)

    assert source is not None
    assert (source.bucket, source.key, source.version_id) == (bucket, key, version)


@pytest.mark.parametrize(
    "value", ["", "bucket-only", "/bucket/", "arn:aws:s3:us-east-1:1:accesspoint/ap/object/k"]
)
def test_copy_source_without_bucket_and_key_is_not_guessed(value: str) -> None:
    assert parse_copy_source(value) is None


@pytest.mark.parametrize(
    ("scenario", "action", "kms"),
    [
        ("multipart-createmultipartupload-ssekms", "s3:PutObject", ("kms:GenerateDataKey",)),
        ("multipart-completemultipartupload", "s3:PutObject", ("kms:Decrypt",)),
        ("multipart-listparts", "s3:ListMultipartUploadParts", ("kms:Decrypt",)),
        ("multipart-abortmultipartupload", "s3:AbortMultipartUpload", ()),
    ],
)
def test_multipart_calls_map_to_their_action_and_kms_leg(
    scenario: str, action: str, kms: tuple[str, ...]
) -> None:
    request = parsed(scenario)

    assert request.action == action
    assert request.key == "big/file.bin"
    assert request.operations[0].kms_actions == kms


@pytest.mark.parametrize(
    ("event_name", "params"),
    [("UploadPart", {}), ("UploadPartCopy", {"x-amz-copy-source": "src/a.txt"})],
)
def test_upload_part_checks_kms_decrypt_on_the_upload_not_generate_data_key(
    event_name: str, params: dict[str, str]
) -> None:
    request = parse_event(_record(event_name, params))

    upload = next(op for op in request.operations if op.role in ("", "destination"))
    assert upload.kms_actions == ("kms:Decrypt",)


def test_delete_objects_is_one_authorization_per_key_with_its_version() -> None:
    request = parsed("deleteobjects-per-key-with-versions")

    assert [(op.action, op.resource_arn) for op in request.operations] == [
        ("s3:DeleteObject", "arn:aws:s3:::acme-reports/old/a.txt"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::acme-reports/old/b.txt"),
    ]


def test_delete_objects_without_keys_checks_every_key_and_says_so() -> None:
    request = parsed("deleteobjects-keys-not-logged")

    assert request.resource_arn == "arn:aws:s3:::acme-reports/*"
    assert any("names no keys" in note for note in request.notes)


def test_delete_with_governance_bypass_header_also_needs_bypass_permission() -> None:
    request = parsed("deleteobject-bypass-governance")

    assert [op.action for op in request.operations] == [
        "s3:DeleteObjectVersion",
        "s3:BypassGovernanceRetention",
    ]


def test_put_with_acl_tagging_and_lock_headers_needs_each_extra_permission() -> None:
    request = parsed("bare-record-iamuser-putobject-acl-tagging-lock-headers")

    assert [op.action for op in request.operations] == [
        "s3:PutObject",
        "s3:PutObjectAcl",
        "s3:PutObjectTagging",
        "s3:PutObjectRetention",
    ]
    assert {op.resource_arn for op in request.operations} == {
        "arn:aws:s3:::acme-reports/exports/report.csv"
    }


def test_create_bucket_with_object_lock_needs_lock_and_versioning_permissions() -> None:
    request = parsed("createbucket-location-ownership")

    assert [op.action for op in request.operations] == [
        "s3:CreateBucket",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketVersioning",
    ]


@pytest.mark.parametrize(
    ("scenario", "action", "resource"),
    [
        ("headbucket", "s3:ListBucket", "arn:aws:s3:::acme-reports"),
        ("listobjects-v1-top-level", "s3:ListBucket", "arn:aws:s3:::acme-reports"),
        ("listbuckets-account-level", "s3:ListAllMyBuckets", "*"),
        (
            "putbucketlifecycle-naming-trap",
            "s3:PutLifecycleConfiguration",
            "arn:aws:s3:::acme-reports",
        ),
        (
            "getbucketobjectlockconfiguration-naming-trap",
            "s3:GetBucketObjectLockConfiguration",
            "arn:aws:s3:::acme-reports",
        ),
    ],
)
def test_bucket_and_account_calls_act_on_the_bucket_or_account(
    scenario: str, action: str, resource: str
) -> None:
    request = parsed(scenario)

    assert (request.action, request.resource_arn) == (action, resource)


def test_version_forms_and_resource_kinds_come_from_the_same_table() -> None:
    assert version_action("s3:GetObject") == "s3:GetObjectVersion"
    assert version_action("s3:ListBucket") is None
    assert action_resource("s3:GetObjectVersion") is ResourceKind.OBJECT
    assert action_resource("s3:ListBucket") is ResourceKind.BUCKET
    assert action_resource("s3:ListAllMyBuckets") is ResourceKind.ACCOUNT
    assert action_resource("s3:NoSuchAction") is None


def test_delete_objects_with_many_keys_checks_one_per_prefix_up_to_the_limit() -> None:
    keys = [f"logs/{day:02d}/{n}.gz" for day in range(1, 31) for n in range(40)]
    params = {"delete": {"Object": [{"Key": k} for k in keys], "Quiet": "true"}}

    request = parse_event(_record("DeleteObjects", params, key=None), max_keys=25)

    checked = [op.key for op in request.operations]
    assert checked == [f"logs/{day:02d}/0.gz" for day in range(1, 26)]
    note = next(n for n in request.notes if n.startswith("DeleteObjects named"))
    assert "1200 keys under 30 prefixes" in note
    assert "checked 25 of them" in note


def test_delete_objects_with_few_prefixes_fills_the_limit_in_request_order() -> None:
    keys = [f"a/{n}" for n in range(10)] + [f"b/{n}" for n in range(10)]
    params = {"delete": {"Object": [{"Key": k} for k in keys]}}

    request = parse_event(_record("DeleteObjects", params, key=None), max_keys=4)

    assert [op.key for op in request.operations] == ["a/0", "b/0", "a/1", "a/2"]
    assert any("covering 2 prefixes" in n for n in request.notes)


def test_delete_objects_within_the_limit_checks_every_key_without_a_note() -> None:
    params = {"delete": {"Object": [{"Key": f"k/{n}"} for n in range(5)]}}

    request = parse_event(_record("DeleteObjects", params, key=None), max_keys=5)

    assert len(request.operations) == 5
    assert not any(n.startswith("DeleteObjects named") for n in request.notes)


ACCOUNT = "111122223333"
ALICE = iam_user_identity(account_id=ACCOUNT, user_name="alice", user_id="AIDAALICE0")


def _denied(event_name: str, key: str | None, params: dict[str, str] | None = None) -> Any:
    return s3_access_denied_record(
        event_id="e-1",
        event_time="2026-11-02T10:15:22Z",
        region="us-east-1",
        identity=ALICE,
        event_name=event_name,
        bucket=BUCKET,
        bucket_account=ACCOUNT,
        key=key,
        request_parameters=params,
        error_message=f"User: {ALICE['arn']} is not authorized to perform: the action",
    )


def _alice_without_policies() -> Any:
    user = {"UserName": "alice", "UserId": "AIDAALICE0", "Arn": ALICE["arn"], "Path": "/"}
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [user], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": {BUCKET: {"owner": {"ID": "c0ffee"}}}},
        }
    )


@pytest.mark.parametrize(
    ("event_name", "key", "params", "action"),
    [
        ("GetBucketAbac", None, {}, "s3:GetBucketAbac"),
        ("PutBucketAbac", None, {}, "s3:PutBucketAbac"),
        (
            "CreateBucketMetadataConfiguration",
            None,
            {},
            "s3:CreateBucketMetadataTableConfiguration",
        ),
        ("GetBucketMetadataConfiguration", None, {}, "s3:GetBucketMetadataTableConfiguration"),
        (
            "DeleteBucketMetadataConfiguration",
            None,
            {},
            "s3:DeleteBucketMetadataTableConfiguration",
        ),
        (
            "UpdateBucketMetadataInventoryTableConfiguration",
            None,
            {},
            "s3:UpdateBucketMetadataInventoryTableConfiguration",
        ),
        (
            "UpdateBucketMetadataJournalTableConfiguration",
            None,
            {},
            "s3:UpdateBucketMetadataJournalTableConfiguration",
        ),
        (
            "UpdateBucketMetadataAnnotationTableConfiguration",
            None,
            {},
            "s3:UpdateBucketMetadataAnnotationTableConfiguration",
        ),
        (
            "GetObjectAnnotation",
            "k/a.txt",
            {"annotationName": "ml.label"},
            "s3:GetObjectAnnotation",
        ),
        (
            "PutObjectAnnotation",
            "k/a.txt",
            {"annotationName": "ml.label"},
            "s3:PutObjectAnnotation",
        ),
        (
            "DeleteObjectAnnotation",
            "k/a.txt",
            {"annotationName": "ml.label"},
            "s3:DeleteObjectAnnotation",
        ),
        ("ListObjectAnnotations", "k/a.txt", {}, "s3:ListObjectAnnotations"),
        (
            "GetObjectAnnotation",
            "k/a.txt",
            {"annotationName": "ml.label", "versionId": "v1"},
            "s3:GetObjectVersionAnnotation",
        ),
        (
            "PutObjectAnnotation",
            "k/a.txt",
            {"annotationName": "ml.label", "versionId": "v1"},
            "s3:PutObjectVersionAnnotation",
        ),
        (
            "DeleteObjectAnnotation",
            "k/a.txt",
            {"annotationName": "ml.label", "versionId": "v1"},
            "s3:DeleteObjectVersionAnnotation",
        ),
        (
            "ListObjectAnnotations",
            "k/a.txt",
            {"versionId": "v1"},
            "s3:ListObjectVersionAnnotations",
        ),
        ("GetPublicAccessBlock", None, {}, "s3:GetBucketPublicAccessBlock"),
        ("PutPublicAccessBlock", None, {}, "s3:PutBucketPublicAccessBlock"),
        ("DeletePublicAccessBlock", None, {}, "s3:PutBucketPublicAccessBlock"),
    ],
)
def test_a_denied_call_of_newer_s3_apis_is_diagnosed_with_the_action_s3_checks(
    event_name: str, key: str | None, params: dict[str, str], action: str
) -> None:
    """These calls were "not diagnosed" (not in the operation table): ABAC, S3 Metadata V2,
    object annotations (the version form with a versionId), and the public access block calls
    by their API names."""
    request = parse_event(_denied(event_name, key, params))

    assert request.scope is Scope.SAME_ACCOUNT
    assert request.action == action
    resource = f"arn:aws:s3:::{BUCKET}" + (f"/{key}" if key else "")
    assert request.resource_arn == resource

    finding = pipeline.diagnose(request, _alice_without_policies())

    assert finding.decision is Verdict.IMPLICIT_DENY
    assert [(e.action, e.resource_arn) for e in finding.evaluations] == [(action, resource)]
    assert "identity-policy" in finding.blocked_by
