"""A KMS ABAC grant that misses because the key lacks the tag gets the fix "tag the key"
(TagResource), verified on the patched snapshot like every fix: on S3's call to KMS,
`aws:ResourceTag/<tag>` is the key's own tag. Only for a condition one literal value meets,
on a key whose tags were read."""

from __future__ import annotations

import copy
import json
import shlex
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.patches import apply_patch, apply_patch_shared
from chalicelib.model import InputError, Verdict
from tests.unit.engine.casefile import request_from_case
from tests.unit.engine.test_kms_key_tags import KEY, _case


def _finding(case: dict[str, Any]) -> Any:
    return pipeline.diagnose(request_from_case(case["request"]), case["snapshot"])


def _with_condition(case: dict[str, Any], condition: dict[str, Any]) -> None:
    """alice's kms:Decrypt grant under `condition` instead."""
    [alice] = case["snapshot"]["iam"]["UserDetailList"]
    statements = alice["UserPolicyList"][0]["PolicyDocument"]["Statement"]
    [decrypt] = [s for s in statements if s["Action"] == "kms:Decrypt"]
    decrypt["Condition"] = condition


def _fixes(finding: Any) -> list[Any]:
    return [r for r in finding.remedies if r.code == "TAG_KMS_KEY"]


@pytest.mark.parametrize("tags", [[{"TagKey": "team", "TagValue": "web"}], []])
def test_a_key_without_the_tag_the_grant_expects_gets_tagged(tags: list[Any]) -> None:
    case = _case(tags)

    finding = _finding(case)

    assert finding.decision is Verdict.IMPLICIT_DENY
    [fix] = _fixes(finding)
    assert fix.verified is True
    assert fix.patch == {"kind": "key-tag", "key": KEY, "tag": "team", "value": "data"}
    assert shlex.split(fix.cli) == [
        "aws", "kms", "tag-resource", "--key-id", KEY,
        "--tags", '[{"TagKey": "team", "TagValue": "data"}]',
    ]  # fmt: skip
    assert ("it has team = [web]" in fix.summary) is bool(tags)
    patched = apply_patch(case["snapshot"], fix.patch)
    assert _finding({**case, "snapshot": patched}).decision is Verdict.ALLOWED


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"$unreadable": "AccessDenied", "needs": "kms:ListResourceTags"}, "data"),
        ([], "da*"),
        ([], "${aws:PrincipalTag/team}"),
    ],
    ids=["tags-unread", "pattern", "policy-variable"],
)
def test_no_tag_fix_without_read_tags_or_one_literal_value(tags: Any, expected: str) -> None:
    case = _case(tags)
    _with_condition(case, {"StringLike": {"aws:ResourceTag/team": expected}})

    assert _fixes(_finding(case)) == []


def test_the_patch_applies_alike_shared_or_copied_and_refuses_a_key_without_read_tags() -> None:
    case = _case([{"TagKey": "team", "TagValue": "web"}, {"TagKey": "env", "TagValue": "prod"}])
    doc = case["snapshot"]
    before = copy.deepcopy(doc)
    patch = {"kind": "key-tag", "key": KEY, "tag": "team", "value": "data"}

    copied, shared = apply_patch(doc, patch), apply_patch_shared(doc, patch)

    assert copied == shared
    assert copied["kms"]["keys"][KEY]["tags"] == [
        {"TagKey": "env", "TagValue": "prod"},
        {"TagKey": "team", "TagValue": "data"},
    ]
    assert doc == before
    unread = _case({"$unreadable": "AccessDenied"})["snapshot"]
    for apply in (apply_patch, apply_patch_shared):
        with pytest.raises(InputError):
            apply(unread, patch)


@pytest.mark.parametrize("value", ["x'; touch PWNED; echo '", "a b\\c", "--debug"])
def test_a_hostile_tag_value_is_one_quoted_argument(value: str) -> None:
    """The value comes from a policy (an admin's text): the command quotes it as data."""
    case = _case([])
    _with_condition(case, {"StringEquals": {"aws:ResourceTag/team": value}})

    [fix] = _fixes(_finding(case))

    argv = shlex.split(fix.cli)
    assert argv[:5] == ["aws", "kms", "tag-resource", "--key-id", KEY]
    assert json.loads(argv[6]) == [{"TagKey": "team", "TagValue": value}]


def test_a_control_character_in_the_value_is_escaped_json_in_the_command() -> None:
    """The tags argument is JSON: an escape sequence in the value is written \\u001b, so the
    command is safe to show and carries the exact value."""
    value = "da\x1b]52;c;ta"
    case = _case([])
    _with_condition(case, {"StringEquals": {"aws:ResourceTag/team": value}})

    [fix] = _fixes(_finding(case))

    assert fix.cli is not None and "\x1b" not in fix.cli
    assert json.loads(shlex.split(fix.cli)[6]) == [{"TagKey": "team", "TagValue": value}]
