"""The account snapshot: every document the engine needs, loaded from DESIGN 3.2 JSON.

A snapshot document holds the unchanged outputs of the AWS read calls. `load_snapshot` validates
it against `schemas/snapshot.schema.json` (one clear error naming the field) and indexes it for
the engine. Three facts are kept apart everywhere: present (the value), absent (None: "does not
exist / not configured") and `Unreadable` ("could not be read"; never turned into absent).

Compiled policies are cached on the snapshot, so a batch of requests against one snapshot parses
each policy once. Pure: no boto3.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any, NoReturn, TypeVar

from .lean_dataclass import dataclass
from .model import InputError, Json
from .schemas import conforms, refusal, schema

T = TypeVar("T")
UNREADABLE_KEY = "$unreadable"


@dataclass(frozen=True, slots=True, kw_only=True)
class Unreadable:
    """A part of the snapshot that could not be read, and the permission that was refused."""

    code: str
    needs: str | None = None
    where: str = ""


def unreadable_of(value: Any, where: str = "") -> Unreadable | None:
    """The Unreadable marker if `value` is `{"$unreadable": code, "needs"?: action}`."""
    if isinstance(value, Mapping) and UNREADABLE_KEY in value:
        return Unreadable(code=str(value[UNREADABLE_KEY]), needs=value.get("needs"), where=where)
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class InlinePolicy:
    name: str
    document: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """An IAM user, group or role with its policies (as in get-account-authorization-details)."""

    kind: str  # "user" | "group" | "role"
    name: str
    arn: str
    path: str = "/"
    unique_id: str | None = None
    inline: tuple[InlinePolicy, ...] | Unreadable = ()
    attached: tuple[str, ...] | Unreadable = ()  # managed policy ARNs
    groups: tuple[str, ...] | Unreadable = ()  # users only: group names
    boundary_arn: str | Unreadable | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagedPolicy:
    arn: str
    name: str
    default_version_id: str | None
    document: Any | Unreadable  # the default version's document
    versions: Mapping[str, Any] = field(default_factory=dict)  # version id -> document


@dataclass(frozen=True, slots=True, kw_only=True)
class Iam:
    """IAM tables by name (policies by ARN); a whole table may be Unreadable."""

    users: Mapping[str, Entity] | Unreadable
    groups: Mapping[str, Entity] | Unreadable
    roles: Mapping[str, Entity] | Unreadable
    policies: Mapping[str, ManagedPolicy] | Unreadable


@dataclass(frozen=True, slots=True, kw_only=True)
class OrgPolicy:
    id: str
    name: str
    arn: str | None
    content: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class OrgLevel:
    target_id: str
    scps: tuple[OrgPolicy, ...] | Unreadable | None  # None: policy type not enabled
    rcps: tuple[OrgPolicy, ...] | Unreadable | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    levels: tuple[OrgLevel, ...]
    management_account_id: str | None = None
    org_id: str | None = None


NOT_COLLECTED = "NotCollected"
"""The code of a part of another account's side that the snapshot leaves out (not collected)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSide:
    """Another account that takes part in a request: the requester's, or a KMS key's.

    A part the snapshot leaves out was not collected: it is `Unreadable` with code
    `NOT_COLLECTED`, never "none". `organization` is None only when written as null (the account
    is in no organization). `canonical_id` is the account's canonical user id (ListBuckets
    `Owner.ID`), which S3 ACL grants to the account name.
    """

    account_id: str
    iam: Iam | Unreadable
    organization: Organization | Unreadable | None
    canonical_id: str | Unreadable


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Object:
    key: str
    head: Mapping[str, Any] | Unreadable | None
    acl: Mapping[str, Any] | Unreadable | None
    tags: Mapping[str, str] | Unreadable | None = None  # TagSet by key; None: not collected


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    name: str
    owner_id: str | None
    region: str | None
    policy: Any | Unreadable | None
    acl: Mapping[str, Any] | Unreadable | None
    ownership: str | Unreadable | None  # ObjectOwnership rule value
    public_access_block: Mapping[str, Any] | Unreadable | None
    encryption: Mapping[str, Any] | Unreadable | None
    request_payment: str | Unreadable | None
    objects: Mapping[str, S3Object | Unreadable] | Unreadable | None  # None: not listed
    tags: Mapping[str, str] | Unreadable | None  # TagSet by key; None: not collected
    abac: str | Unreadable | None  # "Enabled" or "Disabled"; None: not collected
    versioning: Mapping[str, Any] | Unreadable | None = None  # GetBucketVersioning's output


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessPoint:
    arn: str
    name: str
    bucket: str | None
    network_origin: str | None
    vpc_id: str | None
    public_access_block: Mapping[str, Any] | None
    policy: Any | Unreadable | None
    tags: Mapping[str, str] | Unreadable | None = None  # by key; None: not collected
    alias: str | None = None  # GetAccessPoint's Alias: the name S3 takes in place of a bucket's


@dataclass(frozen=True, slots=True, kw_only=True)
class KmsKey:
    arn: str
    metadata: Mapping[str, Any] | Unreadable | None
    policy: Any | Unreadable | None
    grants: tuple[Mapping[str, Any], ...] | Unreadable
    tags: Mapping[str, str] | Unreadable  # TagKey -> TagValue; left out: NOT_COLLECTED


@dataclass(frozen=True, slots=True, kw_only=True)
class VpcEndpoint:
    id: str
    vpc_id: str | None
    policy: Any | None  # None: the default full-access policy
    endpoint_type: str | None = None  # VpcEndpointType: "Gateway" | "Interface" | ...
    owner_id: str | None = None  # OwnerId: the account that owns the endpoint


class Snapshot:
    """An indexed snapshot, with a cache of compiled policies shared by every request."""

    __slots__ = (
        "_compiled",
        "_conforms",
        "access_points",
        "account_id",
        "account_public_access_block",
        "accounts",
        "buckets",
        "document",
        "iam",
        "kms_aliases",
        "kms_keys",
        "organization",
        "partition",
        "plans",
        "region",
        "resolved",
        "verdicts",
        "vpc_endpoints",
    )

    def __init__(
        self,
        *,
        document: Json,
        account_id: str,
        partition: str,
        region: str | None,
        iam: Iam | Unreadable | None,
        organization: Organization | Unreadable | None,
        account_public_access_block: Mapping[str, Any] | Unreadable | None,
        buckets: Mapping[str, Bucket | Unreadable],
        access_points: Mapping[str, AccessPoint | Unreadable],
        kms_keys: Mapping[str, KmsKey | Unreadable],
        vpc_endpoints: Mapping[str, VpcEndpoint | Unreadable],
        accounts: Mapping[str, AccountSide | Unreadable] | None = None,
        kms_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.document = document
        self.account_id = account_id
        self.partition = partition
        self.region = region
        self.iam = iam
        self.organization = organization
        self.account_public_access_block = account_public_access_block
        self.buckets = buckets
        self.access_points = access_points
        self.kms_keys = kms_keys
        self.kms_aliases: Mapping[str, str] = kms_aliases or {}  # alias ARN -> key ARN
        self.vpc_endpoints = vpc_endpoints
        self.accounts: Mapping[str, AccountSide | Unreadable] = accounts or {}
        self._compiled: dict[tuple[object, ...], Any] = {}
        self._conforms = False  # the fast check accepted `document` (load_snapshot sets it)
        self.plans: dict[tuple[object, ...], Any] = {}  # the engine's per-action statement plans
        self.verdicts: dict[tuple[object, ...], Any] = {}  # the engine's verdicts by request shape
        # the engine's resolutions of the last requests, by object (`engine.resolve`)
        # (shared by a fix's patched snapshot that resolves every request as this one does)
        self.resolved: dict[int, tuple[Any, Any]] = {}

    def cached(self, key: tuple[object, ...], build: Callable[[], T]) -> T:
        """Build once per snapshot (compiled policies, parsed ACLs...); errors are cached too."""
        try:
            hit = self._compiled[key]
        except KeyError:
            try:
                hit = build()
            except Exception as error:  # cached so a broken policy is reported, not re-parsed
                hit = _Failure(error)
            self._compiled[key] = hit
        if isinstance(hit, _Failure):
            raise hit.error
        return hit  # type: ignore[no-any-return]

    def side(self, account_id: str | None) -> AccountSide | Unreadable | None:
        """The side of another account (`accounts.<id>`); None when absent or this account."""
        if not account_id or account_id == self.account_id:
            return None
        return self.accounts.get(account_id)

    def kms_key(self, key_id: str) -> KmsKey | Unreadable | None:
        """A key by ARN, key id or alias ARN as the snapshot lists it."""
        if key_id in self.kms_keys:
            return self.kms_keys[key_id]
        tail = key_id.rsplit("/", 1)[-1]
        for arn, key in self.kms_keys.items():
            if arn.rsplit("/", 1)[-1] == tail:
                return key
        return None


@dataclass(frozen=True, slots=True)
class _Failure:
    error: Exception


# --------------------------------------------------------------------------- loading


def validate_snapshot_document(doc: Any) -> None:
    """Raise InputError naming the first offending field (e.g. `s3.buckets.b.acl.Grants`)."""
    if not conforms("snapshot", doc):
        _refuse(doc)


def _refuse(doc: Any) -> NoReturn:
    """The InputError of a document the fast check refused, naming the field at fault when the
    slow check finds it (it reads a few values more loosely: `$` of a pattern before a final
    newline, so an account id "111122223333\n" is no fault to it)."""
    import jsonschema  # only to name the field at fault (start-up: the check is `conforms`)

    validator = jsonschema.Draft202012Validator(schema("snapshot"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:  # named as the fast check names it ("data.account_id must ...")
        field, _, reason = (refusal("snapshot", doc) or "data does not conform").partition(" ")
        raise InputError("snapshot" + field.removeprefix("data"), reason)
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    raise InputError(f"snapshot.{where}" if error.absolute_path else "snapshot", error.message)


def load_snapshot(doc: Any, *, like: Snapshot | None = None) -> Snapshot:
    """Validate and index a snapshot document (DESIGN 3.2).

    `like`: a snapshot loaded before, whose document `doc` shares parts with (fix verification
    loads `like.document` with one change). The parts of `doc` that are the very objects of
    `like.document` are neither checked (`schemas.delta`) nor indexed again: `like`'s are
    reused. Same acceptance, same error, same snapshot as without `like`; neither document may
    be changed in place afterwards (nothing does: loaded documents are read only).
    """
    old = like.document if like is not None and isinstance(like.document, dict) else None
    checked = old if like is not None and like._conforms else None  # valid to the fast check
    valid = (
        checked is not None and isinstance(doc, dict) and _conforms_like(doc, checked)
    ) or conforms("snapshot", doc)
    if not valid:
        _refuse(doc)
    was: dict[str, Old] = {} if old is None or like is None else _parts_of(old, like)
    s3 = doc.get("s3") or {}
    loaded = Snapshot(
        document=doc,
        account_id=doc["account_id"],
        partition=doc.get("partition", "aws"),
        region=doc.get("region"),
        iam=_part(doc, "iam", _iam_loader(was.get("iam")), was.get("iam")),
        organization=_part(doc, "organization", _load_org, was.get("organization")),
        account_public_access_block=_part(
            s3, "account_public_access_block", _as_mapping, was.get("bpa")
        ),
        buckets=_table(s3.get("buckets"), "s3.buckets", _load_bucket, was.get("buckets")),
        access_points=_table(
            s3.get("access_points"), "s3.access_points", _load_access_point, was.get("aps")
        ),
        kms_keys=_table(
            (doc.get("kms") or {}).get("keys"), "kms.keys", _load_kms_key, was.get("keys")
        ),
        vpc_endpoints=_table(
            doc.get("vpc_endpoints"), "vpc_endpoints", _load_vpce, was.get("vpces")
        ),
        accounts=_table(
            doc.get("accounts"), "accounts", _side_loader(was.get("accounts")), was.get("accounts")
        ),
        kms_aliases=dict((doc.get("kms") or {}).get("aliases") or {}),
    )
    loaded._conforms = valid
    return loaded


def _conforms_like(doc: dict[str, Any], old: dict[str, Any]) -> bool:
    from .schemas.delta import conforms_like  # imported by fix verification only (start-up)

    return conforms_like("snapshot", doc, old)


Old = tuple[Any, Any]
"""A part of the `like` snapshot: its raw value in the document, and what it was indexed to."""


def _parts_of(doc: Mapping[str, Any], snapshot: Snapshot) -> dict[str, Old]:
    s3 = doc.get("s3") or {}
    return {
        "iam": (doc.get("iam"), snapshot.iam),
        "organization": (doc.get("organization"), snapshot.organization),
        "bpa": (s3.get("account_public_access_block"), snapshot.account_public_access_block),
        "buckets": (s3.get("buckets"), snapshot.buckets),
        "aps": (s3.get("access_points"), snapshot.access_points),
        "keys": ((doc.get("kms") or {}).get("keys"), snapshot.kms_keys),
        "vpces": (doc.get("vpc_endpoints"), snapshot.vpc_endpoints),
        "accounts": (doc.get("accounts"), snapshot.accounts),
    }


def _entry(old: Old | None, name: str) -> Old | None:
    """The entry `name` of an old table: its raw value and what it was indexed to."""
    if old is None or not isinstance(old[0], Mapping) or not isinstance(old[1], Mapping):
        return None
    if name not in old[0] or name not in old[1]:
        return None
    return old[0][name], old[1][name]


def _alike(new: Any, old: Any) -> bool:
    """`new` is `old`, or a copy of that mapping whose values are the very same objects."""
    if new is old:
        return True
    return (
        type(new) is dict
        and type(old) is dict
        and len(new) == len(old)
        and all(key in old and old[key] is value for key, value in new.items())
    )


def parse_json_document(value: Any) -> Any:
    """Policy documents may be objects or the JSON strings (maybe URL-encoded) APIs return."""
    if isinstance(value, str):
        from urllib.parse import unquote

        text = value.strip()
        if text.startswith("%7B") or text.startswith("%7b"):
            text = unquote(text)
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return value  # left to the policy compiler to reject with a MalformedPolicyError
    return value


def _part(
    parent: Mapping[str, Any], key: str, build: Callable[[Any, str], T], old: Old | None = None
) -> T | Unreadable | None:
    if key not in parent or parent[key] is None:
        return None
    if old is not None and parent[key] is old[0]:
        return old[1]  # type: ignore[no-any-return]
    return unreadable_of(parent[key], key) or build(parent[key], key)


def _as_mapping(value: Any, where: str) -> Mapping[str, Any]:
    return dict(value)


def _table(
    raw: Any, where: str, build: Callable[[str, Any, str], T], old: Old | None = None
) -> dict[str, T | Unreadable]:
    if not isinstance(raw, Mapping):
        return {}
    if old is not None and raw is old[0] and isinstance(old[1], dict):
        return old[1]
    out: dict[str, T | Unreadable] = {}
    for name, value in raw.items():
        kept = _entry(old, name)
        if kept is not None and value is kept[0]:
            out[name] = kept[1]
            continue
        path = f"{where}.{name}"
        out[name] = unreadable_of(value, path) or build(name, value, path)
    return out


def _entries(
    items: Any, key: str, build: Callable[[int, Mapping[str, Any]], T], old: Old | None
) -> dict[str, T]:
    """`{item[key]: build(i, item)}` over a list of entries; an entry alike the one at the same
    index of the old list keeps what that was indexed to (when no later entry took its name)."""
    before: list[Any] = []
    last: dict[str, int] = {}
    if old is not None and isinstance(old[0], list) and isinstance(old[1], dict):
        before = old[0]
        last = {item[key]: i for i, item in enumerate(before)}
    out: dict[str, T] = {}
    for i, item in enumerate(items or ()):
        name = item[key]
        if last.get(name) == i and _alike(item, before[i]):
            out[name] = old[1][name]  # type: ignore[index]
        else:
            out[name] = build(i, item)
    return out


def _maybe(value: Any, where: str) -> Any:
    """Unreadable marker, or the value (None when absent)."""
    return unreadable_of(value, where) or value


def _inline(raw: Any, where: str) -> tuple[InlinePolicy, ...] | Unreadable:
    marker = unreadable_of(raw, where)
    if marker:
        return marker
    return tuple(
        InlinePolicy(
            name=p.get("PolicyName", f"inline-{i}"),
            document=_maybe(p.get("PolicyDocument"), f"{where}.{i}.PolicyDocument"),
        )
        for i, p in enumerate(raw or ())
    )


def _attached(raw: Any, where: str) -> tuple[str, ...] | Unreadable:
    marker = unreadable_of(raw, where)
    if marker:
        return marker
    return tuple(p["PolicyArn"] for p in raw or ())


def _entity(kind: str, raw: Mapping[str, Any], where: str) -> Entity:
    name_key = {"user": "UserName", "group": "GroupName", "role": "RoleName"}[kind]
    id_key = {"user": "UserId", "group": "GroupId", "role": "RoleId"}[kind]
    inline_key = {"user": "UserPolicyList", "group": "GroupPolicyList", "role": "RolePolicyList"}
    boundary_raw = raw.get("PermissionsBoundary")
    boundary: str | Unreadable | None
    if boundary_raw is None:
        boundary = None
    else:
        boundary = unreadable_of(boundary_raw, f"{where}.PermissionsBoundary") or boundary_raw.get(
            "PermissionsBoundaryArn"
        )
    groups_raw = raw.get("GroupList", ())
    return Entity(
        kind=kind,
        name=raw[name_key],
        arn=raw["Arn"],
        path=raw.get("Path", "/"),
        unique_id=raw.get(id_key),
        inline=_inline(raw.get(inline_key[kind]), f"{where}.{inline_key[kind]}"),
        attached=_attached(raw.get("AttachedManagedPolicies"), f"{where}.AttachedManagedPolicies"),
        groups=unreadable_of(groups_raw, f"{where}.GroupList") or tuple(groups_raw or ()),
        boundary_arn=boundary,
        tags=_tags(raw.get("Tags")),
    )


def _tags(raw: Any) -> Mapping[str, str]:
    """Principal tags; unreadable tags count as none (aws:PrincipalTag keys stay absent)."""
    if raw is None or unreadable_of(raw) is not None:
        return {}
    return {t["Key"]: t["Value"] for t in raw if "Key" in t}


def _iam_loader(old: Old | None) -> Callable[[Mapping[str, Any], str], Iam]:
    return lambda raw, where: _load_iam(raw, where, old)


def _load_iam(raw: Mapping[str, Any], where: str, old: Old | None = None) -> Iam:
    before: Mapping[str, Any] = {}
    was: Iam | None = None
    if old is not None and isinstance(old[0], Mapping) and isinstance(old[1], Iam):
        before, was = old
    names = {"user": "UserName", "group": "GroupName", "role": "RoleName"}

    def entities(list_key: str, kind: str, prior: Any) -> dict[str, Entity] | Unreadable:
        items = raw.get(list_key)
        if was is not None and items is before.get(list_key):
            return prior  # type: ignore[no-any-return]
        marker = unreadable_of(items, f"{where}.{list_key}")
        if marker:
            return marker
        return _entries(
            items,
            names[kind],
            lambda i, item: _entity(kind, item, f"{where}.{list_key}.{i}"),
            (before.get(list_key), prior) if was is not None else None,
        )

    raw_policies = raw.get("Policies")
    policies: Mapping[str, ManagedPolicy] | Unreadable
    if was is not None and raw_policies is before.get("Policies"):
        policies = was.policies
    else:
        policies = unreadable_of(raw_policies, f"{where}.Policies") or _entries(
            raw_policies,
            "Arn",
            lambda i, item: _managed(item, f"{where}.Policies.{i}"),
            (before.get("Policies"), was.policies) if was is not None else None,
        )
    return Iam(
        users=entities("UserDetailList", "user", was and was.users),
        groups=entities("GroupDetailList", "group", was and was.groups),
        roles=entities("RoleDetailList", "role", was and was.roles),
        policies=policies,
    )


def _managed(item: Mapping[str, Any], where: str) -> ManagedPolicy:
    default_id = item.get("DefaultVersionId")
    versions_raw = item.get("PolicyVersionList")
    marker = unreadable_of(versions_raw, f"{where}.PolicyVersionList")
    versions = (
        {} if marker else {v.get("VersionId", ""): v.get("Document") for v in versions_raw or ()}
    )
    document: Any = marker
    if not marker:
        default = next((v for v in versions_raw or () if v.get("IsDefaultVersion")), None)
        if default is None and default_id in versions:
            document = versions[default_id]
        elif default is not None:
            document = default.get("Document")
            default_id = default.get("VersionId", default_id)
        else:
            document = Unreadable(
                code="MissingDefaultVersion", needs="iam:GetPolicyVersion", where=where
            )
    return ManagedPolicy(
        arn=item["Arn"],
        name=item.get("PolicyName", item["Arn"].rsplit("/", 1)[-1]),
        default_version_id=default_id,
        document=document,
        versions=versions,
    )


def _org_policies(raw: Any, where: str) -> tuple[OrgPolicy, ...] | Unreadable | None:
    if raw is None:
        return None
    marker = unreadable_of(raw, where)
    if marker:
        return marker
    return tuple(
        OrgPolicy(
            id=p.get("Id", f"{where}.{i}"),
            name=p.get("Name", p.get("Id", f"policy-{i}")),
            arn=p.get("Arn"),
            content=p.get("Content"),
        )
        for i, p in enumerate(raw)
    )


def _load_org(raw: Mapping[str, Any], where: str) -> Organization:
    levels = tuple(
        OrgLevel(
            target_id=level["target_id"],
            scps=_org_policies(level.get("scps"), f"{where}.levels.{i}.scps"),
            rcps=_org_policies(level.get("rcps"), f"{where}.levels.{i}.rcps"),
        )
        for i, level in enumerate(raw.get("levels") or ())
    )
    return Organization(
        levels=levels,
        management_account_id=raw.get("management_account_id"),
        org_id=raw.get("org_id"),
    )


def _side_loader(old: Old | None) -> Callable[[str, Mapping[str, Any], str], AccountSide]:
    return lambda account_id, raw, where: _load_side(
        account_id, raw, where, _entry(old, account_id)
    )


def _load_side(
    account_id: str, raw: Mapping[str, Any], where: str, old: Old | None = None
) -> AccountSide:
    """`accounts.<id>`: a part left out was not collected (unchecked), never "none"."""

    def left_out(part: str, needs: str) -> Unreadable:
        return Unreadable(code=NOT_COLLECTED, needs=f"{needs} in account {account_id}", where=part)

    old_iam: Old | None = None
    old_org: Old | None = None
    if old is not None and isinstance(old[0], Mapping) and isinstance(old[1], AccountSide):
        old_iam = (old[0].get("iam"), old[1].iam)
        old_org = (old[0].get("organization"), old[1].organization)
    iam: Iam | Unreadable
    if "iam" in raw:
        iam = _part(raw, "iam", _iam_loader(old_iam), old_iam) or left_out(
            f"{where}.iam", "iam:GetAccountAuthorizationDetails"
        )
    else:
        iam = left_out(f"{where}.iam", "iam:GetAccountAuthorizationDetails")
    organization: Organization | Unreadable | None
    if "organization" in raw:
        organization = _part(raw, "organization", _load_org, old_org)
    else:
        organization = left_out(f"{where}.organization", "organizations:ListPoliciesForTarget")
    canonical = raw.get("canonical_id")
    canonical_id: str | Unreadable
    if isinstance(canonical, str) and canonical:
        canonical_id = canonical
    else:
        canonical_id = unreadable_of(canonical, f"{where}.canonical_id") or left_out(
            f"{where}.canonical_id", "s3:ListAllMyBuckets"
        )
    return AccountSide(
        account_id=account_id, iam=iam, organization=organization, canonical_id=canonical_id
    )


def _load_bucket(name: str, raw: Mapping[str, Any], where: str) -> Bucket:
    ownership_raw = raw.get("ownership_controls")
    ownership: str | Unreadable | None = unreadable_of(ownership_raw, f"{where}.ownership_controls")
    if ownership is None and isinstance(ownership_raw, Mapping):
        rules = ownership_raw.get("Rules") or ()
        ownership = rules[0].get("ObjectOwnership") if rules else None
    objects_raw = raw.get("objects")
    objects: Mapping[str, S3Object | Unreadable] | Unreadable | None
    if objects_raw is None:
        objects = None
    else:
        objects = unreadable_of(objects_raw, f"{where}.objects") or _table(
            objects_raw, f"{where}.objects", _load_object
        )
    payment = raw.get("request_payment")
    if isinstance(payment, Mapping) and UNREADABLE_KEY not in payment:
        payment = payment.get("Payer")
    return Bucket(
        name=name,
        owner_id=(raw.get("owner") or {}).get("ID")
        if isinstance(raw.get("owner"), Mapping)
        else None,
        region=raw.get("region") if isinstance(raw.get("region"), str) else None,
        policy=_maybe(raw.get("policy"), f"{where}.policy"),
        acl=_maybe(raw.get("acl"), f"{where}.acl"),
        ownership=ownership,
        public_access_block=_maybe(raw.get("public_access_block"), f"{where}.public_access_block"),
        encryption=_maybe(raw.get("encryption"), f"{where}.encryption"),
        request_payment=_maybe(payment, f"{where}.request_payment"),
        objects=objects,
        tags=_tag_set(raw.get("tags"), f"{where}.tags"),
        abac=_maybe(raw.get("abac"), f"{where}.abac"),
        versioning=_maybe(raw.get("versioning"), f"{where}.versioning"),
    )


def _tag_set(raw: Any, where: str) -> Mapping[str, str] | Unreadable | None:
    """A bucket's or an object's TagSet by key (the schema holds each to a string Key and
    Value)."""
    if isinstance(raw, list):
        return {tag["Key"]: tag["Value"] for tag in raw}
    return unreadable_of(raw, where)  # None: not collected


def _owner_id(owner: Any) -> str | None:
    return owner.get("ID") if isinstance(owner, Mapping) else None


def _load_object(key: str, raw: Mapping[str, Any], where: str) -> S3Object:
    return S3Object(
        key=key,
        head=_maybe(raw.get("head"), f"{where}.head"),
        acl=_maybe(raw.get("acl"), f"{where}.acl"),
        tags=_tag_set(raw.get("tags"), f"{where}.tags"),
    )


def _load_access_point(arn: str, raw: Mapping[str, Any], where: str) -> AccessPoint:
    vpc = raw.get("VpcConfiguration") or {}
    return AccessPoint(
        arn=arn,
        name=raw.get("Name", arn.rsplit("/", 1)[-1]),
        bucket=raw.get("Bucket"),
        network_origin=raw.get("NetworkOrigin"),
        vpc_id=vpc.get("VpcId") if isinstance(vpc, Mapping) else None,
        public_access_block=raw.get("PublicAccessBlockConfiguration"),
        policy=_maybe(raw.get("policy"), f"{where}.policy"),
        tags=_tag_set(raw.get("tags"), f"{where}.tags"),
        alias=alias if isinstance(alias := raw.get("Alias"), str) else None,
    )


def _load_kms_key(arn: str, raw: Mapping[str, Any], where: str) -> KmsKey:
    grants_raw = raw.get("grants")
    return KmsKey(
        arn=arn,
        metadata=_maybe(raw.get("metadata"), f"{where}.metadata"),
        policy=_maybe(raw.get("policy"), f"{where}.policy"),
        grants=unreadable_of(grants_raw, f"{where}.grants") or tuple(grants_raw or ()),
        tags=_kms_key_tags(raw.get("tags"), f"{where}.tags"),
    )


def _kms_key_tags(raw: Any, where: str) -> Mapping[str, str] | Unreadable:
    """A KMS key's `Tags` by key (the schema holds each to a string TagKey and TagValue); a
    snapshot that leaves them out did not collect them (NOT_COLLECTED), never "no tags"."""
    if isinstance(raw, list):
        return {tag["TagKey"]: tag["TagValue"] for tag in raw}
    return unreadable_of(raw, where) or Unreadable(
        code=NOT_COLLECTED, needs="kms:ListResourceTags", where=where
    )


def _load_vpce(endpoint_id: str, raw: Mapping[str, Any], where: str) -> VpcEndpoint:
    policy = raw.get("PolicyDocument")
    return VpcEndpoint(
        id=endpoint_id,
        vpc_id=raw.get("VpcId"),
        policy=_maybe(policy, f"{where}.PolicyDocument"),
        endpoint_type=raw.get("VpcEndpointType"),
        owner_id=owner if isinstance(owner := raw.get("OwnerId"), str) else None,
    )
