"""Plain-language near-miss reasons: each names the element, the value, and what was needed."""

from __future__ import annotations

import pytest

from chalicelib.diagnose.wording import (
    MissKind,
    action_why,
    condition_why,
    principal_why,
    resource_why,
)
from chalicelib.model import ConditionFailure, PrincipalType
from tests.unit.diagnose.diagnose_builders import principal

ROLE = "arn:aws:iam::111122223333:role/service-role/app-role"
SESSION = "arn:aws:sts::111122223333:assumed-role/app-role/i-0abc"


@pytest.mark.parametrize(
    ("pattern", "action", "fragment"),
    [
        ("s3:GetBucketEncryption", "s3:GetEncryptionConfiguration", "API operation's name"),
        ("s3:ListObjectsV2", "s3:ListBucket", "API operation's name"),
        ("s3:GetObject", "s3:GetObjectVersion", "does not cover versions"),
        ("s3express:GetObject", "s3:GetObject", "is in service s3express"),
        ("s3:GetObjcet", "s3:GetObject", "misspelled"),
    ],
)
def test_action_near_misses_say_what_the_request_needs(
    pattern: str, action: str, fragment: str
) -> None:
    why = action_why((pattern,), action)
    assert why is not None and why.kind is MissKind.ACTION_NAME
    assert fragment in why.text and action in why.text


def test_an_unrelated_action_is_not_a_near_miss() -> None:
    assert action_why(("s3:PutObject",), "s3:GetObject") is None


@pytest.mark.parametrize(
    ("pattern", "resource", "kind", "fragment"),
    [
        ("arn:aws:s3:::b", "arn:aws:s3:::b/k", MissKind.RESOURCE_FORM, "arn:aws:s3:::b/*"),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b", MissKind.RESOURCE_FORM, "bucket action"),
        ("arn:aws:s3:::b/reports/*", "arn:aws:s3:::b/data/x", MissKind.WRONG_PREFIX, "'data/x'"),
        ("arn:aws:s3:::other/*", "arn:aws:s3:::b/k", MissKind.WRONG_BUCKET, "'other'"),
    ],
)
def test_resource_near_misses(pattern: str, resource: str, kind: MissKind, fragment: str) -> None:
    why = resource_why((pattern,), resource)
    assert why is not None and why.kind is kind and fragment in why.text


def test_account_principal_is_delegation_for_users_but_not_for_root() -> None:
    entries = ("arn:aws:iam::111122223333:root",)
    why = principal_why(entries, principal())
    root = principal("arn:aws:iam::111122223333:root", kind=PrincipalType.ROOT)
    assert why is not None and why.kind is MissKind.ROOT_DELEGATION
    assert "identity-policy" in why.text
    assert principal_why(entries, root) is None


def test_session_arn_and_role_without_path_are_named_for_a_role_session() -> None:
    who = principal(ROLE, kind=PrincipalType.ASSUMED_ROLE, requester=SESSION)
    old = principal_why(("arn:aws:sts::111122223333:assumed-role/app-role/old",), who)
    bare = principal_why(("arn:aws:iam::111122223333:role/app-role",), who)
    assert old is not None and old.kind is MissKind.SESSION_ARN and ROLE in old.text
    assert bare is not None and bare.kind is MissKind.ROLE_PATH and ROLE in bare.text


def test_principal_arn_condition_without_path_is_a_role_path_miss() -> None:
    who = principal(ROLE, kind=PrincipalType.ROLE)
    failure = ConditionFailure(
        key="aws:PrincipalArn",
        operator="ArnLike",
        expected=("arn:aws:iam::111122223333:role/app-role",),
        actual=(ROLE,),
    )
    why = condition_why(failure, who)
    assert why.kind is MissKind.ROLE_PATH


def test_other_condition_misses_show_both_sides() -> None:
    failure = ConditionFailure(
        key="aws:SourceVpce", operator="StringEquals", expected=("vpce-1",), actual=None
    )
    why = condition_why(failure, principal())
    assert why.kind is MissKind.CONDITION
    assert why.text == (
        "Condition aws:SourceVpce StringEquals expects [vpce-1], the request does not carry the key"
    )
