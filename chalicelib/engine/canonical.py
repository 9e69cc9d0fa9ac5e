"""The canonical user id of a requester's account, which S3 ACL grants name.

An ACL grants to an account by its canonical user id (an e-mail grantee is stored by S3 as the
canonical id it resolves to); the id is `ListBuckets`' `Owner.ID` in that account
(https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-identifiers.html). The
snapshot's own account's id is its buckets' `owner.ID`; another account's is its side's
`canonical_id`. When that could not be read, or the snapshot has no side for the account, an
ACL grant to a canonical user other than the bucket owner may be to the requester's account:
`undecided_grants` names those. Pure: no boto3.
"""

from __future__ import annotations

from ..model import Layer, Principal, PrincipalType, Unchecked
from ..snapshot import NOT_COLLECTED, Snapshot, Unreadable
from .acl import Acl, AclGrantMatch, GranteeType, acl_grants
from .evidence import unchecked_for


def requester_canonical_id(
    principal: Principal, snapshot: Snapshot, bucket_owner: str | None
) -> str | Unreadable | None:
    """The canonical user id of the requester's account, as ACL grants and a `CanonicalUser`
    bucket-policy principal name it: the bucket owner's (`bucket_owner`) for the snapshot's own
    account, else the side's (`accounts.<id>.canonical_id`). Unreadable when that could not be
    read or the snapshot has no side for the account (not collected: a grant to another
    canonical user may be the requester's); None for a requester of no account (anonymous, an
    AWS service), which no such grant names."""
    account_id = principal.account_id
    if not account_id or principal.type in (PrincipalType.ANONYMOUS, PrincipalType.AWS_SERVICE):
        return None
    if account_id == snapshot.account_id:
        return bucket_owner
    side = snapshot.side(account_id)
    if side is None:
        return Unreadable(
            code=NOT_COLLECTED,
            needs=f"s3:ListAllMyBuckets in account {account_id}",
            where=f"accounts.{account_id}",
        )
    return side if isinstance(side, Unreadable) else side.canonical_id


def undecided_grants(
    acl: Acl, *, action: str, on_object: bool, bucket_owner: str | None
) -> tuple[AclGrantMatch, ...]:
    """The grants of `acl` to a canonical user other than `bucket_owner` that would authorise
    `action`: whether they are the requester's is unknown while its canonical id is."""
    ids = {
        grant.grantee.id
        for grant in acl.grants
        if grant.grantee.type is GranteeType.CANONICAL_USER
        and grant.grantee.id
        and grant.grantee.id != bucket_owner
    }
    found: list[AclGrantMatch] = []
    for grantee_id in sorted(ids):
        matches = acl_grants(
            acl,
            action=action,
            on_object=on_object,
            grantee_canonical_id=grantee_id,
            authenticated=False,
            ignore_public=True,
        )
        found.extend(m for m in matches if m.grantee.id == grantee_id)
    return tuple(sorted(found, key=lambda m: m.index))


def unknown_grantee(
    layer: Layer, marker: Unreadable, account_id: str, grants: tuple[AclGrantMatch, ...], what: str
) -> Unchecked:
    """Why `grants` of `what` could not be matched to the requester's account `account_id`."""
    base = unchecked_for(layer, marker, f"the canonical user id of account {account_id}")
    named = ", ".join(m.describe() for m in grants)
    needs = base.needs or "s3:ListAllMyBuckets"
    if account_id not in needs:  # read in the requester's account, not the bucket's
        needs = f"{needs} in account {account_id}"
    return Unchecked(
        layer=layer,
        reason=f"{base.reason}: whether {what} grants the requester's account ({named}) "
        "could not be checked",
        needs=needs,
    )
