"""The operation an alert names: a call that S3 authorises as several operations (a copy reads
its source and writes its destination, a PUT with a tagging header is also s3:PutObjectTagging)
is named, in the subject, the chat title and body, the headings and Security Hub, by the one
that was denied, not by its first."""

from __future__ import annotations

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
from tests.unit.engine.test_kms_copy_source import copied as kms_copied
from tests.unit.events.eventdata import load

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
OWNER = {"ID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}
OBJECT = {
    "acl": {"Grants": [], "Owner": OWNER},
    "head": {"ContentLength": 10, "ServerSideEncryption": "AES256"},
}


def _bucket(*keys: str) -> dict[str, Any]:
    return {"owner": OWNER, "objects": dict.fromkeys(keys, OBJECT)}


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


def _copy(statements: list[dict[str, Any]]) -> Finding:
    """The logged CopyObject of `acme-raw/reports/q1 final+draft.csv` (a version) to
    `acme-reports/reports/q1.csv` by reporting-role, against its `statements`."""
    snapshot = _snapshot(
        REPORTING,
        statements,
        **{"acme-raw": _bucket("reports/q1 final+draft.csv"), "acme-reports": _bucket()},
    )
    request = parse_event(load("copyobject-versioned-source-url-encoded"))
    return pipeline.diagnose(request, snapshot)


def _every_rendering(finding: Finding) -> dict[str, str]:
    chat = render_chatbot(finding)["content"]
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
        f"  and s3:GetObjectVersion on {SOURCE}",
    ]


def test_a_copy_refused_its_read_is_named_by_its_read() -> None:
    found = _copy(_allow(("s3:PutObject", "arn:aws:s3:::acme-reports/*")))

    assert subject(found).startswith("S3 403 s3:GetObjectVersion acme-raw/reports/q1 final+draft")
    assert render_text(found).splitlines()[:2] == [
        f"DENIED  s3:GetObjectVersion on {SOURCE}",
        f"  and s3:PutObject on {DESTINATION}",
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
