"""The KMS leg of a read follows the object's head: S3 calls KMS to read an SSE-KMS object only.
A copy's `x-amz-server-side-encryption-aws-kms-key-id` header names its destination's key; its
source was read with kms:Decrypt on that key, whatever the source's head said (or, unread,
the source bucket's default encryption)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import AccessRequest, Finding, Verdict
from chalicelib.request import request_from_runbook
from tests.unit.diagnose.test_render import HOSTILE, assert_inert_in_every_rendering

SCENARIO = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "scenarios"
    / "event-sse-kms-upload-without-generatedatakey"
)
HEADER_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SOURCE_KEY = "arn:aws:kms:us-east-1:111122223333:key/5678dcba-0000-1111-2222-333344445555"
OWNER = {"ID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}
SSE_KMS_SOURCE = {"ContentLength": 10, "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": SOURCE_KEY}


def _snapshot(head: dict[str, Any]) -> dict[str, Any]:
    """Fixture 02's account (app-uploader-role may PutObject into acme-invoices, whose key does
    not let it GenerateDataKey), with a source bucket it may read, holding `in/inv.pdf`."""
    snapshot = json.loads((SCENARIO / "snapshot.json").read_text(encoding="utf-8"))
    snapshot["s3"]["buckets"]["acme-source"] = {
        "owner": OWNER,
        "region": "us-east-1",
        "objects": {"in/inv.pdf": {"acl": {"Grants": [], "Owner": OWNER}, "head": head}},
    }
    role = snapshot["iam"]["RoleDetailList"][0]
    role["RolePolicyList"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-source/*"}
    )
    keys = snapshot["kms"]["keys"]
    keys[SOURCE_KEY] = copy.deepcopy(keys[HEADER_KEY])
    keys[SOURCE_KEY]["metadata"].update(Arn=SOURCE_KEY, KeyId=SOURCE_KEY.rsplit("/", 1)[1])
    return snapshot


def _copy(*, refused: str | None = None) -> AccessRequest:
    """Fixture 02's upload as a CopyObject from acme-source/in/inv.pdf: with its SSE-KMS
    headers (the destination's), or without them and refused `refused` on the source's key."""
    event = json.loads((SCENARIO / "event.json").read_text(encoding="utf-8"))
    detail = copy.deepcopy(event["detail"])
    detail["eventName"] = "CopyObject"
    parameters = detail["requestParameters"]
    parameters["x-amz-copy-source"] = "acme-source/in/inv.pdf"
    if refused is not None:
        for name in [n for n in parameters if n.startswith("x-amz-server-side-encryption")]:
            del parameters[name]
        detail["errorMessage"] = (
            f"User: {detail['userIdentity']['arn']} is not authorized to perform: {refused} on "
            f"resource: {SOURCE_KEY} because no identity-based policy allows the {refused} action"
        )
    return parse_event({**event, "detail": detail})


def copied(head: dict[str, Any], snapshot: dict[str, Any] | None = None) -> Finding:
    """`_copy()` against `snapshot` (default: `_snapshot(head)`)."""
    return pipeline.diagnose(_copy(), snapshot or _snapshot(head))


def _calls(found: Finding) -> list[tuple[str, str, Verdict]]:
    return [(e.action, e.resource_arn, e.decision) for e in found.evaluations]


def test_a_copy_reads_an_sse_s3_source_without_the_destinations_key() -> None:
    found = copied({"ContentLength": 10, "ServerSideEncryption": "AES256"})

    assert _calls(found) == [
        ("s3:GetObject", "arn:aws:s3:::acme-source/in/inv.pdf", Verdict.ALLOWED),
        ("s3:PutObject", "arn:aws:s3:::acme-invoices/2025/03/inv-000123.pdf", Verdict.ALLOWED),
        ("kms:GenerateDataKey", HEADER_KEY, Verdict.IMPLICIT_DENY),
    ]
    assert [c.code for c in found.causes][:1] == ["KMS_IDENTITY"]
    assert not any("not SSE-KMS" in note for note in found.notes)  # the header is not its


def test_a_copy_whose_source_head_is_unreadable_takes_the_source_buckets_default_key() -> None:
    """The source's encryption is unknown: its bucket's default key, never the destination's."""
    unreadable = {"$unreadable": "AccessDenied", "needs": "s3:GetObject"}
    snapshot = _snapshot(unreadable)
    assert [e.action for e in copied(unreadable, snapshot).evaluations] == [
        "s3:GetObject",
        "s3:PutObject",
        "kms:GenerateDataKey",
    ]
    default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": SOURCE_KEY}
    snapshot["s3"]["buckets"]["acme-source"]["encryption"] = {
        "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": False}]
    }
    found = copied(unreadable, snapshot)
    assert [(action, arn) for action, arn, _ in _calls(found)][:2] == [
        ("s3:GetObject", "arn:aws:s3:::acme-source/in/inv.pdf"),
        ("kms:Decrypt", SOURCE_KEY),
    ]
    # the key is the bucket default's, assumed: said, and the source's KMS call not definite
    assert any(
        "s3://acme-source/in/inv.pdf could not be read" in u.reason and "assumed" in u.reason
        for u in found.unchecked
    )
    assert found.evaluations[1].decision is Verdict.INCONCLUSIVE


def test_a_copy_reads_an_sse_kms_source_with_the_sources_own_key() -> None:
    found = copied(SSE_KMS_SOURCE)

    assert [(action, arn) for action, arn, _ in _calls(found)] == [
        ("s3:GetObject", "arn:aws:s3:::acme-source/in/inv.pdf"),
        ("kms:Decrypt", SOURCE_KEY),
        ("s3:PutObject", "arn:aws:s3:::acme-invoices/2025/03/inv-000123.pdf"),
        ("kms:GenerateDataKey", HEADER_KEY),
    ]
    assert not any("not SSE-KMS" in note for note in found.notes)


def test_a_key_given_with_a_read_of_an_unencrypted_object_is_not_checked_and_said_so() -> None:
    """The runbook's KMS key input for a GetObject whose head says SSE-S3: S3 never calls KMS,
    so the key policy, which lets nobody use the key, denies nothing."""
    request = request_from_runbook(
        {
            "requester_arn": "arn:aws:iam::111122223333:role/app-uploader-role",
            "action": "s3:GetObject",
            "resource_arn": "arn:aws:s3:::acme-source/in/inv.pdf",
            "kms_key_arn": HEADER_KEY,
        }
    )
    snapshot = _snapshot({"ContentLength": 10, "ServerSideEncryption": "AES256"})
    found = pipeline.diagnose(request, snapshot)

    assert found.decision is Verdict.ALLOWED
    assert [e.action for e in found.evaluations] == ["s3:GetObject"]
    assert any(f"{HEADER_KEY} was not checked" in note for note in found.notes)

    snapshot["s3"]["buckets"]["acme-source"]["objects"]["in/inv.pdf"]["head"] = {
        "ContentLength": 10,
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": HEADER_KEY,
    }
    encrypted = pipeline.diagnose(request, snapshot)
    assert encrypted.decision is Verdict.IMPLICIT_DENY
    assert [e.action for e in encrypted.evaluations] == ["s3:GetObject", "kms:Decrypt"]


def test_the_key_errormessage_names_for_a_copys_source_read_is_not_its_destinations() -> None:
    """A copy refused kms:Decrypt on its source's key: its write, to a bucket without default
    encryption, was judged to need kms:GenerateDataKey on that key (and a fix offered it)."""
    snapshot = _snapshot(SSE_KMS_SOURCE)
    del snapshot["s3"]["buckets"]["acme-invoices"]["encryption"]
    found = pipeline.diagnose(_copy(refused="kms:Decrypt"), snapshot)

    assert [(action, arn) for action, arn, _ in _calls(found)] == [
        ("s3:GetObject", "arn:aws:s3:::acme-source/in/inv.pdf"),
        ("kms:Decrypt", SOURCE_KEY),
        ("s3:PutObject", "arn:aws:s3:::acme-invoices/2025/03/inv-000123.pdf"),
    ]
    assert found.request.kms_key_arn is None
    assert any(
        f"errorMessage names KMS key {SOURCE_KEY} for kms:Decrypt" in n for n in found.request.notes
    )
    assert not any("GenerateDataKey" in (r.summary + str(r.patch)) for r in found.remedies)
    assert any("kms:Decrypt" in r.summary for r in found.remedies)


def test_the_key_errormessage_names_for_a_one_operation_call_is_still_taken() -> None:
    """Fixture 02 (a PutObject refused kms:GenerateDataKey) without its key header: the key
    errorMessage names is the write's, as before."""
    event = json.loads((SCENARIO / "event.json").read_text(encoding="utf-8"))
    detail = copy.deepcopy(event["detail"])
    del detail["requestParameters"]["x-amz-server-side-encryption-aws-kms-key-id"]
    request = parse_event({**event, "detail": detail})

    assert request.kms_key_arn == HEADER_KEY
    assert "KMS key taken from errorMessage." in request.notes


def test_a_hostile_key_header_and_object_key_in_the_unchecked_key_note_stay_data() -> None:
    """A read whose object key and KMS key header an outsider wrote: the note that the key was
    not checked quotes both, and every rendering shows them as data."""
    object_key = f"in/{HOSTILE}"
    header = f"arn:aws:kms:us-east-1:111122223333:key/{HOSTILE}"
    snapshot = _snapshot({"ContentLength": 10, "ServerSideEncryption": "AES256"})
    objects = snapshot["s3"]["buckets"]["acme-source"]["objects"]
    objects[object_key] = objects["in/inv.pdf"]
    event = json.loads((SCENARIO / "event.json").read_text(encoding="utf-8"))
    detail = copy.deepcopy(event["detail"])
    detail["eventName"] = "GetObject"
    detail["resources"] = [
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::acme-source"}
    ]
    detail["requestParameters"] = {
        "bucketName": "acme-source",
        "key": object_key,
        "x-amz-server-side-encryption-aws-kms-key-id": header,
    }
    found = pipeline.diagnose(parse_event({**event, "detail": detail}), snapshot)

    assert [e.action for e in found.evaluations] == ["s3:GetObject"]
    assert any(header in note and object_key in note for note in found.notes)
    assert_inert_in_every_rendering(found)
