"""The requester's IAM identity as the snapshot knows it: a user or role ARN with its path.

A role-session ARN (`arn:aws:sts::ACCT:assumed-role/NAME/SESSION`) carries no role path, and a
runbook user may give a role or user ARN without its path. AWS evaluates the identity's real
ARN, path included (`aws:PrincipalArn`, a Principal element naming the role): IAM role and user
names are unique in an account whatever their path
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns),
so the snapshot's entity of that name is the requester (in the requester's account: the
top-level IAM, or `accounts.<id>.iam` for another account). `resolve_principal` swaps its ARN in:
`principal_arn`, and the `aws:PrincipalArn` value that was derived from the requester ARN
(a value given explicitly by the user is kept). The request's notes are the pipeline's to
update (the engine never reads them: see `verdict_cache.UNREAD_FIELDS`). Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from ..model import AccessRequest, Principal, PrincipalType
from ..snapshot import AccountSide, Entity, Iam, Snapshot

_DERIVED_PREFIX: Final = "derived:"
_RESOLVED_TYPES: Final = {
    PrincipalType.IAM_USER: "user",
    PrincipalType.ROLE: "role",
    PrincipalType.ASSUMED_ROLE: "role",
}


def resolve_principal(request: AccessRequest, snapshot: Snapshot) -> AccessRequest:
    """`request` with its user or role ARN as the snapshot holds it (same request otherwise)."""
    principal = request.principal
    resolved = snapshot.cached(
        ("resolved-principal", principal), lambda: _resolved(principal, snapshot)
    )
    if resolved is principal:
        return request
    old, new = principal.principal_arn, resolved.principal_arn
    context = tuple(
        replace(entry, values=(new,))
        if entry.name.lower() == "aws:principalarn"
        and entry.source.startswith(_DERIVED_PREFIX)
        and entry.values == (old,)
        else entry
        for entry in request.context
    )
    return replace(request, principal=resolved, context=context)


def _resolved(principal: Principal, snapshot: Snapshot) -> Principal:
    """The principal with the ARN of the snapshot's user or role of its name, or itself."""
    table_name = _RESOLVED_TYPES.get(principal.type)
    if table_name is None:
        return principal
    iam = snapshot.iam
    if principal.account_id != snapshot.account_id:
        side = snapshot.side(principal.account_id)  # another account's, when in the snapshot
        iam = side.iam if isinstance(side, AccountSide) else None
    if not isinstance(iam, Iam):
        return principal
    table = iam.users if table_name == "user" else iam.roles
    if not isinstance(table, Mapping):
        return principal
    resource = principal.principal_arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind != table_name or not rest:
        return principal
    entity = table.get(rest.rsplit("/", 1)[-1])
    if not isinstance(entity, Entity) or not entity.arn or entity.arn == principal.principal_arn:
        return principal
    return replace(principal, principal_arn=entity.arn)
