"""An object's tags are `s3:ExistingObjectTag/<key>` of the requests on it whose action carries
the key (GetObject, GetObjectAcl, PutObjectTagging...: Service Authorization Reference), as in
AWS's request context. Nothing collected them: a tag grant ("read what is classified public")
let nobody in, and a tag Deny ("never read what is confidential") denied nobody."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.engine import decide
from chalicelib.engine.resolve import FROM_OBJECT_TAGS
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering

from .runbook_documents import batch_decisions, object_read, read_statement

ACCOUNT = "111122223333"
BUCKET = "records"
KEY = "reports/q1.csv"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
PUBLIC_ONLY = read_statement(
    "Allow",
    BUCKET,
    Condition={"StringEquals": {"s3:ExistingObjectTag/classification": "public"}},
)
NEVER_CONFIDENTIAL = read_statement(
    "Deny",
    BUCKET,
    Principal="*",
    Condition={"StringEquals": {"s3:ExistingObjectTag/classification": "confidential"}},
)


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _snapshot(
    *bucket_statements: dict[str, Any],
    identity: tuple[dict[str, Any], ...] = (PUBLIC_ONLY,),
    tags: Any = "public",
    objects: dict[str, Any] | None = None,
) -> Any:
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE000000000000",
        "Arn": ALICE,
        "Path": "/",
        "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": _policy(*identity)}],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }
    if isinstance(tags, str):
        tags = [{"Key": "classification", "Value": tags}]
    entry: dict[str, Any] = {"head": {"ContentLength": 10}}
    if tags is not None:
        entry["tags"] = tags
    bucket: dict[str, Any] = {"objects": objects or {KEY: entry}}
    if bucket_statements:
        bucket["policy"] = _policy(*bucket_statements)
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": {BUCKET: bucket}},
        }
    )


def _read(**more: Any) -> Any:
    return request_from_runbook(object_read(ALICE, BUCKET, **more))


def _values(request: Any, name: str) -> list[tuple[tuple[str, ...], str]]:
    return [(e.values, e.source) for e in request.context if e.name.lower() == name.lower()]


def test_a_grant_on_the_objects_tag_lets_in_what_it_tags_and_nothing_else() -> None:
    finding = pipeline.diagnose(_read(), _snapshot())

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert decide(_read(), _snapshot()).decision is Verdict.ALLOWED
    assert _values(finding.request, "s3:ExistingObjectTag/classification") == [
        (("public",), FROM_OBJECT_TAGS)
    ]
    for other in ("internal", []):
        assert decide(_read(), _snapshot(tags=other)).decision is Verdict.IMPLICIT_DENY, other


def test_a_deny_on_the_objects_tag_refuses_what_it_tags() -> None:
    snapshot = _snapshot(NEVER_CONFIDENTIAL, identity=(read_statement("Allow", BUCKET),))

    assert decide(_read(), snapshot).decision is Verdict.ALLOWED
    confidential = _snapshot(
        NEVER_CONFIDENTIAL, identity=(read_statement("Allow", BUCKET),), tags="confidential"
    )
    finding = pipeline.diagnose(_read(), confidential)
    assert finding.decision is Verdict.EXPLICIT_DENY
    [cause] = finding.causes
    assert cause.statement is not None and cause.statement.policy == f"bucket-policy:{BUCKET}"


def test_an_action_that_does_not_carry_the_key_gets_no_tags() -> None:
    """PutObject replaces the object: the reference lists no s3:ExistingObjectTag for it."""
    put = request_from_runbook(
        {
            "requester_arn": ALICE,
            "action": "s3:PutObject",
            "resource_arn": f"arn:aws:s3:::{BUCKET}/{KEY}",
        }
    )

    finding = pipeline.diagnose(put, _snapshot())

    assert _values(finding.request, "s3:ExistingObjectTag/classification") == []


@pytest.mark.parametrize(
    ("tags", "said"),
    [
        (
            {"$unreadable": "AccessDenied", "needs": "s3:GetObjectTagging"},
            f"the tags of s3://{BUCKET}/{KEY} could not be read (AccessDenied; needs "
            "s3:GetObjectTagging)",
        ),
        (None, f"the tags of s3://{BUCKET}/{KEY} were not collected (needs s3:GetObjectTagging)"),
    ],
)
def test_tags_not_read_while_a_policy_tests_them_are_said_not_checked(tags: Any, said: str) -> None:
    finding = pipeline.diagnose(_read(), _snapshot(tags=tags))

    assert finding.decision is Verdict.IMPLICIT_DENY
    [note] = [n for n in finding.request.notes if n.startswith("s3:ExistingObjectTag")]
    assert note == f"s3:ExistingObjectTag/<key> not checked: {said}."
    quiet = pipeline.diagnose(
        _read(), _snapshot(identity=(read_statement("Allow", BUCKET),), tags=tags)
    )
    assert not [n for n in quiet.request.notes if n.startswith("s3:ExistingObjectTag")]


def test_a_hostile_tag_value_is_data() -> None:
    """A tag value is whoever tagged the object's text: `*` or a policy variable in it matches
    only itself, and it stays inert in every rendering."""
    value = "public\n\n<!channel> [x](https://evil.example) $(id) \x1b]52;c;*"
    snapshot = _snapshot(NEVER_CONFIDENTIAL, identity=(PUBLIC_ONLY,), tags=value)

    finding = pipeline.diagnose(_read(), snapshot)

    assert finding.decision is Verdict.IMPLICIT_DENY
    assert _values(finding.request, "s3:ExistingObjectTag/classification") == [
        ((value,), FROM_OBJECT_TAGS)
    ]
    assert_inert_in_every_rendering(finding)


def test_batch_lines_on_objects_with_different_tags_get_each_objects_tags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = {f"reports/q{i}.csv": ("public" if i % 3 else "internal") for i in range(6)}
    objects = {
        key: {"head": {"ContentLength": 10}, "tags": [{"Key": "classification", "Value": tag}]}
        for key, tag in keys.items()
    }
    snapshot = _snapshot(objects=objects)
    documents = [
        object_read(ALICE, BUCKET, resource_arn=f"arn:aws:s3:::{BUCKET}/{key}") for key in keys
    ]

    decisions = batch_decisions(tmp_path, capsys, snapshot.document, documents, "decision")

    expected = ["allowed" if tag == "public" else "implicit-deny" for tag in keys.values()]
    assert [
        pipeline.diagnose(request_from_runbook(d), snapshot).decision.value for d in documents
    ] == expected
    assert decisions == expected


def test_the_fix_of_a_tag_grant_says_to_tag_the_object_not_to_send_the_tag() -> None:
    finding = pipeline.diagnose(_read(), _snapshot(tags="internal"))

    advice = [r for r in finding.remedies if r.code == "COMPLY_WITH_DENY"]
    assert advice, [r.summary for r in finding.remedies]
    [fix] = advice
    assert "Tag the object so that s3:ExistingObjectTag/classification is public" in fix.summary
    assert fix.patch is None and fix.verified is False
