"""Who made the call: `userIdentity` of a CloudTrail record → `Principal` (spec 4.2, 5.3).

`requester_arn` is the caller as logged; `principal_arn` is the identity whose policies apply:
the role ARN with its path (from `sessionIssuer`) for a role session, the parent IAM user for a
federated user, the account root ARN for root.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from ..arn import account_root_arn, is_account_id, parse_arn, role_arn_from_session
from ..lean_dataclass import dataclass
from ..model import Principal, PrincipalType
from . import fields as f
from .errors import EventError

ANONYMOUS_ACCOUNTS: Final = frozenset({"anonymous", "ANONYMOUS_PRINCIPAL"})
ANONYMOUS_ARN: Final = "anonymous"
ANONYMOUS_PRINCIPAL: Final = Principal(
    type=PrincipalType.ANONYMOUS,
    requester_arn=ANONYMOUS_ARN,
    principal_arn=ANONYMOUS_ARN,
    account_id=ANONYMOUS_ARN,
    user_id=ANONYMOUS_ARN,
)
IDENTITY_CENTER_PATH: Final = "role/aws-reserved/sso.amazonaws.com/"


class IdentityType(StrEnum):
    """The `userIdentity.type` values this module reads specifically."""

    IAM_USER = "IAMUser"
    ASSUMED_ROLE = "AssumedRole"
    ROLE = "Role"
    ROOT = "Root"
    FEDERATED_USER = "FederatedUser"
    AWS_SERVICE = "AWSService"
    AWS_ACCOUNT = "AWSAccount"


@dataclass(frozen=True, slots=True, kw_only=True)
class Requester:
    """The principal, and what could not be derived about it."""

    principal: Principal
    notes: tuple[str, ...] = ()


def requester_from_record(
    record: Mapping[str, Any], *, prefix: str = "", bucket_account: str | None = None
) -> Requester:
    """Read `userIdentity`; raise EventError when a field its type requires is missing.

    `prefix` ("detail." for an EventBridge event) makes error field paths match the input.
    `bucket_account` stands in for the account of service principals, which have none.
    """
    identity = f.IDENTITY.search(record)
    if not isinstance(identity, Mapping):
        raise EventError(f"{prefix}userIdentity", "missing or not an object")
    kind = f.string(f.IDENTITY_TYPE, record)
    account = f.text(f.IDENTITY_ACCOUNT, record)
    principal_id = identity.get("principalId")
    if _is_anonymous(kind, account, principal_id):
        return _anonymous()
    if kind is None:
        raise EventError(f"{prefix}userIdentity.type", "missing")
    user_id = f.text(f.PRINCIPAL_ID, record)
    mfa = f.flag(f.text(f.MFA_AUTHENTICATED, record))
    match kind:
        case IdentityType.IAM_USER:
            arn = _required_arn(record, prefix)
            return Requester(
                principal=Principal(
                    type=PrincipalType.IAM_USER,
                    requester_arn=arn,
                    principal_arn=arn,
                    account_id=_account(account, arn),
                    user_id=user_id,
                    user_name=f.text(f.USER_NAME, record) or arn.rsplit("/", 1)[-1],
                    mfa_authenticated=mfa,
                )
            )
        case IdentityType.ASSUMED_ROLE:
            return _assumed_role(record, prefix, account, user_id, mfa)
        case IdentityType.ROLE:
            arn = _required_arn(record, prefix)
            principal = Principal(
                type=PrincipalType.ROLE,
                requester_arn=arn,
                principal_arn=arn,
                account_id=_account(account, arn),
                user_id=user_id,
                mfa_authenticated=mfa,
            )
            return Requester(principal=principal)
        case IdentityType.ROOT:
            return _root(record, account, user_id, mfa, prefix)
        case IdentityType.FEDERATED_USER:
            return _federated(record, prefix, account, user_id, mfa)
        case IdentityType.AWS_SERVICE:
            return _service(record, prefix, bucket_account)
        case IdentityType.AWS_ACCOUNT:
            if account is None:
                raise EventError(f"{prefix}userIdentity.accountId", "missing for AWSAccount")
            root = account_root_arn(account, _partition(record))
            principal = Principal(
                type=PrincipalType.AWS_ACCOUNT,
                requester_arn=f.text(f.IDENTITY_ARN, record) or root,
                principal_arn=root,
                account_id=account,
                user_id=user_id,
            )
            note = (
                f"Caller from account {account}; its identity inside that account is not in "
                "the record, so its own policies cannot be checked here."
            )
            return Requester(principal=principal, notes=(note,))
    arn = f.text(f.IDENTITY_ARN, record) or ""
    principal = Principal(
        type=PrincipalType.UNKNOWN,
        requester_arn=arn,
        principal_arn=arn,
        account_id=account or "",
        user_id=user_id,
    )
    return Requester(
        principal=principal,
        notes=(f"userIdentity.type {kind!r} is not an IAM principal this tool diagnoses.",),
    )


def partition_of(record: Mapping[str, Any]) -> str:
    """The partition of the caller's ARN (aws, aws-cn, aws-us-gov), "aws" when unknown."""
    return _partition(record)


def _is_anonymous(kind: str | None, account: str | None, principal_id: Any) -> bool:
    if account in ANONYMOUS_ACCOUNTS or principal_id == "ANONYMOUS_PRINCIPAL":
        return True
    signed = {
        IdentityType.IAM_USER,
        IdentityType.ASSUMED_ROLE,
        IdentityType.ROLE,
        IdentityType.ROOT,
        IdentityType.FEDERATED_USER,
        IdentityType.AWS_SERVICE,
    }
    # An empty principalId with a real account id names a caller of that account whose identity
    # the record leaves out: a signed request, not an anonymous one.
    return principal_id == "" and kind not in signed and not is_account_id(account or "")


def _anonymous() -> Requester:
    return Requester(principal=ANONYMOUS_PRINCIPAL)


def _assumed_role(
    record: Mapping[str, Any],
    prefix: str,
    account: str | None,
    user_id: str | None,
    mfa: bool | None,
) -> Requester:
    session_arn = _required_arn(record, prefix)
    session = parse_arn(session_arn)
    session_parts = session.resource.split("/", 2) if session else []
    session_name = session_parts[2] if len(session_parts) == 3 else None
    if session_name is None and user_id and ":" in user_id:
        session_name = user_id.split(":", 1)[1]
    notes: list[str] = []
    role_arn = f.text(f.ISSUER_ARN, record)
    if role_arn is None:
        role_arn = role_arn_from_session(session_arn)
        if role_arn is None:
            raise EventError(
                f"{prefix}userIdentity.arn",
                f"{session_arn!r} is not an assumed-role ARN and sessionIssuer.arn is missing",
            )
        notes.append(
            "sessionContext.sessionIssuer is missing: the role ARN was rebuilt from the session "
            "ARN, without its path."
        )
    if IDENTITY_CENTER_PATH in role_arn:
        permission_set = role_arn.rsplit("/", 1)[-1].removeprefix("AWSReservedSSO_")
        notes.append(
            f"IAM Identity Center session (permission set {permission_set.rsplit('_', 1)[0]}, "
            f"user {session_name}): change its policies in the permission set, not on the role."
        )
    principal = Principal(
        type=PrincipalType.ASSUMED_ROLE,
        requester_arn=session_arn,
        principal_arn=role_arn,
        account_id=_account(account, role_arn),
        session_name=session_name,
        user_id=user_id,
        mfa_authenticated=mfa,
    )
    return Requester(principal=principal, notes=tuple(notes))


def _root(
    record: Mapping[str, Any],
    account: str | None,
    user_id: str | None,
    mfa: bool | None,
    prefix: str,
) -> Requester:
    arn = f.text(f.IDENTITY_ARN, record)
    parsed = parse_arn(arn) if arn else None
    account = account or (parsed.account if parsed else None)
    if not account:
        raise EventError(f"{prefix}userIdentity.accountId", "missing for Root")
    root = account_root_arn(account, _partition(record))
    principal = Principal(
        type=PrincipalType.ROOT,
        requester_arn=arn or root,
        principal_arn=root,
        account_id=account,
        user_id=user_id or account,
        mfa_authenticated=mfa,
    )
    return Requester(principal=principal)


def _federated(
    record: Mapping[str, Any],
    prefix: str,
    account: str | None,
    user_id: str | None,
    mfa: bool | None,
) -> Requester:
    arn = _required_arn(record, prefix)
    parent = f.text(f.ISSUER_ARN, record)
    notes: tuple[str, ...] = ()
    if parent is None:
        notes = (
            "sessionContext.sessionIssuer is missing: the parent IAM user of this federated "
            "user is unknown, so its policies cannot be checked.",
        )
    name = arn.rsplit("/", 1)[-1] if "federated-user/" in arn else None
    principal = Principal(
        type=PrincipalType.FEDERATED_USER,
        requester_arn=arn,
        principal_arn=parent or arn,
        account_id=_account(account, arn),
        session_name=name,
        user_id=user_id,
        mfa_authenticated=mfa,
    )
    return Requester(principal=principal, notes=notes)


def _service(record: Mapping[str, Any], prefix: str, bucket_account: str | None) -> Requester:
    service = f.text(f.INVOKED_BY, record) or f.text(f.SOURCE_IP, record)
    if service is None:
        raise EventError(f"{prefix}userIdentity.invokedBy", "missing for AWSService")
    principal = Principal(
        type=PrincipalType.AWS_SERVICE,
        requester_arn=service,
        principal_arn=service,
        account_id=f.text(f.IDENTITY_ACCOUNT, record) or bucket_account or "",
        service=service,
    )
    return Requester(principal=principal)


def _required_arn(record: Mapping[str, Any], prefix: str) -> str:
    arn = f.text(f.IDENTITY_ARN, record)
    if arn is None or parse_arn(arn) is None:
        raise EventError(f"{prefix}userIdentity.arn", "missing or not an ARN")
    return arn


def _account(account: str | None, arn: str) -> str:
    if account:
        return account
    parsed = parse_arn(arn)
    return parsed.account if parsed else ""


def _partition(record: Mapping[str, Any]) -> str:
    for expression in (f.IDENTITY_ARN, f.ISSUER_ARN):
        value = f.text(expression, record)
        parsed = parse_arn(value) if value else None
        if parsed is not None:
            return parsed.partition
    return "aws"
