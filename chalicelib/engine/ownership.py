"""S3 Object Ownership: whether ACLs count, who owns an object, and the foreign-object rule.

Pure: standard library and `chalicelib` core modules only (no boto3, botocore or chalice).

https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html
- BucketOwnerEnforced: ACLs are disabled (ignored for authorization); the bucket owner owns
  every object.
- BucketOwnerPreferred / ObjectWriter: ACLs are enabled; an object belongs to the account that
  uploaded it (under BucketOwnerPreferred, to the bucket owner when the upload carried
  `bucket-owner-full-control`). Either way the object ACL's `Owner.ID` says who owns it.
- No ownership controls at all (`GetBucketOwnershipControls` answers
  OwnershipControlsNotFoundError): buckets created before April 2023 behave as ObjectWriter.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-auth-workflow-object-operation.html
When the object owner is not the bucket owner, the bucket policy's Allow statements do not
apply to the object (its Deny statements still do): only the object ACL can grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from ..lean_dataclass import dataclass
from ..model import InputError, Outcome
from .acl import Acl, AclGrantMatch, acl_grants


class ObjectOwnership(StrEnum):
    BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
    BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
    OBJECT_WRITER = "ObjectWriter"


def object_ownership(
    ownership_controls: Mapping[str, Any] | None, *, field: str = "ownership_controls"
) -> ObjectOwnership:
    """The Object Ownership setting of a bucket; None (not configured) means ObjectWriter.

    Accepts the `OwnershipControls` part (`{"Rules": [{"ObjectOwnership": …}]}`) or the whole
    `get-bucket-ownership-controls` output around it.
    """
    if ownership_controls is None:
        return ObjectOwnership.OBJECT_WRITER
    if not isinstance(ownership_controls, Mapping):
        raise InputError(field, "must be an object with Rules")
    controls = ownership_controls
    if "OwnershipControls" in controls:
        field = f"{field}.OwnershipControls"
        controls = controls["OwnershipControls"]
        if not isinstance(controls, Mapping):
            raise InputError(field, "must be an object with Rules")
    rules = controls.get("Rules")
    if not isinstance(rules, list) or not rules:
        raise InputError(f"{field}.Rules", "must be a non-empty list")
    rule = rules[0]
    value = rule.get("ObjectOwnership") if isinstance(rule, Mapping) else None
    try:
        return ObjectOwnership(str(value))
    except ValueError:
        allowed = ", ".join(o.value for o in ObjectOwnership)
        raise InputError(
            f"{field}.Rules[0].ObjectOwnership", f"{value!r} is not one of {allowed}"
        ) from None


def acls_enabled(ownership_controls: Mapping[str, Any] | None) -> bool:
    """False only under BucketOwnerEnforced, where S3 ignores every ACL for authorization."""
    return object_ownership(ownership_controls) is not ObjectOwnership.BUCKET_OWNER_ENFORCED


def object_owned_by_bucket_owner(
    *,
    object_owner_id: str | None,
    bucket_owner_id: str,
    ownership_controls: Mapping[str, Any] | None,
) -> bool | None:
    """Whether the bucket owner owns the object; None when the object owner is unknown.

    Under BucketOwnerEnforced the bucket owner owns every object, whatever its old ACL says.
    """
    if object_ownership(ownership_controls) is ObjectOwnership.BUCKET_OWNER_ENFORCED:
        return True
    if object_owner_id is None:
        return None
    return object_owner_id == bucket_owner_id


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnershipCheck:
    """The object-ownership layer of one object request.

    `outcome` is NOT_APPLICABLE when the bucket owner owns the object, ALLOW when another
    account owns it and its object ACL grants the action, IMPLICIT_DENY when it does not,
    UNKNOWN when the object owner could not be read. `bucket_policy_allows_apply` is False
    for objects owned by another account: the engine must then ignore bucket-policy Allows.
    """

    outcome: Outcome
    ownership: ObjectOwnership
    bucket_owner_id: str
    object_owner_id: str | None
    bucket_policy_allows_apply: bool
    grants: tuple[AclGrantMatch, ...] = ()
    reason: str


def check_object_ownership(
    *,
    object_acl: Acl | None,
    bucket_owner_id: str,
    ownership_controls: Mapping[str, Any] | None,
    action: str,
    requester_canonical_id: str | None,
    authenticated: bool = True,
    ignore_public: bool = False,
) -> OwnershipCheck:
    """Apply "objects owned by another account: only the object ACL can grant".

    `object_acl` is the object's `get-object-acl` output (None when it could not be read);
    `requester_canonical_id` the canonical id of the requester's account;
    `ignore_public` is the effective BPA IgnorePublicAcls.
    """
    ownership = object_ownership(ownership_controls)
    object_owner = object_acl.owner_id if object_acl is not None else None
    owned = object_owned_by_bucket_owner(
        object_owner_id=object_owner,
        bucket_owner_id=bucket_owner_id,
        ownership_controls=ownership_controls,
    )
    if owned is None:
        return OwnershipCheck(
            outcome=Outcome.UNKNOWN,
            ownership=ownership,
            bucket_owner_id=bucket_owner_id,
            object_owner_id=None,
            bucket_policy_allows_apply=True,
            reason="the object's owner could not be read (get-object-acl)",
        )
    if owned:
        why = (
            "Object Ownership is BucketOwnerEnforced: the bucket owner owns every object"
            if ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED
            else "the bucket owner owns the object"
        )
        return OwnershipCheck(
            outcome=Outcome.NOT_APPLICABLE,
            ownership=ownership,
            bucket_owner_id=bucket_owner_id,
            object_owner_id=object_owner,
            bucket_policy_allows_apply=True,
            reason=why,
        )
    assert object_acl is not None  # owned is False only when the ACL was read
    matches = acl_grants(
        object_acl,
        action=action,
        on_object=True,
        grantee_canonical_id=requester_canonical_id,
        authenticated=authenticated,
        ignore_public=ignore_public,
    )
    owner_text = f"the object is owned by another account (canonical id {object_owner})"
    if matches:
        reason = f"{owner_text}; its ACL grants {action} ({matches[0].describe()})"
        outcome = Outcome.ALLOW
    else:
        reason = (
            f"{owner_text}, so bucket-policy Allows do not apply, and its object ACL does not "
            f"grant {action} to the requester's account"
        )
        outcome = Outcome.IMPLICIT_DENY
    return OwnershipCheck(
        outcome=outcome,
        ownership=ownership,
        bucket_owner_id=bucket_owner_id,
        object_owner_id=object_owner,
        bucket_policy_allows_apply=False,
        grants=matches,
        reason=reason,
    )
