"""Persistent read errors become unreadable parts; object reads can be turned off by configuration.

A collection error that would fail every retry the same way (a 400 on HeadObject, a 403 other
than AccessDenied) must not lose the event: the part is an `$unreadable` marker naming the
error, and the finding lists it as unchecked. Transient errors still raise, so Lambda retries.
With `read_objects=False` (READ_OBJECTS=false) no object is read at all.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.collect.base import (
    OBJECT_READS_DISABLED,
    Absent,
    CollectError,
    Unreadable,
    fetch,
)
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope, ObjectRef
from chalicelib.diagnose import unchecked as unchecked_module
from chalicelib.model import Finding, Layer
from chalicelib.pipeline import diagnose
from chalicelib.request import request_from_runbook
from chalicelib.wiring import ConfigError, read_settings
from tests.functional.collect.conftest import (
    ACCOUNT,
    CallCounter,
    Seeded,
    client,
    moto_clients,
)

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


@pytest.fixture(scope="module")
def odd_objects(moto_url: str, seeded: Seeded) -> str:
    """An unversioned bucket with a plain object and an archived (GLACIER) one."""
    s3 = client(moto_url, "s3")
    s3.create_bucket(Bucket="odd-objects")
    s3.put_object(Bucket="odd-objects", Key="plain.csv", Body=b"a,b\n")
    s3.put_object(Bucket="odd-objects", Key="cold.csv", Body=b"a,b\n", StorageClass="GLACIER")
    return moto_url


def _collect(url: str, *objects: ObjectRef, **kwargs: Any) -> dict[str, Any]:
    source = Boto3SnapshotSource(moto_clients(url), account_id=ACCOUNT, **kwargs)
    return source.collect(CollectionScope(principal_arns=(ALICE,), objects=objects))


def _finding(doc: dict[str, Any], bucket: str, key: str, version_id: str | None = None) -> Finding:
    runbook = {
        "requester_arn": ALICE,
        "action": "s3:GetObjectVersion" if version_id else "s3:GetObject",
        "resource_arn": f"arn:aws:s3:::{bucket}/{key}",
    }
    if version_id:
        runbook["version_id"] = version_id
    return diagnose(request_from_runbook(runbook), doc)


# ----------------------------------------------------------- persistent errors


def test_head_object_bad_request_is_unreadable_and_named_never_raised(odd_objects: str) -> None:
    # GIVEN a HeadObject that S3 answers with a bodiless 400 Bad Request on every try (as for an
    # SSE-C object read without its key; moto answers so for versionId=null on this bucket)
    # WHEN
    doc = _collect(odd_objects, ObjectRef(bucket="odd-objects", key="plain.csv", version_id="null"))

    # THEN the head is unreadable with the HTTP status as its code; the ACL was still read
    obj = doc["s3"]["buckets"]["odd-objects"]["objects"]["plain.csv"]
    assert obj["head"] == {"$unreadable": "HTTP 400 Bad Request", "needs": "s3:GetObjectVersion"}
    assert "Grants" in obj["acl"]

    # AND the finding lists the object's encryption as unchecked, naming the error
    finding = _finding(doc, "odd-objects", "plain.csv", version_id="null")
    (entry,) = [u for u in finding.unchecked if u.layer is Layer.KMS_KEY_POLICY]
    assert "HTTP 400 Bad Request" in entry.reason
    assert entry.needs == "s3:GetObjectVersion"


def test_a_403_other_than_access_denied_is_unreadable_with_its_code(odd_objects: str) -> None:
    # GIVEN an archived object whose ACL read answers 403 InvalidObjectState (moto)
    doc = _collect(odd_objects, ObjectRef(bucket="odd-objects", key="cold.csv"))

    obj = doc["s3"]["buckets"]["odd-objects"]["objects"]["cold.csv"]
    assert obj["acl"] == {"$unreadable": "InvalidObjectState", "needs": "s3:GetObjectAcl"}
    assert obj["head"]["StorageClass"] == "GLACIER"


def _client_error(code: str, status: int, message: str = "") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "HeadObject")


def _raising(error: Exception) -> Any:
    def call() -> Any:
        raise error

    return call


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("SlowDown", 503),
        ("ThrottlingException", 400),
        ("Throttling", 400),
        ("InternalError", 500),
        ("500", 500),
        ("TooManyRequestsException", 429),
    ],
)
def test_transient_errors_still_raise_so_that_lambda_retries(code: str, status: int) -> None:
    with pytest.raises(CollectError, match="s3:GetObject on object s3://b/k"):
        fetch(_raising(_client_error(code, status)), needs="s3:GetObject", what="object s3://b/k")


@pytest.mark.parametrize(
    ("code", "status", "message", "expected"),
    [
        ("400", 400, "Bad Request", "HTTP 400 Bad Request"),
        ("InvalidRequest", 400, "", "InvalidRequest"),
        ("InvalidObjectState", 403, "", "InvalidObjectState"),
        ("NoSuchUpload", 404, "", "NoSuchUpload"),
        ("ValidationError", 400, "", "ValidationError"),
    ],
)
def test_persistent_errors_are_unreadable(
    code: str, status: int, message: str, expected: str
) -> None:
    result = fetch(
        _raising(_client_error(code, status, message)), needs="s3:GetObject", what="object"
    )
    assert result == Unreadable(code=expected, needs="s3:GetObject")


def test_absent_and_denied_codes_keep_their_meaning() -> None:
    missing = fetch(_raising(_client_error("NoSuchKey", 404)), needs="s3:GetObject", what="o")
    refused = fetch(_raising(_client_error("403", 403)), needs="s3:GetObject", what="o")
    assert missing == Absent(code="NoSuchKey")
    assert refused == Unreadable(code="AccessDenied", needs="s3:GetObject")


# ----------------------------------------------------------- READ_OBJECTS=false


@pytest.fixture(scope="module")
def without_object_reads(moto_url: str, seeded: Seeded) -> tuple[dict[str, Any], CallCounter]:
    counter = CallCounter()
    source = Boto3SnapshotSource(
        moto_clients(moto_url, counter=counter), account_id=ACCOUNT, read_objects=False
    )
    doc = source.collect(
        CollectionScope(
            principal_arns=(ALICE,),
            objects=(ObjectRef(bucket="reports-bucket", key="2026/q3.csv"),),
        )
    )
    return doc, counter


def test_object_reads_off_makes_no_object_call(
    without_object_reads: tuple[dict[str, Any], CallCounter],
) -> None:
    _, counter = without_object_reads
    object_calls = {c for c in counter.calls if c in {"s3:HeadObject", "s3:GetObjectAcl"}}
    assert object_calls == set()
    assert counter.calls["s3:GetBucketEncryption"] == 1  # the bucket is still read


def test_object_reads_off_marks_head_acl_and_tags_unreadable_never_absent(
    without_object_reads: tuple[dict[str, Any], CallCounter], seeded: Seeded
) -> None:
    doc, _ = without_object_reads
    obj = doc["s3"]["buckets"]["reports-bucket"]["objects"]["2026/q3.csv"]
    assert obj == {
        "head": {"$unreadable": OBJECT_READS_DISABLED, "needs": "s3:GetObject"},
        "acl": {"$unreadable": OBJECT_READS_DISABLED, "needs": "s3:GetObjectAcl"},
        "tags": {"$unreadable": OBJECT_READS_DISABLED, "needs": "s3:GetObjectTagging"},
    }
    # the bucket default key, which the object's encryption is assumed to be, is still read
    assert seeded.default_key_arn in doc["kms"]["keys"]


def test_object_reads_off_is_said_in_the_finding(
    without_object_reads: tuple[dict[str, Any], CallCounter],
) -> None:
    doc, _ = without_object_reads
    finding = _finding(doc, "reports-bucket", "2026/q3.csv")

    assert "OBJECT_MISSING" not in {c.code for c in finding.causes}
    assert Layer.OBJECT_EXISTENCE not in finding.blocked_by
    (head,) = [u for u in finding.unchecked if u.layer is Layer.KMS_KEY_POLICY]
    assert "disabled by configuration (READ_OBJECTS=false)" in head.reason
    assert "assumed to be the bucket default" in head.reason
    assert head.needs == "READ_OBJECTS=true and s3:GetObject (HeadObject)"
    (acl,) = [u for u in finding.unchecked if u.layer is Layer.OBJECT_ACL]
    assert acl.reason.startswith("Object reads are disabled by configuration (READ_OBJECTS=false)")
    assert acl.needs == "READ_OBJECTS=true and s3:GetObjectAcl"


def test_the_pure_core_and_the_collector_agree_on_the_marker_code() -> None:
    assert unchecked_module.OBJECT_READS_DISABLED == OBJECT_READS_DISABLED


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("true", True), ("false", False), ("FALSE", False)]
)
def test_read_objects_setting(value: str | None, expected: bool) -> None:
    env = {} if value is None else {"READ_OBJECTS": value}
    assert read_settings(env).read_objects is expected


def test_read_objects_setting_refuses_other_values() -> None:
    with pytest.raises(ConfigError, match="READ_OBJECTS"):
        read_settings({"READ_OBJECTS": "no"})
