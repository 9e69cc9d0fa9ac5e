"""S3 Block Public Access: the settings, S3's "is this policy public" rules, and the four checks.

Pure: standard library and `chalicelib` core modules only (no boto3, botocore or chalice).

https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
- Four independent settings on the account, the bucket and the access point; the most
  restrictive combination applies (`effective_block`).
- "The meaning of public" (`policy_is_public`): S3 starts from public, and an Allow statement
  is non-public only when it grants to fixed values (no wildcard, no policy variable) of a
  specific principal or of one of the condition keys in `_EXACT_KEYS` and the special rules
  below. Deny statements never make a policy public. An ACL is public when it grants anything
  to AllUsers or AuthenticatedUsers (`acl_is_public`, re-exported from `acl`).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from ..lean_dataclass import dataclass
from ..model import InputError
from .acl import (
    Acl,
    acl_grants,
    acl_is_public,
    request_acl_is_public,
)

__all__ = [
    "BpaCheck",
    "BpaLevel",
    "BpaLevels",
    "BpaSetting",
    "BpaVerdict",
    "PublicAccessBlock",
    "PublicStatement",
    "PublicVerdict",
    "acl_is_public",
    "check_block_public_acls",
    "check_block_public_policy",
    "check_ignore_public_acls",
    "check_restrict_public_buckets",
    "effective_block",
    "parse_public_access_block",
    "policy_is_public",
]

DOC_URL = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"
)


# --------------------------------------------------------------------------- settings


class BpaSetting(StrEnum):
    BLOCK_PUBLIC_ACLS = "BlockPublicAcls"
    IGNORE_PUBLIC_ACLS = "IgnorePublicAcls"
    BLOCK_PUBLIC_POLICY = "BlockPublicPolicy"
    RESTRICT_PUBLIC_BUCKETS = "RestrictPublicBuckets"


class BpaLevel(StrEnum):
    ACCOUNT = "account"
    BUCKET = "bucket"
    ACCESS_POINT = "access-point"


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicAccessBlock:
    """One level's PublicAccessBlockConfiguration; a flag left out is False."""

    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def enabled(self, setting: BpaSetting) -> bool:
        return bool(getattr(self, _ATTRIBUTES[setting]))

    def to_dict(self) -> dict[str, bool]:
        return {setting.value: self.enabled(setting) for setting in BpaSetting}


_ATTRIBUTES: Mapping[BpaSetting, str] = {
    BpaSetting.BLOCK_PUBLIC_ACLS: "block_public_acls",
    BpaSetting.IGNORE_PUBLIC_ACLS: "ignore_public_acls",
    BpaSetting.BLOCK_PUBLIC_POLICY: "block_public_policy",
    BpaSetting.RESTRICT_PUBLIC_BUCKETS: "restrict_public_buckets",
}


def parse_public_access_block(
    data: Mapping[str, Any] | None, *, field: str = "public_access_block"
) -> PublicAccessBlock | None:
    """Parse a PublicAccessBlockConfiguration (or the `get-public-access-block` output around
    it); None stays None (not configured)."""
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise InputError(field, "must be an object of the four Block Public Access flags")
    if "PublicAccessBlockConfiguration" in data:
        field = f"{field}.PublicAccessBlockConfiguration"
        data = data["PublicAccessBlockConfiguration"]
        if not isinstance(data, Mapping):
            raise InputError(field, "must be an object of the four Block Public Access flags")
    flags: dict[str, bool] = {}
    for setting, attribute in _ATTRIBUTES.items():
        value = data.get(setting.value, False)
        if not isinstance(value, bool):
            raise InputError(f"{field}.{setting.value}", f"must be true or false, not {value!r}")
        flags[attribute] = value
    unknown = sorted(set(data) - {s.value for s in BpaSetting})
    if unknown:
        raise InputError(f"{field}.{unknown[0]}", "is not a Block Public Access setting")
    return PublicAccessBlock(**flags)


def effective_block(
    account: PublicAccessBlock | None,
    bucket: PublicAccessBlock | None,
    access_point: PublicAccessBlock | None,
) -> PublicAccessBlock:
    """The most restrictive combination: a setting is on when any level turns it on."""
    levels = [level for level in (account, bucket, access_point) if level is not None]
    return PublicAccessBlock(
        **{
            attribute: any(level.enabled(setting) for level in levels)
            for setting, attribute in _ATTRIBUTES.items()
        }
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BpaLevels:
    """The settings at each level that applies to one request.

    `access_point` only for requests made through an access point; a level left None is not
    configured; a level in `unreadable` could not be read (its flags are unknown).
    """

    account: PublicAccessBlock | None = None
    bucket: PublicAccessBlock | None = None
    access_point: PublicAccessBlock | None = None
    unreadable: frozenset[BpaLevel] = frozenset()

    def effective(self) -> PublicAccessBlock:
        return effective_block(self.account, self.bucket, self.access_point)

    def set_at(self, setting: BpaSetting) -> tuple[BpaLevel, ...]:
        """The levels that turn `setting` on, account first."""
        pairs = (
            (BpaLevel.ACCOUNT, self.account),
            (BpaLevel.BUCKET, self.bucket),
            (BpaLevel.ACCESS_POINT, self.access_point),
        )
        return tuple(level for level, block in pairs if block and block.enabled(setting))


# --------------------------------------------------------------------------- public policies


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicStatement:
    """An Allow statement that makes a policy public (`index` counts from 0)."""

    index: int
    sid: str | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PublicVerdict:
    is_public: bool
    statements: tuple[PublicStatement, ...] = ()
    reason: str


# Condition keys whose fixed values make a statement non-public. The S3 list (DOC_URL) names
# aws:SourceArn, aws:SourceVpc, aws:SourceVpce, aws:SourceOwner, aws:SourceAccount,
# s3:x-amz-server-side-encryption-aws-kms-key-id, s3:DataAccessPointAccount and "a principal
# (e.g. aws:PrincipalOrgID)"; the others pin one account, organization or network the same way.
_EXACT_KEYS = frozenset(
    {
        "aws:sourcearn",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:sourceowner",
        "aws:sourceaccount",
        "aws:sourceorgid",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "s3:dataaccesspointaccount",
        "aws:principalorgid",
        "aws:principalaccount",
        "aws:sourcevpcarn",
        "aws:vpceaccount",
        "aws:vpceorgid",
    }
)
# Organization paths: non-public when the organization id (first segment) is fixed.
_ORG_PATH_KEYS = frozenset({"aws:principalorgpaths", "aws:vpceorgpaths", "aws:sourceorgpaths"})
# Principal ARNs: non-public when the account is fixed (the principal is then one of that
# account's, like an account principal). s3:DataAccessPointArn follows the same rule in bucket
# policies only, as DOC_URL says.
_ARN_ACCOUNT_KEYS = frozenset({"aws:principalarn"})
_SERVICE_NAME_KEYS = frozenset({"aws:principalservicename", "aws:principalservicenameslist"})
_SERVICE_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")
_POSITIVE_STRING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
)
_USERID_ROLE_PATTERN = re.compile(r"^[^*?$]+:\*$")  # "AROLEID:*": any session of one role


def policy_is_public(
    policy: Mapping[str, Any] | str,
    *,
    on_access_point: bool = False,
    vpc_origin: bool = False,
    field: str = "policy",
) -> PublicVerdict:
    """Whether S3 considers a bucket (or access point) policy public, and which statements.

    `on_access_point` applies the access-point rules (an s3:DataAccessPointArn wildcard is
    public); `vpc_origin` marks an access point with a VPC network origin, never public.
    A policy that cannot be read raises `InputError` naming the field.
    """
    document = _load_policy(policy, field=field)
    if vpc_origin:
        return PublicVerdict(
            is_public=False, reason="an access point with a VPC network origin is never public"
        )
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise InputError(f"{field}.Statement", "must be a list of statements")
    public: list[PublicStatement] = []
    for index, statement in enumerate(statements):
        where = f"{field}.Statement[{index}]"
        if not isinstance(statement, Mapping):
            raise InputError(where, "a statement must be an object")
        reason = _statement_public_reason(statement, on_access_point=on_access_point, field=where)
        if reason is not None:
            sid = statement.get("Sid")
            public.append(
                PublicStatement(
                    index=index, sid=sid if isinstance(sid, str) else None, reason=reason
                )
            )
    if not public:
        return PublicVerdict(
            is_public=False,
            reason="every Allow statement grants to a fixed principal or fixed condition values",
        )
    first = public[0]
    name = f"statement {first.index}" + (f" ({first.sid})" if first.sid else "")
    return PublicVerdict(is_public=True, statements=tuple(public), reason=f"{name}: {first.reason}")


def _load_policy(policy: Mapping[str, Any] | str, *, field: str) -> Mapping[str, Any]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError as error:
            raise InputError(field, f"not valid JSON ({error.msg})") from None
    if not isinstance(policy, Mapping):
        raise InputError(field, "a policy must be a JSON object")
    return policy


def _statement_public_reason(
    statement: Mapping[str, Any], *, on_access_point: bool, field: str
) -> str | None:
    """Why an Allow statement is public, or None when it is not."""
    if statement.get("Effect") != "Allow":
        return None
    opening: str | None
    if "NotPrincipal" in statement:
        opening = "it allows everyone except the NotPrincipal list"
    elif "Principal" in statement:
        opening = _open_principal(statement["Principal"], field=f"{field}.Principal")
    else:
        raise InputError(f"{field}.Principal", "a bucket or access point policy needs Principal")
    if opening is None:
        return None
    condition = statement.get("Condition", {})
    if not isinstance(condition, Mapping):
        raise InputError(f"{field}.Condition", "must be an object")
    if _restricting_condition(condition, on_access_point=on_access_point, field=field):
        return None
    return f"{opening}, and no condition limits it to fixed values of a non-public key"


def _as_strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in items]


def _fixed(value: str) -> bool:
    """No wildcard and no policy variable."""
    return not any(mark in value for mark in ("*", "?", "${"))


def _open_principal(principal: Any, *, field: str) -> str | None:
    """Why the Principal element lets anyone in, or None when it names fixed principals."""
    if principal == "*":
        return 'Principal is "*"'
    if not isinstance(principal, Mapping):
        raise InputError(field, 'must be "*" or an object such as {"AWS": …}')
    for kind, values in principal.items():
        if kind == "Federated":
            return f"it grants to web-identity or SAML federated users ({_as_strings(values)[0]})"
        for value in _as_strings(values):
            if not _fixed(value):
                return f'Principal {{"{kind}": "{value}"}} matches anyone'
    return None


def _restricting_condition(
    condition: Mapping[str, Any], *, on_access_point: bool, field: str
) -> str | None:
    """The first condition that limits the statement to fixed values, or None."""
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            raise InputError(f"{field}.Condition.{operator}", "must be an object of keys")
        base = str(operator).lower()
        # IfExists and ForAllValues also match when the key is absent, so they never restrict.
        if base.endswith("ifexists") or base.startswith("forallvalues:"):
            continue
        base = base.removeprefix("foranyvalue:")
        for key, raw in block.items():
            values = _as_strings(raw)
            if values and _restricts(base, str(key).lower(), values, on_access_point):
                return f"{operator} {key}"
    return None


def _restricts(operator: str, key: str, values: list[str], on_access_point: bool) -> bool:
    if key == "aws:sourceip":
        return operator == "ipaddress" and all(_narrow_cidr(v) for v in values)
    if key == "aws:principalisawsservice":
        allowed = _POSITIVE_STRING_OPERATORS | {"bool"}
        return operator in allowed and all(v.lower() == "true" for v in values)
    if operator not in _POSITIVE_STRING_OPERATORS:
        return False
    if key in _EXACT_KEYS:
        return all(_fixed(v) for v in values)
    if key == "aws:userid":
        return all(_fixed(v) or _USERID_ROLE_PATTERN.match(v) for v in values)
    if key in _ARN_ACCOUNT_KEYS or (key == "s3:dataaccesspointarn" and not on_access_point):
        return all(_arn_account_fixed(v) for v in values)
    if key == "s3:dataaccesspointarn":
        return all(_fixed(v) for v in values)
    if key in _ORG_PATH_KEYS:
        return all(_fixed(v.split("/", 1)[0]) and v.startswith("o-") for v in values)
    if key in _SERVICE_NAME_KEYS:
        return all("${" not in v and v.lower().endswith(_SERVICE_SUFFIXES) for v in values)
    return False


def _arn_account_fixed(value: str) -> bool:
    parts = value.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and bool(parts[4]) and _fixed(":".join(parts[:5]))


def _narrow_cidr(value: str) -> bool:
    """A CIDR no broader than /8 (IPv4) or /32 (IPv6).

    The RFC1918 exception of DOC_URL needs no code: the private ranges are /8, /12 and /16.
    """
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return False
    return network.prefixlen >= (8 if network.version == 4 else 32)


# --------------------------------------------------------------------------- checks


class BpaVerdict(StrEnum):
    BLOCKED = "blocked"  # the setting denies the request, or removes the grant it relied on
    POSSIBLE = "possible"  # it may: AWS does not document this case
    UNKNOWN = "unknown"  # it would, if set at a level that could not be read (or input missing)


@dataclass(frozen=True, slots=True, kw_only=True)
class BpaCheck:
    """What one Block Public Access setting does to a request.

    `levels` are the levels that turn the setting on (for UNKNOWN: the unreadable levels).
    `statements` index the public policy statements involved; `grants` the public ACL grants.
    """

    setting: BpaSetting
    verdict: BpaVerdict
    levels: tuple[BpaLevel, ...]
    reason: str
    statements: tuple[int, ...] = ()
    grants: tuple[int, ...] = ()


def _setting_state(
    levels: BpaLevels, setting: BpaSetting
) -> tuple[BpaVerdict, tuple[BpaLevel, ...]] | None:
    on = levels.set_at(setting)
    if on:
        return BpaVerdict.BLOCKED, on
    if levels.unreadable:
        return BpaVerdict.UNKNOWN, tuple(sorted(levels.unreadable))
    return None


def _where(setting: BpaSetting, verdict: BpaVerdict, at: Iterable[BpaLevel]) -> str:
    names = " and ".join(level.value for level in at)
    if verdict is BpaVerdict.UNKNOWN:
        return f"{setting.value} may be on at the {names} level, which could not be read"
    return f"{setting.value} is on at the {names} level"


ACL_WRITE_ACTIONS = frozenset(
    {"s3:putobject", "s3:putobjectacl", "s3:putobjectversionacl", "s3:putbucketacl"}
)
POLICY_WRITE_ACTIONS = frozenset({"s3:putbucketpolicy", "s3:putaccesspointpolicy"})


def check_block_public_acls(
    levels: BpaLevels,
    *,
    action: str,
    canned_acl: str | None = None,
    grant_headers: Mapping[str, str] | None = None,
    body_acl: Acl | None = None,
) -> BpaCheck | None:
    """BlockPublicAcls: a write that carries a public ACL is denied.

    `action` is the IAM action: s3:PutObject covers PutObject, CopyObject, POST Object and
    CreateMultipartUpload; also s3:PutObjectAcl, s3:PutObjectVersionAcl and s3:PutBucketAcl.
    The ACL comes from `x-amz-acl` (`canned_acl`), `x-amz-grant-*` headers or a request body.
    """
    if action.lower() not in ACL_WRITE_ACTIONS:
        return None
    headers = grant_headers or {}
    if not (
        request_acl_is_public(canned_acl, headers)
        or (body_acl is not None and acl_is_public(body_acl))
    ):
        return None
    state = _setting_state(levels, BpaSetting.BLOCK_PUBLIC_ACLS)
    if state is None:
        return None
    verdict, at = state
    what = f"x-amz-acl: {canned_acl}" if canned_acl else "a grant to AllUsers or AuthenticatedUsers"
    return BpaCheck(
        setting=BpaSetting.BLOCK_PUBLIC_ACLS,
        verdict=verdict,
        levels=at,
        reason=f"{action} sets a public ACL ({what}) and "
        f"{_where(BpaSetting.BLOCK_PUBLIC_ACLS, verdict, at)}",
    )


def check_block_public_policy(
    levels: BpaLevels,
    *,
    action: str,
    policy: Mapping[str, Any] | str | None,
    field: str = "policy",
) -> BpaCheck | None:
    """BlockPublicPolicy: PutBucketPolicy / PutAccessPointPolicy with a public policy is denied,
    for the root user too. `policy` is the new policy (None when the event does not carry it).
    """
    name = action.lower()
    if name not in POLICY_WRITE_ACTIONS:
        return None
    state = _setting_state(levels, BpaSetting.BLOCK_PUBLIC_POLICY)
    if state is None:
        return None
    verdict, at = state
    where = _where(BpaSetting.BLOCK_PUBLIC_POLICY, verdict, at)
    if policy is None:
        return BpaCheck(
            setting=BpaSetting.BLOCK_PUBLIC_POLICY,
            verdict=BpaVerdict.UNKNOWN,
            levels=at,
            reason=f"{where}; the new policy is not known, so whether it is public is unknown",
        )
    public = policy_is_public(
        policy, on_access_point=name == "s3:putaccesspointpolicy", field=field
    )
    if not public.is_public:
        return None
    return BpaCheck(
        setting=BpaSetting.BLOCK_PUBLIC_POLICY,
        verdict=verdict,
        levels=at,
        reason=f"the new policy is public ({public.reason}) and {where} (root is not exempt)",
        statements=tuple(s.index for s in public.statements),
    )


def check_ignore_public_acls(
    levels: BpaLevels,
    *,
    acl: Acl,
    action: str,
    on_object: bool,
    grantee_canonical_id: str | None,
    authenticated: bool,
) -> BpaCheck | None:
    """IgnorePublicAcls: public ACL grants are ignored; reported when they are the only ACL
    grants of the action (so the ACL would have allowed the request without the setting)."""
    matches = acl_grants(
        acl,
        action=action,
        on_object=on_object,
        grantee_canonical_id=grantee_canonical_id,
        authenticated=authenticated,
        ignore_public=False,
    )
    if not matches or not all(m.public for m in matches):
        return None
    state = _setting_state(levels, BpaSetting.IGNORE_PUBLIC_ACLS)
    if state is None:
        return None
    verdict, at = state
    grants = ", ".join(m.describe() for m in matches)
    return BpaCheck(
        setting=BpaSetting.IGNORE_PUBLIC_ACLS,
        verdict=verdict,
        levels=at,
        reason=f"{_where(BpaSetting.IGNORE_PUBLIC_ACLS, verdict, at)}, so S3 ignores the only "
        f"ACL grants of {action} ({grants})",
        grants=tuple(m.index for m in matches),
    )


def check_restrict_public_buckets(
    levels: BpaLevels,
    *,
    policy: Mapping[str, Any] | str,
    principal_account: str | None,
    bucket_account: str,
    is_service_principal: bool = False,
    granting_statements: Sequence[int] | None = None,
    on_access_point: bool = False,
    vpc_origin: bool = False,
    field: str = "policy",
) -> BpaCheck | None:
    """RestrictPublicBuckets with a public policy: only AWS service principals and principals
    of the owner account keep the access that policy grants.

    `principal_account` is None for anonymous requests. `granting_statements` are the indexes
    of the policy's Allow statements that match the request (None when not known). Other
    accounts and anonymous callers are BLOCKED, even through non-public statements. For the
    owner account's principals the docs only promise access to "authorized users": when the
    public statements are their only grant in the policy, the verdict is POSSIBLE.
    """
    public = policy_is_public(
        policy, on_access_point=on_access_point, vpc_origin=vpc_origin, field=field
    )
    if not public.is_public or is_service_principal:
        return None
    state = _setting_state(levels, BpaSetting.RESTRICT_PUBLIC_BUCKETS)
    if state is None:
        return None
    verdict, at = state
    where = _where(BpaSetting.RESTRICT_PUBLIC_BUCKETS, verdict, at)
    public_indexes = tuple(s.index for s in public.statements)
    if principal_account != bucket_account:
        who = "anonymous" if principal_account is None else f"account {principal_account}"
        return BpaCheck(
            setting=BpaSetting.RESTRICT_PUBLIC_BUCKETS,
            verdict=verdict,
            levels=at,
            reason=f"the policy is public ({public.reason}) and {where}: access for {who} "
            "through this policy is blocked, even by its non-public statements",
            statements=public_indexes,
        )
    involved = public_indexes
    if granting_statements is not None:
        if any(i not in public_indexes for i in granting_statements):
            return None  # a non-public statement grants: documented to keep working
        involved = tuple(i for i in granting_statements if i in public_indexes)
        if not involved:
            return None
    return BpaCheck(
        setting=BpaSetting.RESTRICT_PUBLIC_BUCKETS,
        verdict=BpaVerdict.POSSIBLE if verdict is BpaVerdict.BLOCKED else verdict,
        levels=at,
        reason=f"the policy is public ({public.reason}) and {where}: the requester's only "
        "grant in it is a public statement; AWS keeps access for authorized users of the "
        "owner account, which may not include this one",
        statements=involved,
    )
