"""Calls that S3 authorises as several operations (a copy reads its source and writes its
destination, a PUT with a tagging header is also s3:PutObjectTagging): the alert names the one
that was denied, not the first (subject, chat, headings, Security Hub), and the causes, fixes
and explanations speak of the operation and bucket they are about."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.render import (
    denied_operation,
    render_chatbot,
    render_markdown,
    render_text,
    subject,
)
from chalicelib.events import parse_event
from chalicelib.model import Finding, Verdict
from chalicelib.publish.message import alert
from chalicelib.publish.securityhub import asff_finding
from tests.unit.diagnose.test_render import HOSTILE, assert_inert_in_every_rendering
from tests.unit.engine.test_kms_copy_source import copied as kms_copied
from tests.unit.events.eventdata import load

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
OWNER = {"ID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}
OBJECT = {
    "acl": {"Grants": [], "Owner": OWNER},
    "head": {"ContentLength": 10, "ServerSideEncryption": "AES256"},
}


def _bucket(*keys: str) -> dict[str, Any]:
    """A bucket of the snapshot's account holding `keys`, ACLs disabled (as new buckets are)."""
    return {
        "owner": OWNER,
        "ownership_controls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "objects": dict.fromkeys(keys, OBJECT),
    }


def _allow(*statements: tuple[str | list[str], str]) -> list[dict[str, Any]]:
    return [{"Effect": "Allow", "Action": a, "Resource": r} for a, r in statements]


def _snapshot(
    principal: dict[str, Any], statements: list[dict[str, Any]], **buckets: Any
) -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": statements}
    inline = [{"PolicyName": "s3", "PolicyDocument": document}]
    users, roles = [], []
    if ":user/" in principal["Arn"]:
        users.append({**principal, "UserPolicyList": inline, "AttachedManagedPolicies": []})
    else:
        roles.append({**principal, "RolePolicyList": inline, "AttachedManagedPolicies": []})
    return {
        "account_id": "111122223333",
        "partition": "aws",
        "region": "eu-west-1",
        "iam": {"UserDetailList": users, "RoleDetailList": roles, "GroupDetailList": []},
        "s3": {"buckets": buckets},
    }


REPORTING = {
    "Arn": "arn:aws:iam::111122223333:role/reporting-role",
    "RoleName": "reporting-role",
    "RoleId": "AROA5EXAMPLEREPORT01",
    "Path": "/",
}
DEPLOYER = {
    "Arn": "arn:aws:iam::111122223333:user/ops/deployer",
    "UserName": "deployer",
    "UserId": "AIDA5EXAMPLEUSERID09",
    "Path": "/ops/",
}
SOURCE = "arn:aws:s3:::acme-raw/reports/q1 final+draft.csv"
DESTINATION = "arn:aws:s3:::acme-reports/reports/q1.csv"


def _copy(
    statements: list[dict[str, Any]],
    *,
    source_policy: dict[str, Any] | None = None,
    destination_policy: dict[str, Any] | None = None,
    account: str = "111122223333",
) -> Finding:
    """The logged CopyObject of `acme-raw/reports/q1 final+draft.csv` (a version) to
    `acme-reports/reports/q1.csv` by reporting-role of `account`, against its `statements`
    (when it is the snapshot's account) and the buckets' policies."""
    raw, reports = _bucket("reports/q1 final+draft.csv"), _bucket()
    for bucket, policy in ((raw, source_policy), (reports, destination_policy)):
        if policy is not None:
            bucket["policy"] = json.dumps({"Version": "2012-10-17", "Statement": [policy]})
    snapshot = _snapshot(REPORTING, statements, **{"acme-raw": raw, "acme-reports": reports})
    event = load("copyobject-versioned-source-url-encoded")
    if account != "111122223333":  # the role is another account's: the snapshot's has none
        snapshot["iam"]["RoleDetailList"] = []
        text = json.dumps(event).replace("111122223333", account)
        event = json.loads(text.replace(f'"account": "{account}"', '"account": "111122223333"'))
    return pipeline.diagnose(parse_event(event), snapshot)


def _every_rendering(finding: Finding) -> dict[str, str]:
    notification = render_chatbot(finding)
    chat = notification["content"]
    asff = asff_finding(
        finding, account_id="111122223333", region="eu-west-1", now=datetime.now(UTC)
    )
    return {
        "subject": subject(finding),
        "alert subject": alert(finding).subject,
        "text heading": render_text(finding).splitlines()[0],
        "markdown heading": render_markdown(finding).splitlines()[0],
        "chat title": chat["title"],
        "chat body": chat["description"].splitlines()[0],
        "chat keywords": " ".join(w for w in chat["keywords"] if w.startswith("acme-")),
        "chat related resource": notification["metadata"]["relatedResources"][0],
        "security hub title": asff["Title"],
        "security hub description": asff["Description"].split(" by ")[0],
        "security hub target": " ".join(
            r["Id"] for r in asff["Resources"] if r["ResourceRole"] == "Target"
        ),
    }


def test_a_copy_refused_its_write_is_named_by_its_write_everywhere() -> None:
    """The role may read the source, not write the destination: every alert said the read."""
    found = _copy(_allow((["s3:GetObject", "s3:GetObjectVersion"], "arn:aws:s3:::acme-raw/*")))

    assert found.decision is Verdict.IMPLICIT_DENY
    assert [e.decision for e in found.evaluations] == [Verdict.ALLOWED, Verdict.IMPLICIT_DENY]
    shown = _every_rendering(found)
    for where, line in shown.items():
        assert "PutObject" in line or "acme-reports" in line, where
        assert "GetObjectVersion" not in line and "acme-raw" not in line, where
    assert shown["subject"] == "S3 403 s3:PutObject acme-reports/reports/q1.csv: NO_ALLOW_IDENTITY"
    assert shown["security hub target"] == f"arn:aws:s3:::acme-reports {DESTINATION}"
    text = render_text(found).splitlines()
    assert text[:2] == [
        f"DENIED  s3:PutObject on {DESTINATION}",
        f"  and s3:GetObjectVersion on {SOURCE} (allowed)",
    ]
    markdown = render_markdown(found).splitlines()
    assert markdown[2] == f"- **Also authorised as:** `s3:GetObjectVersion` on `{SOURCE}` (allowed)"


def test_a_copy_refused_its_read_is_named_by_its_read() -> None:
    found = _copy(_allow(("s3:PutObject", "arn:aws:s3:::acme-reports/*")))

    assert subject(found).startswith("S3 403 s3:GetObjectVersion acme-raw/reports/q1 final+draft")
    assert render_text(found).splitlines()[:2] == [
        f"DENIED  s3:GetObjectVersion on {SOURCE}",
        f"  and s3:PutObject on {DESTINATION} (allowed)",
    ]


def test_a_put_refused_its_tagging_header_is_named_s3_put_object_tagging() -> None:
    """PutObject with ACL, tagging and retention headers: all allowed but the tagging."""
    granted = ["s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectRetention"]
    snapshot = _snapshot(
        DEPLOYER, _allow((granted, "arn:aws:s3:::acme-reports/*")), **{"acme-reports": _bucket()}
    )
    request = parse_event(load("bare-record-iamuser-putobject-acl-tagging-lock-headers"))
    found = pipeline.diagnose(request, snapshot)

    assert subject(found).startswith("S3 403 s3:PutObjectTagging acme-reports/exports/report.csv")
    lines = render_text(found).splitlines()
    assert lines[0] == "DENIED  s3:PutObjectTagging on arn:aws:s3:::acme-reports/exports/report.csv"
    assert [line.split(" on ")[0] for line in lines[1:4]] == [
        "  and s3:PutObject",
        "  and s3:PutObjectAcl",
        "  and s3:PutObjectRetention",
    ]
    assert all(line.endswith(" (allowed)") for line in lines[1:4])


def test_a_refused_kms_leg_names_the_operation_it_was_evaluated_for() -> None:
    """A copy into a bucket encrypted with a KMS key the role may not use: the write's KMS
    leg (kms:GenerateDataKey, after the write's own evaluation) is refused, the write named."""
    found = kms_copied({"ContentLength": 10, "ServerSideEncryption": "AES256"})

    assert [(e.action, e.decision) for e in found.evaluations] == [
        ("s3:GetObject", Verdict.ALLOWED),
        ("s3:PutObject", Verdict.ALLOWED),
        ("kms:GenerateDataKey", Verdict.IMPLICIT_DENY),
    ]
    assert (
        subject(found) == "S3 403 s3:PutObject acme-invoices/2025/03/inv-000123.pdf: KMS_IDENTITY"
    )
    assert denied_operation(found).resource_arn == (
        "arn:aws:s3:::acme-invoices/2025/03/inv-000123.pdf"
    )


@pytest.mark.parametrize("verdict", ["allowed", "not modelled"])
def test_a_call_nothing_denied_is_named_by_its_first_operation(verdict: str) -> None:
    """Allowed (a denial not reproduced), or no evaluation at all: the call's first operation."""
    allow_all = _allow((["s3:GetObjectVersion", "s3:PutObject"], "*"))
    found = _copy(allow_all)
    if verdict == "not modelled":
        found = Finding.from_dict(
            {**found.to_dict(), "evaluations": [], "decision": "inconclusive"}
        )
    else:
        assert found.decision is Verdict.ALLOWED
    assert denied_operation(found) is found.request.operations[0]
    assert render_text(found).splitlines()[1] == f"  and s3:PutObject on {DESTINATION}"


def test_a_deny_in_the_destinations_bucket_policy_is_said_to_be_the_destinations() -> None:
    """The destination bucket refuses unencrypted uploads: the cause named the source bucket's
    policy (the request's first bucket) as the one whose Deny matched."""
    deny = {
        "Sid": "DenyUnencrypted",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::acme-reports/*",
        "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
    }
    found = _copy(_allow((["s3:GetObjectVersion", "s3:PutObject"], "*")), destination_policy=deny)

    assert found.decision is Verdict.EXPLICIT_DENY
    assert found.causes[0].message.startswith(
        "A Deny statement in the policy of bucket acme-reports matches s3:PutObject on "
        f"{DESTINATION}."
    )


def test_a_cross_account_copy_refused_its_write_is_fixed_in_the_destinations_policy() -> None:
    """A role of another account may read the source (its bucket policy grants it), not write
    the destination: the cause and the fix named the source bucket's policy, and that fix,
    which lifts nothing, was offered unverified."""
    role = "arn:aws:iam::444455556666:role/reporting-role"
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": role},
        "Action": "s3:GetObjectVersion",
        "Resource": "arn:aws:s3:::acme-raw/*",
    }
    found = _copy([], source_policy=grant, account="444455556666")

    assert found.request.principal.principal_arn == role
    assert [(e.action, e.decision) for e in found.evaluations][1:] == [
        ("s3:PutObject", Verdict.IMPLICIT_DENY)
    ]
    assert found.causes[-1].message.startswith(
        f"No statement of the policy of bucket acme-reports grants s3:PutObject on {DESTINATION}"
    )
    grants = [r for r in found.remedies if r.target.startswith("bucket-policy:")]
    assert grants and all(r.target == "bucket-policy:acme-reports" for r in grants)
    assert grants[0].verified


def test_a_fix_for_a_copys_write_that_opens_every_bucket_is_not_offered() -> None:
    """The write's Allow covers every bucket's objects under a tag condition: adding the copy's
    tag to it opens that write everywhere. A PUT dropped that fix; a copy offered it (verified,
    "it opens the tag only"), its other-bucket probe being its read's action alone."""
    statements = _allow((["s3:GetObject", "s3:GetObjectVersion"], "arn:aws:s3:::acme-raw/*"))
    statements.append(
        {
            "Sid": "PublicUploads",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectTagging"],
            "Resource": "arn:aws:s3:::*/*",
            "Condition": {"StringEquals": {"s3:RequestObjectTag/class": "public"}},
        }
    )
    snapshot = _snapshot(
        REPORTING,
        statements,
        **{"acme-raw": _bucket("reports/q1 final+draft.csv"), "acme-reports": _bucket()},
    )
    event = load("copyobject-versioned-source-url-encoded")
    tagged = {"x-amz-tagging": "class=secret", "x-amz-tagging-directive": "REPLACE"}
    event["detail"]["requestParameters"].update(tagged)
    copied = pipeline.diagnose(parse_event(event), snapshot)
    event["detail"]["eventName"] = "PutObject"
    del event["detail"]["requestParameters"]["x-amz-copy-source"]
    put = pipeline.diagnose(parse_event(event), snapshot)

    assert [e.action for e in copied.evaluations][1:] == [e.action for e in put.evaluations]
    assert all(e.decision is Verdict.IMPLICIT_DENY for e in put.evaluations)
    assert (
        [r.code for r in copied.remedies] == [r.code for r in put.remedies] == ["COMPLY_WITH_DENY"]
    )


def test_a_copy_into_a_bucket_the_snapshot_leaves_out_says_it_may_be_another_accounts() -> None:
    """Both parts allowed, the destination not in the snapshot: the explanations looked at the
    source bucket alone, and left out the likeliest one (another account's bucket)."""
    statements = _allow((["s3:GetObjectVersion", "s3:PutObject"], "*"))
    snapshot = _snapshot(
        REPORTING, statements, **{"acme-raw": _bucket("reports/q1 final+draft.csv")}
    )
    found = pipeline.diagnose(
        parse_event(load("copyobject-versioned-source-url-encoded")), snapshot
    )

    assert found.decision is Verdict.ALLOWED
    message = found.causes[0].message
    assert message.startswith(
        f"With the policies read now, s3:GetObjectVersion on {SOURCE} is allowed."
        f" So is the call's s3:PutObject on {DESTINATION}. Possible explanations: bucket "
        "acme-reports is not in the snapshot"
    )


def test_a_copy_refused_both_parts_marks_neither_allowed() -> None:
    found = _copy([])

    assert [e.decision for e in found.evaluations] == [Verdict.IMPLICIT_DENY] * 2
    assert render_text(found).splitlines()[:2] == [
        f"DENIED  s3:GetObjectVersion on {SOURCE}",
        f"  and s3:PutObject on {DESTINATION}",
    ]


def test_a_put_whose_every_header_is_allowed_says_so_of_each() -> None:
    """Not reproduced: the explanation named the PUT alone, as if its headers went unchecked."""
    granted = ["s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectRetention", "s3:PutObjectTagging"]
    snapshot = _snapshot(
        DEPLOYER, _allow((granted, "arn:aws:s3:::acme-reports/*")), **{"acme-reports": _bucket()}
    )
    request = parse_event(load("bare-record-iamuser-putobject-acl-tagging-lock-headers"))
    found = pipeline.diagnose(request, snapshot)

    assert found.decision is Verdict.ALLOWED
    resource = "arn:aws:s3:::acme-reports/exports/report.csv"
    assert found.causes[0].message.startswith(
        f"With the policies read now, s3:PutObject on {resource} is allowed. So are the call's "
        f"s3:PutObjectAcl on {resource}, s3:PutObjectTagging on {resource}, "
        f"s3:PutObjectRetention on {resource}. Possible explanations: "
    )


def test_the_other_operations_of_a_hostile_key_stay_data_in_every_rendering() -> None:
    """The sentence naming the call's other operations quotes their resources, whose key an
    outsider wrote (escapes, line breaks, markup, mentions, bidi controls)."""
    granted = ["s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectRetention", "s3:PutObjectTagging"]
    snapshot = _snapshot(
        DEPLOYER, _allow((granted, "arn:aws:s3:::acme-reports/*")), **{"acme-reports": _bucket()}
    )
    text = json.dumps(load("bare-record-iamuser-putobject-acl-tagging-lock-headers"))
    key = f"exports/{HOSTILE}"
    event = json.loads(text.replace("exports/report.csv", json.dumps(key)[1:-1]))
    found = pipeline.diagnose(parse_event(event), snapshot)

    assert found.decision is Verdict.ALLOWED
    assert f"So are the call's s3:PutObjectAcl on arn:aws:s3:::acme-reports/{key}" in (
        found.causes[0].message
    )
    assert_inert_in_every_rendering(found)
