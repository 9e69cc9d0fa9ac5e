"""Object Ownership settings and the "object owned by another account" rule.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html
https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-auth-workflow-object-operation.html
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.engine.acl import ALL_USERS, Acl, AclGrant, Permission, canonical_user, group
from chalicelib.engine.ownership import (
    ObjectOwnership,
    acls_enabled,
    check_object_ownership,
    object_owned_by_bucket_owner,
    object_ownership,
)
from chalicelib.model import InputError, Outcome

BUCKET_OWNER = "bucket-owner-canonical-id"
WRITER = "writer-account-canonical-id"


def _controls(value: str) -> dict[str, Any]:
    return {"Rules": [{"ObjectOwnership": value}]}


def _object_acl(owner: str, *grants: tuple[Any, Permission]) -> Acl:
    return Acl(
        owner_id=owner,
        grants=(
            AclGrant(grantee=canonical_user(owner), permission=Permission.FULL_CONTROL),
            *(AclGrant(grantee=g, permission=p) for g, p in grants),
        ),
    )


@pytest.mark.parametrize(
    ("controls", "ownership", "enabled"),
    [
        pytest.param(None, ObjectOwnership.OBJECT_WRITER, True, id="not-configured"),
        pytest.param(
            _controls("BucketOwnerEnforced"),
            ObjectOwnership.BUCKET_OWNER_ENFORCED,
            False,
            id="bucket-owner-enforced",
        ),
        pytest.param(
            _controls("BucketOwnerPreferred"),
            ObjectOwnership.BUCKET_OWNER_PREFERRED,
            True,
            id="bucket-owner-preferred",
        ),
        pytest.param(
            _controls("ObjectWriter"), ObjectOwnership.OBJECT_WRITER, True, id="object-writer"
        ),
        pytest.param(
            {"OwnershipControls": _controls("BucketOwnerEnforced")},
            ObjectOwnership.BUCKET_OWNER_ENFORCED,
            False,
            id="whole-cli-output",
        ),
    ],
)
def test_object_ownership_and_acls_enabled(
    controls: dict[str, Any] | None, ownership: ObjectOwnership, enabled: bool
) -> None:
    assert object_ownership(controls) is ownership
    assert acls_enabled(controls) is enabled


@pytest.mark.parametrize(
    ("controls", "field"),
    [
        pytest.param({"Rules": []}, "ownership_controls.Rules", id="no-rules"),
        pytest.param({}, "ownership_controls.Rules", id="rules-missing"),
        pytest.param(
            _controls("BucketOwner"),
            "ownership_controls.Rules[0].ObjectOwnership",
            id="unknown-value",
        ),
        pytest.param(
            {"OwnershipControls": {"Rules": [{}]}},
            "ownership_controls.OwnershipControls.Rules[0].ObjectOwnership",
            id="wrapped-rule-without-value",
        ),
    ],
)
def test_object_ownership_malformed_names_the_field(controls: Any, field: str) -> None:
    with pytest.raises(InputError) as error:
        object_ownership(controls)
    assert error.value.field_path == field


@pytest.mark.parametrize(
    ("object_owner", "controls", "expected"),
    [
        pytest.param(BUCKET_OWNER, None, True, id="bucket-owner-wrote-it"),
        pytest.param(WRITER, None, False, id="other-account-wrote-it"),
        pytest.param(WRITER, _controls("BucketOwnerPreferred"), False, id="preferred-no-bofc"),
        pytest.param(
            WRITER, _controls("BucketOwnerEnforced"), True, id="enforced-overrides-old-owner"
        ),
        pytest.param(None, None, None, id="owner-unknown"),
        pytest.param(None, _controls("BucketOwnerEnforced"), True, id="enforced-owner-unknown"),
    ],
)
def test_object_owned_by_bucket_owner(
    object_owner: str | None, controls: dict[str, Any] | None, expected: bool | None
) -> None:
    owned = object_owned_by_bucket_owner(
        object_owner_id=object_owner, bucket_owner_id=BUCKET_OWNER, ownership_controls=controls
    )
    assert owned is expected


def _check(acl: Acl | None, controls: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return check_object_ownership(
        object_acl=acl,
        bucket_owner_id=BUCKET_OWNER,
        ownership_controls=controls,
        action=kwargs.pop("action", "s3:GetObject"),
        requester_canonical_id=BUCKET_OWNER,
        **kwargs,
    )


def test_object_of_the_bucket_owner_is_not_an_ownership_problem() -> None:
    check = _check(_object_acl(BUCKET_OWNER))
    assert check.outcome is Outcome.NOT_APPLICABLE
    assert check.bucket_policy_allows_apply


def test_foreign_object_without_acl_grant_denies_and_voids_bucket_policy_allows() -> None:
    # GIVEN an object another account uploaded without bucket-owner-full-control
    check = _check(_object_acl(WRITER))
    # THEN a bucket-owner-account requester is denied: bucket-policy Allows do not apply
    assert check.outcome is Outcome.IMPLICIT_DENY
    assert not check.bucket_policy_allows_apply
    assert check.object_owner_id == WRITER
    assert "bucket-policy Allows do not apply" in check.reason


def test_foreign_object_with_acl_grant_to_bucket_owner_allows() -> None:
    check = _check(_object_acl(WRITER, (canonical_user(BUCKET_OWNER), Permission.READ)))
    assert check.outcome is Outcome.ALLOW
    assert [g.index for g in check.grants] == [1]
    assert not check.bucket_policy_allows_apply


def test_foreign_object_acl_grant_must_cover_the_action() -> None:
    acl = _object_acl(WRITER, (canonical_user(BUCKET_OWNER), Permission.READ))
    assert _check(acl, action="s3:PutObjectAcl").outcome is Outcome.IMPLICIT_DENY


def test_foreign_object_public_read_grant_is_dropped_under_ignore_public_acls() -> None:
    acl = _object_acl(WRITER, (group(ALL_USERS), Permission.READ))
    assert _check(acl).outcome is Outcome.ALLOW
    assert _check(acl, ignore_public=True).outcome is Outcome.IMPLICIT_DENY


def test_foreign_object_under_bucket_owner_enforced_belongs_to_bucket_owner() -> None:
    check = _check(_object_acl(WRITER), _controls("BucketOwnerEnforced"))
    assert check.outcome is Outcome.NOT_APPLICABLE
    assert check.bucket_policy_allows_apply
    assert "BucketOwnerEnforced" in check.reason


def test_unreadable_object_acl_is_unknown_not_absent() -> None:
    check = _check(None)
    assert check.outcome is Outcome.UNKNOWN
    assert check.object_owner_id is None
