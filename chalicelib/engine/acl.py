"""S3 access control lists: the parsed model, which grants authorise an IAM action, canned ACLs.

Pure: standard library and `chalicelib.model` only (no boto3, botocore or chalice).

Implements https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html:
grantees are accounts (canonical user id, or e-mail address in a few legacy regions) and the
predefined groups AllUsers, AuthenticatedUsers and LogDelivery; an ACL only grants, never
denies. The permission → IAM action table is `_BUCKET_ACTIONS` / `_OBJECT_ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from ..lean_dataclass import dataclass
from ..model import InputError, StatementRef

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})
KNOWN_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})

# The canonical user that `aws-exec-read` grants READ to (Amazon EC2 reading AMI bundles).
EC2_BUNDLE_READER_ID = "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c"


class GranteeType(StrEnum):
    CANONICAL_USER = "CanonicalUser"
    GROUP = "Group"
    EMAIL = "AmazonCustomerByEmail"


class Permission(StrEnum):
    READ = "READ"
    WRITE = "WRITE"
    READ_ACP = "READ_ACP"
    WRITE_ACP = "WRITE_ACP"
    FULL_CONTROL = "FULL_CONTROL"


class CannedAcl(StrEnum):
    """The `x-amz-acl` values S3 accepts."""

    PRIVATE = "private"
    PUBLIC_READ = "public-read"
    PUBLIC_READ_WRITE = "public-read-write"
    AWS_EXEC_READ = "aws-exec-read"
    AUTHENTICATED_READ = "authenticated-read"
    BUCKET_OWNER_READ = "bucket-owner-read"
    BUCKET_OWNER_FULL_CONTROL = "bucket-owner-full-control"
    LOG_DELIVERY_WRITE = "log-delivery-write"


_BUCKET_ACTIONS: Mapping[Permission, frozenset[str]] = {
    Permission.READ: frozenset(
        {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}
    ),
    Permission.WRITE: frozenset({"s3:PutObject", "s3:DeleteObject"}),
    Permission.READ_ACP: frozenset({"s3:GetBucketAcl"}),
    Permission.WRITE_ACP: frozenset({"s3:PutBucketAcl"}),
}
_OBJECT_ACTIONS: Mapping[Permission, frozenset[str]] = {
    Permission.READ: frozenset({"s3:GetObject", "s3:GetObjectVersion"}),
    Permission.READ_ACP: frozenset({"s3:GetObjectAcl", "s3:GetObjectVersionAcl"}),
    Permission.WRITE_ACP: frozenset({"s3:PutObjectAcl", "s3:PutObjectVersionAcl"}),
}
# A bucket-ACL WRITE grant to the bucket owner also allows deleting any object version.
_BUCKET_OWNER_WRITE_EXTRA = frozenset({"s3:DeleteObjectVersion"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Grantee:
    """Who a grant is for: exactly one of `id`, `uri`, `email` is set, as `type` says."""

    type: GranteeType
    id: str | None = None
    uri: str | None = None
    email: str | None = None
    display_name: str | None = None

    @property
    def public(self) -> bool:
        """AllUsers or AuthenticatedUsers: what S3 calls a public grant."""
        return self.uri in PUBLIC_GROUPS

    def describe(self) -> str:
        if self.uri is not None:
            return "group " + self.uri.rsplit("/", 1)[-1]
        if self.email is not None:
            return f"account by e-mail {self.email}"
        return f"account {self.id}"

    def to_dict(self) -> dict[str, str]:
        out = {"Type": self.type.value}
        for key, value in (
            ("ID", self.id),
            ("URI", self.uri),
            ("EmailAddress", self.email),
            ("DisplayName", self.display_name),
        ):
            if value is not None:
                out[key] = value
        return out


def canonical_user(canonical_id: str) -> Grantee:
    return Grantee(type=GranteeType.CANONICAL_USER, id=canonical_id)


def group(uri: str) -> Grantee:
    return Grantee(type=GranteeType.GROUP, uri=uri)


@dataclass(frozen=True, slots=True, kw_only=True)
class AclGrant:
    grantee: Grantee
    permission: Permission

    def to_dict(self) -> dict[str, Any]:
        return {"Grantee": self.grantee.to_dict(), "Permission": self.permission.value}


@dataclass(frozen=True, slots=True, kw_only=True)
class Acl:
    """A bucket or object ACL as `get-bucket-acl` / `get-object-acl` return it."""

    owner_id: str
    grants: tuple[AclGrant, ...] = ()
    owner_display_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        owner = {"ID": self.owner_id}
        if self.owner_display_name is not None:
            owner["DisplayName"] = self.owner_display_name
        return {"Owner": owner, "Grants": [g.to_dict() for g in self.grants]}


@dataclass(frozen=True, slots=True, kw_only=True)
class AclGrantMatch:
    """A grant that authorises the action: its position in `Acl.grants` and what it grants."""

    index: int
    grantee: Grantee
    permission: Permission
    public: bool

    def describe(self) -> str:
        return f"grant #{self.index}: {self.permission.value} to {self.grantee.describe()}"


# --------------------------------------------------------------------------- parsing


def parse_acl(data: Any, *, field: str = "acl") -> Acl:
    """Parse a `get-bucket-acl` / `get-object-acl` output; `InputError` names the bad field."""
    if not isinstance(data, Mapping):
        raise InputError(field, "an ACL must be an object with Owner and Grants")
    owner = data.get("Owner")
    if not isinstance(owner, Mapping):
        raise InputError(f"{field}.Owner", "missing or not an object")
    owner_id = owner.get("ID")
    if not isinstance(owner_id, str) or not owner_id:
        raise InputError(f"{field}.Owner.ID", "missing or not a string")
    display = owner.get("DisplayName")
    raw_grants = data.get("Grants", [])
    if not isinstance(raw_grants, list):
        raise InputError(f"{field}.Grants", "must be a list")
    grants = tuple(
        _parse_grant(item, field=f"{field}.Grants[{i}]") for i, item in enumerate(raw_grants)
    )
    return Acl(
        owner_id=owner_id,
        grants=grants,
        owner_display_name=display if isinstance(display, str) else None,
    )


def parse_access_control_policy(data: Any, *, field: str = "AccessControlPolicy") -> Acl:
    """Parse the ACL body of PutBucketAcl / PutObjectAcl as CloudTrail records it.

    CloudTrail renders the XML body as `{"AccessControlList": {"Grant": [...] or {...}},
    "Owner": {"ID": …}}`, each grantee typed by `xsi:type` (or by which of URI / ID /
    EmailAddress it has). A body without Owner gets an empty owner id.
    """
    if not isinstance(data, Mapping):
        raise InputError(field, "must be an object with AccessControlList")
    listing = data.get("AccessControlList", {})
    if not isinstance(listing, Mapping):
        raise InputError(f"{field}.AccessControlList", "must be an object with Grant")
    raw = listing.get("Grant", [])
    items = raw if isinstance(raw, list) else [raw]
    grants: list[AclGrant] = []
    for i, item in enumerate(items):
        where = f"{field}.AccessControlList.Grant[{i}]"
        grantee = item.get("Grantee") if isinstance(item, Mapping) else None
        if isinstance(grantee, Mapping) and "Type" not in grantee:
            typed = {**grantee, "Type": grantee.get("xsi:type") or _grantee_type(grantee)}
            item = {**item, "Grantee": typed}
        grants.append(_parse_grant(item, field=where))
    owner = data.get("Owner")
    owner_id = owner.get("ID") if isinstance(owner, Mapping) else None
    return Acl(owner_id=owner_id if isinstance(owner_id, str) else "", grants=tuple(grants))


def _grantee_type(grantee: Mapping[str, Any]) -> str:
    if "URI" in grantee:
        return GranteeType.GROUP.value
    if "EmailAddress" in grantee:
        return GranteeType.EMAIL.value
    return GranteeType.CANONICAL_USER.value


def _parse_grant(data: Any, *, field: str) -> AclGrant:
    if not isinstance(data, Mapping):
        raise InputError(field, "a grant must be an object with Grantee and Permission")
    try:
        permission = Permission(str(data.get("Permission")))
    except ValueError:
        allowed = ", ".join(p.value for p in Permission)
        raise InputError(
            f"{field}.Permission", f"{data.get('Permission')!r} is not one of {allowed}"
        ) from None
    grantee = _parse_grantee(data.get("Grantee"), field=f"{field}.Grantee")
    return AclGrant(grantee=grantee, permission=permission)


def _parse_grantee(data: Any, *, field: str) -> Grantee:
    if not isinstance(data, Mapping):
        raise InputError(field, "missing or not an object")
    try:
        kind = GranteeType(str(data.get("Type")))
    except ValueError:
        allowed = ", ".join(t.value for t in GranteeType)
        raise InputError(f"{field}.Type", f"{data.get('Type')!r} is not one of {allowed}") from None
    display = data.get("DisplayName")
    display_name = display if isinstance(display, str) else None
    if kind is GranteeType.CANONICAL_USER:
        value = _required_str(data, "ID", field=field)
        return Grantee(type=kind, id=value, display_name=display_name)
    if kind is GranteeType.GROUP:
        uri = _required_str(data, "URI", field=field)
        if uri not in KNOWN_GROUPS:
            raise InputError(f"{field}.URI", f"{uri!r} is not a predefined S3 group")
        return Grantee(type=kind, uri=uri)
    email = _required_str(data, "EmailAddress", field=field)
    return Grantee(type=kind, email=email, display_name=display_name)


def _required_str(data: Mapping[str, Any], key: str, *, field: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise InputError(f"{field}.{key}", "missing or not a string")
    return value


# --------------------------------------------------------------------------- evaluation


def permission_actions(permission: Permission, *, on_object: bool) -> frozenset[str]:
    """The IAM actions an ACL permission authorises on a bucket or on an object.

    FULL_CONTROL is the union of the others. Bucket-owner extras are added by `acl_grants`.
    """
    table = _OBJECT_ACTIONS if on_object else _BUCKET_ACTIONS
    if permission is Permission.FULL_CONTROL:
        return frozenset().union(*table.values())
    return table.get(permission, frozenset())


def _grants_action(grant: AclGrant, action: str, *, on_object: bool, bucket_owner: str) -> bool:
    wanted = action.lower()
    actions = set(permission_actions(grant.permission, on_object=on_object))
    if (
        not on_object
        and grant.permission in (Permission.WRITE, Permission.FULL_CONTROL)
        and grant.grantee.id == bucket_owner
    ):
        actions |= _BUCKET_OWNER_WRITE_EXTRA
    return wanted in {a.lower() for a in actions}


def _grantee_matches(
    grantee: Grantee,
    *,
    grantee_canonical_id: str | None,
    authenticated: bool,
    log_delivery: bool,
) -> bool:
    if grantee.uri == ALL_USERS:
        return True
    if grantee.uri == AUTHENTICATED_USERS:
        return authenticated
    if grantee.uri == LOG_DELIVERY:
        return log_delivery
    # E-mail grantees are stored by S3 as canonical ids; an e-mail form cannot be matched here.
    return grantee.id is not None and grantee.id == grantee_canonical_id


def acl_grants(
    acl: Acl,
    *,
    action: str,
    on_object: bool,
    grantee_canonical_id: str | None,
    authenticated: bool,
    ignore_public: bool,
    log_delivery: bool = False,
) -> tuple[AclGrantMatch, ...]:
    """The grants of `acl` that authorise `action` for the requester.

    `grantee_canonical_id` is the canonical user id of the requester's account (None when it is
    unknown or the request is anonymous); `authenticated` is False for anonymous requests;
    `ignore_public` drops AllUsers/AuthenticatedUsers grants (BPA IgnorePublicAcls);
    `log_delivery` is True only for S3's server-access-log delivery.
    A bucket ACL never grants object reads: pass `on_object=True` with the object ACL.
    """
    matches: list[AclGrantMatch] = []
    for index, grant in enumerate(acl.grants):
        public = grant.grantee.public
        if public and ignore_public:
            continue
        if not _grantee_matches(
            grant.grantee,
            grantee_canonical_id=grantee_canonical_id,
            authenticated=authenticated,
            log_delivery=log_delivery,
        ):
            continue
        if _grants_action(grant, action, on_object=on_object, bucket_owner=acl.owner_id):
            matches.append(
                AclGrantMatch(
                    index=index, grantee=grant.grantee, permission=grant.permission, public=public
                )
            )
    return tuple(matches)


def acl_statement_refs(
    matches: tuple[AclGrantMatch, ...], *, policy: str
) -> tuple[StatementRef, ...]:
    """The matches as statement references for a LayerResult (`policy` like "acl:<bucket>")."""
    return tuple(
        StatementRef(policy=policy, index=m.index, effect="Allow", note=m.describe())
        for m in matches
    )


def acl_is_public(acl: Acl) -> bool:
    """True when the ACL grants anything to AllUsers or AuthenticatedUsers."""
    return any(grant.grantee.public for grant in acl.grants)


# --------------------------------------------------------------------------- canned ACLs

_OBJECT_ONLY = frozenset({CannedAcl.BUCKET_OWNER_READ, CannedAcl.BUCKET_OWNER_FULL_CONTROL})
_BUCKET_ONLY = frozenset({CannedAcl.LOG_DELIVERY_WRITE})


def parse_canned_acl(name: str, *, field: str = "x-amz-acl") -> CannedAcl:
    try:
        return CannedAcl(name)
    except ValueError:
        allowed = ", ".join(c.value for c in CannedAcl)
        raise InputError(field, f"{name!r} is not a canned ACL ({allowed})") from None


def canned_acl_grants(
    name: str, *, owner_id: str, bucket_owner_id: str, on_object: bool
) -> tuple[AclGrant, ...]:
    """The grants S3 stores for a canned ACL (`x-amz-acl`).

    `owner_id` is the owner of the new bucket or object. Canned ACLs meant only for objects
    (bucket-owner-*) or only for buckets (log-delivery-write) leave just the owner's
    FULL_CONTROL elsewhere, as S3 ignores them there.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html#canned-acl
    """
    canned = parse_canned_acl(name)
    owner = AclGrant(grantee=canonical_user(owner_id), permission=Permission.FULL_CONTROL)
    if (canned in _OBJECT_ONLY and not on_object) or (canned in _BUCKET_ONLY and on_object):
        return (owner,)
    extra: tuple[AclGrant, ...]
    match canned:
        case CannedAcl.PRIVATE:
            extra = ()
        case CannedAcl.PUBLIC_READ:
            extra = (AclGrant(grantee=group(ALL_USERS), permission=Permission.READ),)
        case CannedAcl.PUBLIC_READ_WRITE:
            extra = (
                AclGrant(grantee=group(ALL_USERS), permission=Permission.READ),
                AclGrant(grantee=group(ALL_USERS), permission=Permission.WRITE),
            )
        case CannedAcl.AWS_EXEC_READ:
            extra = (
                AclGrant(grantee=canonical_user(EC2_BUNDLE_READER_ID), permission=Permission.READ),
            )
        case CannedAcl.AUTHENTICATED_READ:
            extra = (AclGrant(grantee=group(AUTHENTICATED_USERS), permission=Permission.READ),)
        case CannedAcl.BUCKET_OWNER_READ:
            extra = (AclGrant(grantee=canonical_user(bucket_owner_id), permission=Permission.READ),)
        case CannedAcl.BUCKET_OWNER_FULL_CONTROL:
            extra = (
                AclGrant(
                    grantee=canonical_user(bucket_owner_id), permission=Permission.FULL_CONTROL
                ),
            )
        case CannedAcl.LOG_DELIVERY_WRITE:
            extra = (
                AclGrant(grantee=group(LOG_DELIVERY), permission=Permission.WRITE),
                AclGrant(grantee=group(LOG_DELIVERY), permission=Permission.READ_ACP),
            )
    # The bucket owner uploading with bucket-owner-* gets one grant, not two.
    return (owner, *(g for g in extra if g != owner))


# --------------------------------------------------------------------------- request headers

GRANT_HEADERS: Mapping[str, Permission] = {
    "x-amz-grant-read": Permission.READ,
    "x-amz-grant-write": Permission.WRITE,
    "x-amz-grant-read-acp": Permission.READ_ACP,
    "x-amz-grant-write-acp": Permission.WRITE_ACP,
    "x-amz-grant-full-control": Permission.FULL_CONTROL,
}
_HEADER_GRANTEE_KEYS = {"id", "uri", "emailaddress"}


def parse_grant_header(header: str, value: str) -> tuple[AclGrant, ...]:
    """The grants of one `x-amz-grant-*` header.

    The value is a comma-separated list of `id="…"`, `uri="…"` or `emailAddress="…"`
    (quotes optional). `InputError` names the header when it cannot be read.
    """
    name = header.lower()
    permission = GRANT_HEADERS.get(name)
    if permission is None:
        raise InputError(header, f"not one of {', '.join(GRANT_HEADERS)}")
    grants: list[AclGrant] = []
    for part in value.split(","):
        item = part.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        kind = key.strip().lower()
        if not sep or kind not in _HEADER_GRANTEE_KEYS:
            raise InputError(header, f"{item!r} is not id=, uri= or emailAddress=")
        text = raw.strip().strip('"').strip()
        if not text:
            raise InputError(header, f"{item!r} has an empty value")
        if kind == "uri":
            grantee = group(text)
        elif kind == "id":
            grantee = canonical_user(text)
        else:
            grantee = Grantee(type=GranteeType.EMAIL, email=text)
        grants.append(AclGrant(grantee=grantee, permission=permission))
    return tuple(grants)


def request_acl_grants(grant_headers: Mapping[str, str]) -> tuple[AclGrant, ...]:
    """All grants of the `x-amz-grant-*` headers of a request; other headers are ignored."""
    grants: list[AclGrant] = []
    for header, value in grant_headers.items():
        if header.lower() in GRANT_HEADERS:
            grants.extend(parse_grant_header(header, str(value)))
    return tuple(grants)


def request_acl_is_public(canned: str | None, grant_headers: Mapping[str, str]) -> bool:
    """True when a request's `x-amz-acl` or `x-amz-grant-*` headers set a public ACL.

    The owner's id does not matter for publicness, so canned ACLs are expanded with a
    placeholder owner.
    """
    if canned is not None:
        for on_object in (True, False):
            grants = canned_acl_grants(
                canned, owner_id="-", bucket_owner_id="-", on_object=on_object
            )
            if any(g.grantee.public for g in grants):
                return True
    return any(g.grantee.public for g in request_acl_grants(grant_headers))
