"""A request as the snapshot completes it: the requester's user or role ARN with its path, and
the context keys AWS knows and the request does not say: the bucket owner's account, the
organizations of the principal and of the bucket owner, the principal's tags.

A role-session ARN (`arn:aws:sts::ACCT:assumed-role/NAME/SESSION`) carries no role path, and a
runbook user may give a role or user ARN without its path. AWS evaluates the identity's real
ARN, path included (`aws:PrincipalArn`, a Principal element naming the role): IAM role and user
names are unique in an account whatever their path
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns),
so the snapshot's entity of that name is the requester (in the requester's account: the
top-level IAM, or `accounts.<id>.iam` for another account). `resolve_principal` swaps its ARN in:
`principal_arn`, and the `aws:PrincipalArn` value that was derived from the requester ARN
(a value given explicitly by the user is kept). The request's notes are the pipeline's to
update (the engine never reads them: see `verdict_cache.UNREAD_FIELDS`).

AWS puts the bucket owner's account in every S3 request's context, as `aws:ResourceAccount`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount:
"always included in the request context for most service actions"; S3 is not among the
exceptions) and `s3:ResourceAccount` (the account ID of the bucket owner,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html). An event's
request carries both whenever its record names an account (`events.context`); a runbook-style
request gets them here, unless its context names them: the request's `bucket_account` when
given, else the snapshot's account when its buckets table holds the bucket (the top level
describes the bucket owner) and some part of it could be read, else nothing (an unknown owner
is not guessed: the key stays absent).

AWS also puts the organization of the principal's account in the context as
`aws:PrincipalOrgID` and its path as `aws:PrincipalOrgPaths` ("included in the request context
only if the principal is a member of an organization"), and those of the resource's account as
`aws:ResourceOrgID` and `aws:ResourceOrgPaths`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html; a path
is `o-id/r-id/ou-id/.../`, the organization, its root and the OUs down to the account). A
CloudTrail record names neither, so every request gets them here when the snapshot knows the
organization of that account (the top level's, or `accounts.<id>.organization`) and its context
does not name them; an account in no organization, or whose organization was not read, gets
none. The resource's account is the request's `aws:ResourceAccount`.

The tags of the requester's IAM user or role are its `aws:PrincipalTag/<key>` keys (for a role
session, with the session's own tags, which a CloudTrail data event does not log and which win
over a role tag of the same key: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html).
Neither a record nor a runbook input carries them: every request gets the snapshot's user or
role tags the context does not give. A federated user's session carries the tags of the IAM
user who called GetFederationToken (its record's `sessionIssuer`), which that call's session
tags override ("session tags override a user tag with the same key", STS API reference).

A request through a VPC endpoint carries the endpoint's VPC as `aws:SourceVpc`; the record
names only the endpoint (`aws:SourceVpce`), whose `VpcId` the snapshot's `vpc_endpoints` hold.
The request's note that the VPC is unknown (`events.context`) is then reworded (`derived_notes`).
It also carries the account that owns the endpoint as `aws:VpceAccount`, and that account's
organization and path as `aws:VpceOrgID` and `aws:VpceOrgPaths` (global keys since August 2025,
which S3 supports, gateway endpoints included: the data perimeter "only through our
endpoints"). A record names the owner (`vpcEndpointAccountId`); a runbook request gets it from
the endpoint's `OwnerId` in the snapshot; the organization is the snapshot's for that account,
as for the principal's.

A general purpose bucket's tags are in the context only while its ABAC status is `Enabled`
(off by default; when off, tags serve cost allocation only): "S3 evaluates this condition key
only after you enable ABAC on your bucket"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/buckets-tagging.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketAbac.html). Each tag is then
`aws:ResourceTag/<key>` and `s3:BucketTag/<key>` (the Service Authorization Reference lists both
on the `bucket` and `object` resource types), for bucket and object actions alike. A request
through an access point gets the access point's own tags as `aws:ResourceTag/<key>` instead
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-tagging.html; ABAC is on by
default for access points, a setting only for general purpose buckets), from the snapshot's
`s3.access_points.<ARN>.tags`; a request on several buckets gets none (one context for both).
There `s3:BucketTag/<key>` is left out: AWS does not say whether the bucket's tags count through
an access point, and a note says so when a policy names the key and the bucket's tags would be
in the context of a request on the bucket itself.
The snapshot's `s3.buckets.<name>.abac` and `.tags` hold them; when either (or the access
point's tags) could not be read and some policy names such a key, a note says that they were
not checked (`derived_notes`).

A request through an access point carries `s3:AccessPointNetworkOrigin`, `Internet` or `VPC`
as the access point's network origin
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-policies.html, condition
keys), for its access point policy and the bucket policy alike: the snapshot's
`s3.access_points.<ARN>.NetworkOrigin`. An access point the snapshot does not hold (or could
not read) leaves the key unknown, and a note says so when a policy names it (`derived_notes`).

A bucket name ending in `-s3alias` is an access point's alias: S3 serves the request through
that access point, on its bucket, and no policy can name the alias
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-alias.html). A request on
an alias (a record naming the alias and no access point) becomes the request through the
snapshot's access point of that alias (`s3.access_points.<ARN>.Alias`), with its
`s3:DataAccessPointArn` and `s3:DataAccessPointAccount`; without one, the alias stays
unresolved (`s3rules` says so, and no fix names it).

An object's tags are `s3:ExistingObjectTag/<key>` of a request on it whose action carries that
key (the Service Authorization Reference lists it for GetObject, GetObjectAcl,
PutObjectTagging..., not for PutObject, which replaces the object): the snapshot's
`s3.buckets.<name>.objects.<key>.tags`, for a request whose operations all act on that one
object. Tags not read while a policy names the key get a note. Pure: no boto3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from operator import attrgetter
from typing import Final

from ..arn import is_access_point_alias, is_account_id, parse_arn
from ..events.actions import supports_condition_key
from ..model import AccessRequest, ContextEntry, Principal, PrincipalType
from ..snapshot import (
    AccessPoint,
    AccountSide,
    Bucket,
    Entity,
    Iam,
    Organization,
    S3Object,
    Snapshot,
    Unreadable,
    VpcEndpoint,
)
from .context import normalise_key

_DERIVED_PREFIX: Final = "derived:"
RESOURCE_ACCOUNT_KEYS: Final = ("s3:ResourceAccount", "aws:ResourceAccount")
FROM_BUCKET_ACCOUNT: Final = "derived:bucket_account"
FROM_SNAPSHOT: Final = "derived:bucket owner in the snapshot"
_ASSUMED_OWNER: Final = "(bucket owner assumed)"  # `events.parse`: the record named no account
FROM_ORGANIZATION: Final = "derived:organization in the snapshot"
FROM_USER_TAGS: Final = "derived:user tags in the snapshot"
FROM_UNIQUE_ID: Final = "derived:unique id of the user or role in the snapshot"
FROM_ENDPOINT: Final = "derived:VpcId of the endpoint in the snapshot"
FROM_ENDPOINT_OWNER: Final = "derived:OwnerId of the endpoint in the snapshot"
FROM_BUCKET_TAGS: Final = "derived:bucket tags in the snapshot (ABAC enabled)"
FROM_OBJECT_TAGS: Final = "derived:object tags in the snapshot"
FROM_ACCESS_POINT_TAGS: Final = "derived:access point tags in the snapshot"
FROM_ALIAS: Final = "derived:access point alias in the snapshot"
FROM_NETWORK_ORIGIN: Final = "derived:NetworkOrigin of the access point in the snapshot"
NETWORK_ORIGIN_KEY: Final = "s3:AccessPointNetworkOrigin"
OBJECT_TAG_PREFIX: Final = "s3:ExistingObjectTag/"
BUCKET_TAG_PREFIXES: Final = ("aws:ResourceTag/", "s3:BucketTag/")
_BUCKET_TAG_LOWER: Final = tuple(prefix.lower() for prefix in BUCKET_TAG_PREFIXES)
_OBJECT_TAG_KEY: Final = "s3:ExistingObjectTag/${TagKey}"
ACCESS_POINT_TAG_PREFIX: Final = "s3:AccessPointTag/"
_POINT_TAG_KEY: Final = "s3:AccessPointTag/${TagKey}"
# The events' note while the endpoint's VPC is unknown (`events.context`), and its rewording.
VPC_UNKNOWN_NOTE: Final = "aws:SourceVpc needs the endpoint's VPC (ec2:DescribeVpcEndpoints)."
VPC_KNOWN_NOTE: Final = "aws:SourceVpc is the endpoint's VPC in the snapshot."
# The events' note on a request made with an EC2 instance's role credentials
# (`events.context.EC2_CREDENTIALS_NOTE`): kept only when a policy tests the instance keys.
EC2_CREDENTIALS_NOTE: Final = "Made with the role credentials of EC2 instance"
# Keys S3 puts in a request's context that a CloudTrail record never carries, by what they hold.
_UNLOGGED_KEYS: Final = {
    "aws:Referer": "the Referer header",
    "s3:signatureAge": "the age of a presigned URL's signature",
    "s3:x-amz-content-sha256": "the x-amz-content-sha256 header",
}
_SIGNATURE_AGE: Final = "s3:signatureAge"
_PRESIGNED_AUTH: Final = "REST-QUERY-STRING"  # s3:authType of a presigned URL's request
# And those of a call an AWS service principal makes for a resource (log delivery...).
_UNLOGGED_SERVICE_KEYS: Final = {
    "aws:SourceArn": "the resource the service acted for",
    "aws:SourceAccount": "the account of the resource the service acted for",
    "aws:SourceOrgID": "the organization of that account",
    "aws:SourceOrgPaths": "the organization path of that account",
}
_INSTANCE_KEYS: Final = (
    "ec2:sourceinstancearn",
    "aws:ec2instancesourcevpc",
    "aws:ec2instancesourceprivateipv4",
)
# A role session's own tags (not in a CloudTrail data event) override the role's of their key.
FROM_ROLE_TAGS: Final = "derived:role tags in the snapshot (session tags, not logged, would win)"
# A federated user's session carries the tags of the IAM user who called GetFederationToken,
# which the call's own session tags override.
FROM_FEDERATING_USER_TAGS: Final = (
    "derived:tags of the federating user in the snapshot (session tags, not logged, would win)"
)
# Sources of the entries resolution adds; they come last, so a request whose last entry has one
# was resolved already (the engine resolves a request repeatedly).
_ADDED_SOURCES: Final = frozenset(
    {
        FROM_BUCKET_ACCOUNT,
        FROM_SNAPSHOT,
        FROM_ORGANIZATION,
        FROM_USER_TAGS,
        FROM_UNIQUE_ID,
        FROM_ROLE_TAGS,
        FROM_FEDERATING_USER_TAGS,
        FROM_ENDPOINT,
        FROM_ENDPOINT_OWNER,
        FROM_BUCKET_TAGS,
        FROM_OBJECT_TAGS,
        FROM_ACCESS_POINT_TAGS,
        FROM_NETWORK_ORIGIN,
    }
)
# The context keys whose values (not only whose presence) the added entries depend on: the
# resource's organization is that of the `aws:ResourceAccount` value, the VPC and its owner
# those of the `aws:SourceVpce` value, the endpoint's organization that of the `aws:VpceAccount`
# value. A walk that remembers what resolution adds per context form must not take a form that
# gives one of them (`runbook_verdicts`).
VALUE_READ_KEYS: Final = frozenset({"aws:resourceaccount", "aws:sourcevpce", "aws:vpceaccount"})
_OUTSIDE_ORGANIZATIONS: Final = frozenset(
    {PrincipalType.ANONYMOUS, PrincipalType.AWS_SERVICE, PrincipalType.UNKNOWN}
)
_LOWER_KEYS: Final = tuple(name.lower() for name in RESOURCE_ACCOUNT_KEYS)
_RESOLVED_TYPES: Final = {
    PrincipalType.IAM_USER: "user",
    PrincipalType.ROLE: "role",
    PrincipalType.ASSUMED_ROLE: "role",
}


def resolve_principal(request: AccessRequest, snapshot: Snapshot) -> AccessRequest:
    """`request` with its user or role ARN as the snapshot holds it, and the context entries
    the snapshot knows and the request lacks, added last (the principal's tags, the bucket
    owner's account, both organizations, the endpoint's VPC, the bucket's tags while its ABAC
    is enabled); the same request when nothing changes.

    A function of the two objects alone (both never change): the answer for each of the last
    requests is kept on the snapshot, by object. A finding resolves its request and the
    probes of its fixes again and again (an event's request some twenty-five times, each time
    in full when the snapshot adds nothing, so no added entry marks it resolved). A fix's
    patched snapshot that resolves every request as the snapshot it was made from shares its
    kept answers (`RESOLUTION_NAMES`)."""
    kept = snapshot.resolved
    found = kept.get(id(request))
    if found is not None and found[0] is request:
        return found[1]  # type: ignore[no-any-return]
    resolved = _with_snapshot_keys(
        _with_principal(_with_alias(request, snapshot), snapshot), snapshot
    )
    keep_resolution(snapshot, request, resolved)
    return resolved


def keep_resolution(snapshot: Snapshot, request: AccessRequest, resolved: AccessRequest) -> None:
    """Keep `resolved` as what `request` resolves to on `snapshot`, and as resolving to itself
    (a test holds that a resolved request does)."""
    kept = snapshot.resolved
    if len(kept) >= _KEPT_RESOLUTIONS:
        kept.clear()
    kept[id(request)] = (request, resolved)  # the request kept: its id is not reused meanwhile
    kept[id(resolved)] = (resolved, resolved)


_KEPT_RESOLUTIONS: Final = 256
RESOLUTION_NAMES: Final = ("aws:userid",)
"""The keys whose naming in a policy changes what `resolve_principal` adds (`_user_id`): no
other part of it reads a policy. Two snapshots that differ in one IAM policy document, neither
version of which names one of these, resolve every request alike: a fix's patched snapshot then
shares the kept resolutions of the snapshot it was made from (`Snapshot.resolved`)."""


def resolved_principal(request: AccessRequest, snapshot: Snapshot) -> Principal:
    """`resolve_principal(request, snapshot).principal`, without the context entries and the
    access point alias the resolution adds (neither changes the principal): what the engine
    reads the principal's IAM policies for."""
    found = snapshot.resolved.get(id(request))
    if found is not None and found[0] is request:
        return found[1].principal  # type: ignore[no-any-return]
    return _principal_of(request.principal, snapshot)


def _principal_of(principal: Principal, snapshot: Snapshot) -> Principal:
    """`_resolved(principal, snapshot)`, kept on the snapshot for each principal."""
    return snapshot.cached(  # type: ignore[no-any-return]
        ("resolved-principal", principal), lambda: _resolved(principal, snapshot)
    )


def _with_alias(request: AccessRequest, snapshot: Snapshot) -> AccessRequest:
    """A request on an access point alias as the request through the snapshot's access point
    of that alias (or the one its record names), on its bucket; the same request otherwise."""
    alias = _one_bucket(request)
    if alias is None or not is_access_point_alias(alias):
        return request
    if request.access_point_arn is not None:  # the record names the access point as well
        point = snapshot.access_points.get(request.access_point_arn)
    else:
        point = snapshot.cached(("aliases",), lambda: _aliases(snapshot)).get(alias)
    parsed = parse_arn(point.arn) if isinstance(point, AccessPoint) else None
    if not isinstance(point, AccessPoint) or point.bucket is None or parsed is None:
        return request
    named, real = f":s3:::{alias}", f":s3:::{point.bucket}"
    operations = tuple(
        replace(op, bucket=point.bucket, resource_arn=op.resource_arn.replace(named, real, 1))
        for op in request.operations
    )
    given = {normalise_key(entry.name) for entry in request.context}
    added = tuple(
        ContextEntry(name=name, values=(value,), source=FROM_ALIAS)
        for name, value in (
            ("s3:DataAccessPointArn", point.arn),
            ("s3:DataAccessPointAccount", parsed.account),
        )
        if name.lower() not in given
    )
    return replace(
        request,
        operations=operations,
        access_point_arn=point.arn,
        context=request.context + added,
    )


def _aliases(snapshot: Snapshot) -> dict[str, AccessPoint]:
    """The snapshot's access points by alias."""
    return {
        point.alias: point
        for point in snapshot.access_points.values()
        if isinstance(point, AccessPoint) and point.alias
    }


def _resource_account(
    request: AccessRequest, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> tuple[ContextEntry, ...]:
    """The `RESOURCE_ACCOUNT_KEYS` entries the context (`given`, by lookup key) lacks, when the
    bucket's owner is known (the request's `bucket_account`, or the snapshot's account holding
    the bucket). A runbook-style request lacks them; an event's has them whenever its record
    names an account (`events.context`)."""
    bucket = _one_bucket(request)
    if bucket is None:
        return ()  # "*" (no bucket), or several
    if request.bucket_account:
        account, source = request.bucket_account, FROM_BUCKET_ACCOUNT
    elif snapshot.account_id and _holds(snapshot.buckets.get(bucket)):
        account, source = snapshot.account_id, FROM_SNAPSHOT
    else:
        return ()
    return _owner_entries(account, source, tuple(low not in given for low in _LOWER_KEYS))


def _one_bucket(request: AccessRequest) -> str | None:
    """The bucket of every operation of the request; None for "*" or several (a copy)."""
    operations = request.operations
    bucket = operations[0].bucket if operations else None
    return None if any(op.bucket != bucket for op in operations[1:]) else bucket


ENDPOINT_OWNER_SOURCE: Final = "event:vpcEndpointAccountId"
"""The source of the `aws:VpceAccount` entry an event's record gives (`events.context`)."""


def recorded_endpoint_owner(request: AccessRequest) -> str | None:
    """The account that owns the request's VPC endpoint, as its record names it; None when the
    record does not (a runbook request, or the endpoint's owner from the snapshot)."""
    for entry in request.context:
        if entry.name == "aws:VpceAccount" and entry.source == ENDPOINT_OWNER_SOURCE:
            return entry.values[0] if len(entry.values) == 1 else None
    return None


def foreign_bucket_account(request: AccessRequest, snapshot: Snapshot) -> str | None:
    """The account the request names as its bucket's owner (an event's `resources[].accountId`)
    when it is not the snapshot's and the snapshot does not hold the bucket (left out, or
    nothing of it read): the snapshot is then the requester's side alone, and the bucket's
    policy, ACLs and Block Public Access are that other account's, not in it. None otherwise
    (the snapshot is the bucket owner's, as DESIGN 3.2 has it)."""
    account = request.bucket_account
    bucket = _one_bucket(request)
    if not account or bucket is None or account == snapshot.account_id or not snapshot.account_id:
        return None
    if not is_account_id(account):
        return None  # not an account id: the record's claim is not taken
    return None if _holds(snapshot.buckets.get(bucket)) else account


def _holds(bucket: Bucket | Unreadable | None) -> bool:
    """Whether the snapshot's account holds the bucket: listed, and some part of it read. A
    bucket of which nothing could be read may be another account's (a collector is refused
    every read there): its owner is not known."""
    if not isinstance(bucket, Bucket):
        return False  # not in the snapshot, or a whole-bucket marker
    parts = (
        bucket.policy,
        bucket.acl,
        bucket.ownership,
        bucket.public_access_block,
        bucket.encryption,
        bucket.request_payment,
    )
    return not all(isinstance(part, Unreadable) for part in parts)


@lru_cache(maxsize=1024)
def _owner_entries(account: str, source: str, wanted: tuple[bool, ...]) -> tuple[ContextEntry, ...]:
    """The entries of the `RESOURCE_ACCOUNT_KEYS` wanted (a batch asks the same few)."""
    return tuple(
        ContextEntry(name=name, values=(account,), source=source)
        for name, want in zip(RESOURCE_ACCOUNT_KEYS, wanted, strict=True)
        if want
    )


def _organizations(
    request: AccessRequest, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> list[ContextEntry]:
    """The `aws:PrincipalOrgID`/`OrgPaths`, `aws:ResourceOrgID`/`OrgPaths` and
    `aws:VpceOrgID`/`OrgPaths` entries the context (`given`, with the owners' accounts added)
    lacks, for the principal's, the resource's and the endpoint's account when the snapshot
    knows its organization."""
    out: list[ContextEntry] = []
    principal = request.principal
    if principal.type not in _OUTSIDE_ORGANIZATIONS:
        out += _org_entries("aws:Principal", principal.account_id, snapshot, given)
    for key, prefix in (("aws:resourceaccount", "aws:Resource"), ("aws:vpceaccount", "aws:Vpce")):
        owner = given.get(key)
        if owner is not None and len(owner.values) == 1:
            out += _org_entries(prefix, owner.values[0], snapshot, given)
    return out


def _org_entries(
    prefix: str, account: str, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> list[ContextEntry]:
    """`<prefix>OrgID` and `<prefix>OrgPaths` of `account`, those the context does not give."""
    org_id, path = organization_keys(account, snapshot)
    if org_id is None:
        return []
    out = []
    if f"{prefix}OrgID".lower() not in given:
        out.append(_org_entry(f"{prefix}OrgID", (org_id,), "string"))
    if path is not None and f"{prefix}OrgPaths".lower() not in given:
        out.append(_org_entry(f"{prefix}OrgPaths", (path,), "stringList"))
    return out


def organization_of(account: str | None, snapshot: Snapshot) -> Organization | None:
    """The organization the snapshot shows `account` in, if any."""
    if not account or not snapshot.cached(("knows organizations",), lambda: _knows(snapshot)):
        return None
    if account == snapshot.account_id:
        org = snapshot.organization
    else:
        side = snapshot.side(account)
        org = side.organization if isinstance(side, AccountSide) else None
    return org if isinstance(org, Organization) else None


def organization_keys(account: str, snapshot: Snapshot) -> tuple[str | None, str | None]:
    """The organization id and path the snapshot shows `account` in, each None if unknown."""
    org = organization_of(account, snapshot)
    if org is None or not org.org_id:
        return None, None
    return org.org_id, _org_path(org, account)


def _org_path(org: Organization, account: str) -> str | None:
    """The account's organization path as AWS writes it (`o-id/r-id/ou-id/.../`: the
    organization, its root and the OUs down to the account's parent), from the levels (root
    first, the account last); None when they do not read as that chain."""
    ids = [level.target_id for level in org.levels]
    if len(ids) < 2 or ids[-1] != account or not ids[0].startswith("r-"):
        return None
    if not all(target.startswith("ou-") for target in ids[1:-1]):
        return None
    return "".join(f"{part}/" for part in (org.org_id, *ids[:-1]))


def _knows(snapshot: Snapshot) -> bool:
    """Whether the snapshot holds any organization id (most single-account ones do not)."""
    sides = (
        side.organization for side in snapshot.accounts.values() if isinstance(side, AccountSide)
    )
    return any(
        isinstance(org, Organization) and bool(org.org_id)
        for org in (snapshot.organization, *sides)
    )


@lru_cache(maxsize=1024)
def _org_entry(name: str, values: tuple[str, ...], kind: str) -> ContextEntry:
    return ContextEntry(name=name, values=values, type=kind, source=FROM_ORGANIZATION)


def _with_snapshot_keys(request: AccessRequest, snapshot: Snapshot) -> AccessRequest:
    context = request.context
    if context and context[-1].source in _ADDED_SOURCES:
        return request  # resolved already
    context = _owner_held_here(request, snapshot)
    given = {normalise_key(entry.name): entry for entry in context}  # the last of a name wins
    added = _principal_tags(request, snapshot, given)
    added += _user_id(request, snapshot, given)
    added += _resource_account(request, snapshot, given)
    given.update((normalise_key(entry.name), entry) for entry in added)  # the owner, for its org
    added += _endpoint(snapshot, given)
    given.update((normalise_key(entry.name), entry) for entry in added)  # the endpoint's owner
    added += tuple(_organizations(request, snapshot, given))
    added += _bucket_tags(request, snapshot, given)
    added += _access_point_tags(request, snapshot, given)
    added += _network_origin(request, snapshot, given)
    added += _object_tags(request, snapshot, given)
    if not added and context is request.context:
        return request
    return request.with_context(context + added)


def _owner_held_here(request: AccessRequest, snapshot: Snapshot) -> tuple[ContextEntry, ...]:
    """The context with the bucket's account as the snapshot that holds the bucket says, where
    the event's record named none and the recipient was assumed the owner (`events.parse`):
    the requester's copy of a cross-account record is delivered to the requester's account."""
    context = request.context
    if request.bucket_account is None:
        return context  # a runbook request's: no owner assumed from a record
    bucket = _one_bucket(request)
    owner = snapshot.account_id
    if bucket is None or not owner or not _holds(snapshot.buckets.get(bucket)):
        return context
    if not any(_assumed_other(entry, owner) for entry in context):
        return context
    return tuple(
        replace(entry, values=(owner,), source=FROM_SNAPSHOT)
        if _assumed_other(entry, owner)
        else entry
        for entry in context
    )


def _assumed_other(entry: ContextEntry, owner: str) -> bool:
    return (
        entry.name.lower() in _LOWER_KEYS
        and entry.source.endswith(_ASSUMED_OWNER)
        and entry.values != (owner,)
    )


def derived_notes(
    notes: tuple[str, ...], resolved: AccessRequest, snapshot: Snapshot, *, from_event: bool
) -> tuple[str, ...]:
    """`notes` (the request's) as the `resolved` request leaves them: the VPC note reworded when
    the endpoint's VPC was added, the EC2 instance credentials note dropped when no policy tests
    the instance keys, and a note when the bucket's tags, an endpoint key or a key CloudTrail
    does not log could not be checked and a policy names such a key; the same tuple when nothing
    changes (an s3:BucketTag key through an access point included: `_point_bucket_tags_unchecked`;
    `from_event`: the request is an event's, whose record may lack what CloudTrail
    does not log). The engine never reads notes (`verdict_cache.UNREAD_FIELDS`): the pipeline
    puts these in the finding."""
    if resolved.access_point_arn and any(e.source == FROM_ALIAS for e in resolved.context):
        note = (
            f"The bucket name is the alias of access point {resolved.access_point_arn} (on "
            f"bucket {resolved.bucket}): judged as a request through it."
        )
        if note not in notes:
            notes = (*notes, note)
    if notes and any(entry.source == FROM_ENDPOINT for entry in resolved.context):
        notes = tuple(n.replace(VPC_UNKNOWN_NOTE, VPC_KNOWN_NOTE) for n in notes)
    if any(n.startswith(EC2_CREDENTIALS_NOTE) for n in notes) and not _names_key(
        resolved, snapshot, _INSTANCE_KEYS
    ):
        notes = tuple(n for n in notes if not n.startswith(EC2_CREDENTIALS_NOTE))
    why = _tags_unchecked(resolved, snapshot)
    if why and (
        _names_bucket_tags(resolved, snapshot)
        or _names_key(resolved, snapshot, (ACCESS_POINT_TAG_PREFIX.lower(),))
    ):
        note = f"aws:ResourceTag/<key> and s3:BucketTag/<key> not checked: {why}."
        if note not in notes:
            notes = (*notes, note)
    elif _names_key(resolved, snapshot, (_BUCKET_TAG_LOWER[1],)):
        why = _point_bucket_tags_unchecked(resolved, snapshot)
        note = f"{BUCKET_TAG_PREFIXES[1]}<key> not checked: {why}."
        if why and note not in notes:
            notes = (*notes, note)
    why = _object_tags_unchecked(resolved, snapshot)
    if why and _names_key(resolved, snapshot, (OBJECT_TAG_PREFIX.lower(),)):
        note = f"{OBJECT_TAG_PREFIX}<key> not checked: {why}."
        if note not in notes:
            notes = (*notes, note)
    for note in (
        *_network_origin_unchecked(resolved, snapshot),
        *_endpoint_unchecked(resolved, snapshot),
        *_unlogged(resolved, snapshot, from_event),
    ):
        if note not in notes:
            notes = (*notes, note)
    return notes


def _unlogged(request: AccessRequest, snapshot: Snapshot, from_event: bool) -> tuple[str, ...]:
    """Notes on the keys of `unknown_keys`."""
    return tuple(
        f"{key} not checked: {why}, so the key is absent here."
        for key, why in unknown_keys(request, snapshot, from_event=from_event).items()
    )


def unknown_keys(
    request: AccessRequest, snapshot: Snapshot, *, from_event: bool
) -> Mapping[str, str]:
    """The keys a policy tests that the request lacks and AWS's context may have had, with why
    they are not known: they hold the organization of an account whose organization the
    snapshot does not hold (the requester's, the bucket's), or, for an event's request
    (`from_event`), CloudTrail never logs them (`_UNLOGGED_KEYS`; a runbook request gives what
    it knows, its what-ifs name the rest). `s3:signatureAge` is a presigned URL's alone: not
    one of them when the record says the request was signed in its header (REST-HEADER).
    The answer is kept per snapshot: it depends on the accounts and the names of the context
    given, and for an event's request on whether the requester is a service and how the record
    says it was signed (and on its own policies, when it has some: then not kept)."""
    principal = request.principal
    account = None if principal.type in _OUTSIDE_ORGANIZATIONS else principal.account_id
    resource = _entry(request, "aws:resourceaccount")
    owner = resource.values[0] if resource is not None and len(resource.values) == 1 else None
    if request.session_policy is not None or request.scp_policies:
        return _unknown_keys(request, snapshot, account, owner, from_event=from_event)
    names = tuple(map(_NAME, request.context))
    key: tuple[object, ...] = ("unknown keys", account, owner, names)
    if from_event:
        key += (principal.type is PrincipalType.AWS_SERVICE, _presigned(request))
    return snapshot.cached(
        key, lambda: _unknown_keys(request, snapshot, account, owner, from_event=from_event)
    )


def _unknown_keys(
    request: AccessRequest,
    snapshot: Snapshot,
    account: str | None,
    owner: str | None,
    *,
    from_event: bool,
) -> dict[str, str]:
    unknown = _organizations_unknown(snapshot, account, owner)
    if from_event:
        unlogged = dict(_UNLOGGED_KEYS)
        if request.principal.type is PrincipalType.AWS_SERVICE:
            unlogged.update(_UNLOGGED_SERVICE_KEYS)
        if _presigned(request) is False:
            del unlogged[_SIGNATURE_AGE]
        unknown.update((key, f"CloudTrail does not log {what}") for key, what in unlogged.items())
    if not unknown:
        return unknown
    given = {entry.name.lower() for entry in request.context}  # the keys here have no tag part
    return {
        key: why
        for key, why in unknown.items()
        if key.lower() not in given and _names_key(request, snapshot, (key.lower(),))
    }


_NAME: Final = attrgetter("name")  # of a context entry


def _presigned(request: AccessRequest) -> bool | None:
    """Whether the record says the request was made with a presigned URL (its `s3:authType`);
    None when it does not say."""
    auth = _entry(request, "s3:authtype")
    return None if auth is None else _PRESIGNED_AUTH in auth.values


def _entry(request: AccessRequest, lowered: str) -> ContextEntry | None:
    """The request's last context entry of that (lower-case) name. Not `context_value`: the
    engine reads context through it only for the keys it reads outside its RequestContext
    (`verdict_cache.DIRECT_KEYS`, which a test holds it to); this is resolution's own read."""
    for entry in reversed(request.context):
        if entry.name.lower() == lowered:
            return entry
    return None


def _organizations_unknown(
    snapshot: Snapshot, account: str | None, owner: str | None
) -> dict[str, str]:
    """`aws:PrincipalOrgID`/`OrgPaths` and `aws:ResourceOrgID`/`OrgPaths` when the snapshot
    holds the requester's `account` or the bucket's `owner` without its organization (not
    collected, unreadable, or an organization record without its id): AWS had them if that
    account is in one. An account the snapshot holds nothing of is one this deployment does not
    cover, judged as outside any organization (a partner's bucket under a data perimeter)."""
    out: dict[str, str] = {}
    for prefix, whose_account, whose in (
        ("aws:Principal", account, "the requester's"),
        ("aws:Resource", owner, "the bucket's"),
    ):
        if not whose_account:
            continue
        held = whose_account == snapshot.account_id or snapshot.side(whose_account) is not None
        if held and _organization_unknown(whose_account, snapshot):
            why = f"the snapshot does not hold the organization of {whose} account {whose_account}"
            out[f"{prefix}OrgID"] = why
            out[f"{prefix}OrgPaths"] = why
    return out


def _endpoint_unchecked(request: AccessRequest, snapshot: Snapshot) -> tuple[str, ...]:
    """Notes when a policy names an endpoint key that the request through an endpoint lacks
    here and would carry in AWS: `aws:VpceAccount`, `aws:VpceOrgID` or `aws:VpceOrgPaths` when
    the endpoint's owner, or its organization, is not known; `aws:SourceVpcArn`, which is not
    derived (S3's support for it is not documented where we could check)."""
    if "aws:sourcevpce" not in map(normalise_key, map(_NAME, request.context)):
        return ()
    context = {normalise_key(entry.name): entry for entry in request.context}
    endpoint = ", ".join(context["aws:sourcevpce"].values)
    notes: tuple[str, ...] = ()
    if "aws:sourcevpcarn" not in context and _names_key(request, snapshot, ("aws:sourcevpcarn",)):
        notes += (
            f"aws:SourceVpcArn not checked: the ARN of the VPC of endpoint {endpoint} is not "
            "derived here (give it in the request's context).",
        )
    if "aws:vpceorgid" in context:
        return notes
    owner = context.get("aws:vpceaccount")
    if owner is None:
        if _names_key(request, snapshot, ("aws:vpceaccount", "aws:vpceorg")):
            notes += (
                "aws:VpceAccount, aws:VpceOrgID and aws:VpceOrgPaths not checked: the owner of "
                f"VPC endpoint {endpoint} is not known (the record does not name it, and the "
                "snapshot's vpc_endpoints do not hold it: ec2:DescribeVpcEndpoints).",
            )
        return notes
    account = owner.values[0] if len(owner.values) == 1 else ""
    if (
        account
        and _organization_unknown(account, snapshot)
        and _names_key(request, snapshot, ("aws:vpceorg",))
    ):
        notes += (
            "aws:VpceOrgID and aws:VpceOrgPaths not checked: the organization of account "
            f"{account}, which owns VPC endpoint {endpoint}, is not in the snapshot (collect "
            "that account's side, or give the keys in the request's context).",
        )
    return notes


def _organization_unknown(account: str, snapshot: Snapshot) -> bool:
    """Whether the snapshot cannot tell the organization of `account` (an account it holds as
    in no organization is known: no key)."""
    if account == snapshot.account_id:
        org = snapshot.organization
    else:
        side = snapshot.side(account)
        if not isinstance(side, AccountSide):
            return True  # no side for the account, or an unreadable one
        org = side.organization
    return org is not None and not (isinstance(org, Organization) and org.org_id)


def _names_key(request: AccessRequest, snapshot: Snapshot, prefixes: tuple[str, ...]) -> bool:
    """Whether a policy of the snapshot or of the request names a key starting with one of the
    (lower-case) `prefixes`."""
    if snapshot.cached(("names key", prefixes), lambda: _document_names(snapshot, prefixes)):
        return True
    given = (request.session_policy, *request.scp_policies)
    return any(names_a_key(policy, prefixes) for policy in given if policy is not None)


def names_a_key(policy: object, prefixes: tuple[str, ...]) -> bool:
    """Whether a policy document names a key starting with one of the (lower-case) `prefixes`,
    found in its JSON text as resolution looks for them (a fix's patched snapshot shares its
    base's resolutions when neither version of the patched policy names `RESOLUTION_NAMES`)."""
    text = json.dumps(policy, default=str).lower()
    return any(prefix in text for prefix in prefixes)


def _document_names(snapshot: Snapshot, prefixes: tuple[str, ...]) -> bool:
    text = snapshot.cached(
        ("policy text",), lambda: json.dumps(snapshot.document, default=str).lower()
    )
    return any(prefix in text for prefix in prefixes)


def _endpoint(snapshot: Snapshot, given: Mapping[str, ContextEntry]) -> tuple[ContextEntry, ...]:
    """`aws:SourceVpc` and `aws:VpceAccount`, the VPC and the owner of the request's endpoint
    (`aws:SourceVpce`) as the snapshot's `vpc_endpoints` know them, those the context does not
    give."""
    through = given.get("aws:sourcevpce")
    if through is None or len(through.values) != 1:
        return ()
    endpoint = snapshot.vpc_endpoints.get(through.values[0])
    if not isinstance(endpoint, VpcEndpoint):
        return ()
    out: tuple[ContextEntry, ...] = ()
    if endpoint.vpc_id and "aws:sourcevpc" not in given:
        out += (_endpoint_entry("aws:SourceVpc", endpoint.vpc_id, FROM_ENDPOINT),)
    if endpoint.owner_id and "aws:vpceaccount" not in given:
        out += (_endpoint_entry("aws:VpceAccount", endpoint.owner_id, FROM_ENDPOINT_OWNER),)
    return out


@lru_cache(maxsize=1024)
def _endpoint_entry(name: str, value: str, source: str) -> ContextEntry:
    return ContextEntry(name=name, values=(value,), source=source)


def _with_principal(request: AccessRequest, snapshot: Snapshot) -> AccessRequest:
    principal = request.principal
    resolved = _principal_of(principal, snapshot)
    if resolved is principal or resolved == principal:  # the one kept for an equal principal
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
    entity = _entity(principal, snapshot)
    if entity is None or not entity.arn or entity.arn == principal.principal_arn:
        return principal
    return replace(principal, principal_arn=entity.arn)


def _entity(
    principal: Principal, snapshot: Snapshot, table_name: str | None = None
) -> Entity | None:
    """The snapshot's user or role of the principal's name (in its account), if any;
    `table_name` ("user"): look there whatever the principal's type."""
    table_name = table_name or _RESOLVED_TYPES.get(principal.type)
    if table_name is None:
        return None
    iam = snapshot.iam
    if principal.account_id != snapshot.account_id:
        side = snapshot.side(principal.account_id)  # another account's, when in the snapshot
        iam = side.iam if isinstance(side, AccountSide) else None
    if not isinstance(iam, Iam):
        return None
    table = iam.users if table_name == "user" else iam.roles
    if not isinstance(table, Mapping):
        return None
    resource = principal.principal_arn.split(":", 5)[-1]
    kind, _, rest = resource.partition("/")
    if kind != table_name or not rest:
        return None
    entity = table.get(rest.rsplit("/", 1)[-1])
    return entity if isinstance(entity, Entity) else None


def _user_id(
    request: AccessRequest, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> tuple[ContextEntry, ...]:
    """`aws:userid` when the context lacks it (a runbook request): the snapshot's user's
    UserId, or its role's RoleId and the session's name (`RoleId:session`); unknown for a role
    without a session name. Only when a policy names the key: a request resolution leaves as
    it is keeps the verdict tree's fast path (`verdict_cache`)."""
    principal = request.principal
    if "aws:userid" in given or principal.type not in (
        PrincipalType.IAM_USER,
        PrincipalType.ASSUMED_ROLE,
    ):
        return ()
    if not _names_key(request, snapshot, RESOLUTION_NAMES):
        return ()
    entity = _entity(principal, snapshot)
    if entity is None or not entity.unique_id:
        return ()
    if entity.kind == "user":
        value = entity.unique_id
    elif principal.session_name:
        value = f"{entity.unique_id}:{principal.session_name}"
    else:
        return ()
    return (ContextEntry(name="aws:userid", values=(value,), source=FROM_UNIQUE_ID),)


def _principal_tags(
    request: AccessRequest, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> tuple[ContextEntry, ...]:
    """`aws:PrincipalTag/<key>` of each tag of the requester's user or role in the snapshot
    that the context (`given`) does not give (none for other principals, or tags not read)."""
    tags = snapshot.cached(
        ("principal tags", request.principal), lambda: _tag_entries(request.principal, snapshot)
    )
    return tuple(entry for key, entry in tags if key not in given)


def _tag_entries(principal: Principal, snapshot: Snapshot) -> tuple[tuple[str, ContextEntry], ...]:
    """A federated user's are those of the IAM user who federated it (its `principal_arn`, the
    record's `sessionIssuer`; unknown from a federated-user ARN alone): "session tags override a
    user tag with the same key" (STS GetFederationToken API reference)."""
    federated = principal.type is PrincipalType.FEDERATED_USER
    entity = _entity(principal, snapshot, "user" if federated else None)
    if entity is None or not entity.tags:
        return ()
    if federated:
        source = FROM_FEDERATING_USER_TAGS
    else:
        source = FROM_USER_TAGS if entity.kind == "user" else FROM_ROLE_TAGS
    out = []
    for key, value in sorted(entity.tags.items()):
        name = f"aws:PrincipalTag/{key}"
        entry = ContextEntry(name=name, values=(value,), source=source)
        out.append((normalise_key(name), entry))
    return tuple(out)


def _bucket_tags(
    request: AccessRequest, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> tuple[ContextEntry, ...]:
    """The `BUCKET_TAG_PREFIXES` entries of the bucket's tags the context (`given`) lacks, when
    its ABAC status is `Enabled` (none for a request through an access point or on several
    buckets)."""
    bucket = _one_bucket(request)
    if bucket is None or request.access_point_arn is not None:
        return ()
    found = _state(snapshot, bucket)
    if isinstance(found, str):
        return ()
    return tuple(entry for key, entry in found if key not in given)


def _tags_unchecked(request: AccessRequest, snapshot: Snapshot) -> str:
    """Why the bucket's tags may belong in the context and are not there ("" when they are, or
    when the bucket's ABAC is off or it has no tags). Through an access point aws:ResourceTag
    is the access point's own tags, whatever the bucket's ABAC: "" when they were read."""
    if request.access_point_arn is not None:
        point = snapshot.access_points.get(request.access_point_arn)
        if isinstance(point, AccessPoint) and isinstance(point.tags, Mapping):
            return ""
        tags = point.tags if isinstance(point, AccessPoint) else point
        how = (
            f"could not be read ({tags.code}; needs s3:ListTagsForResource)"
            if isinstance(tags, Unreadable)
            else "were not collected (needs s3:ListTagsForResource)"
        )
        return (
            "through an access point aws:ResourceTag and s3:AccessPointTag are the access "
            f"point's own tags, which {how}, and bucket tags are not added"
        )
    operations = request.operations
    states = [_state(snapshot, op.bucket) for op in operations]
    if all(state == () for state in states):
        return ""
    if _one_bucket(request) is None:
        return "bucket tags are not added to a request on several buckets (one context for both)"
    (found, *_) = states
    return found if isinstance(found, str) else ""


def _point_bucket_tags_unchecked(request: AccessRequest, snapshot: Snapshot) -> str:
    """Why `s3:BucketTag/<key>` of a request through an access point may hold the bucket's tags
    and is absent here ("" when the request is not through one, or the bucket has no tags in
    the context: ABAC off, or no tags). AWS documents the access point's own tags as
    aws:ResourceTag there, and does not say whether the bucket's tags are s3:BucketTag."""
    if request.access_point_arn is None:
        return ""
    bucket = _one_bucket(request)
    found = _state(snapshot, bucket)
    if found == ():
        return ""
    where = f"through access point {request.access_point_arn}"
    if isinstance(found, str):
        return f"{where}, and {found}"
    return (
        f"{where}, whether S3 adds the tags of bucket {bucket} (its ABAC is enabled) is not "
        "documented, so they are left out here"
    )


def _state(snapshot: Snapshot, bucket: str | None) -> tuple[tuple[str, ContextEntry], ...] | str:
    """The bucket's tag entries by lookup key, or why they could not be checked."""
    if bucket is None:
        return ()
    return snapshot.cached(("bucket tags", bucket), lambda: _tag_state(snapshot, bucket))


def _tag_state(snapshot: Snapshot, bucket: str) -> tuple[tuple[str, ContextEntry], ...] | str:
    """The bucket's tag entries by lookup key (none while ABAC is not enabled), or why they
    could not be checked (`s3.buckets.<name>.abac`, `.tags`)."""
    if bucket.endswith("--x-s3"):
        return f"bucket tags of directory bucket {bucket} are not in the snapshot"
    found = snapshot.buckets.get(bucket)
    if not isinstance(found, Bucket):
        return ()  # not in the snapshot: its owner and every part are unknown already
    if found.abac == "Disabled":
        return ()
    if found.abac != "Enabled":
        return _not_read(bucket, "ABAC status", found.abac, "s3:GetBucketAbac")
    if not isinstance(found.tags, Mapping):
        return _not_read(bucket, "tags", found.tags, "s3:GetBucketTagging")
    out = []
    for key, value in found.tags.items():
        for prefix in BUCKET_TAG_PREFIXES:
            entry = ContextEntry(name=prefix + key, values=(value,), source=FROM_BUCKET_TAGS)
            out.append((normalise_key(entry.name), entry))
    return tuple(out)


def _access_point_tags(
    request: AccessRequest, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> tuple[ContextEntry, ...]:
    """The `aws:ResourceTag/<key>` entries (and `s3:AccessPointTag/<key>`, when the actions
    carry it) of the tags of the access point the request goes through, those the context
    (`given`) lacks: there the key is the access point's own tags (ABAC is on for access
    points, not a setting as for general purpose buckets)."""
    if request.access_point_arn is None:
        return ()
    point = snapshot.access_points.get(request.access_point_arn)
    if not isinstance(point, AccessPoint) or not isinstance(point.tags, Mapping):
        return ()
    prefixes = [BUCKET_TAG_PREFIXES[0]]
    if all(supports_condition_key(op.action, _POINT_TAG_KEY) for op in request.operations):
        prefixes.append(ACCESS_POINT_TAG_PREFIX)
    out = []
    for key, value in point.tags.items():
        for prefix in prefixes:
            name = prefix + key
            if normalise_key(name) not in given:
                entry = ContextEntry(name=name, values=(value,), source=FROM_ACCESS_POINT_TAGS)
                out.append(entry)
    return tuple(out)


def _network_origin(
    request: AccessRequest, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> tuple[ContextEntry, ...]:
    """The `s3:AccessPointNetworkOrigin` entry of a request through an access point the
    snapshot holds, when the context (`given`) lacks it."""
    if request.access_point_arn is None or NETWORK_ORIGIN_KEY.lower() in given:
        return ()
    point = snapshot.access_points.get(request.access_point_arn)
    if not isinstance(point, AccessPoint) or point.network_origin not in ("Internet", "VPC"):
        return ()
    return (
        ContextEntry(
            name=NETWORK_ORIGIN_KEY, values=(point.network_origin,), source=FROM_NETWORK_ORIGIN
        ),
    )


def _network_origin_unchecked(request: AccessRequest, snapshot: Snapshot) -> tuple[str, ...]:
    """A note when a policy names `s3:AccessPointNetworkOrigin` and the request through an
    access point lacks it: the access point's network origin is not known here."""
    arn = request.access_point_arn
    if arn is None or NETWORK_ORIGIN_KEY.lower() in map(normalise_key, map(_NAME, request.context)):
        return ()
    if not _names_key(request, snapshot, (NETWORK_ORIGIN_KEY.lower(),)):
        return ()
    point = snapshot.access_points.get(arn)
    if isinstance(point, Unreadable):
        why = f"could not be read ({point.code}; needs s3:GetAccessPoint)"
    elif isinstance(point, AccessPoint):
        why = "has no NetworkOrigin in the snapshot (needs s3:GetAccessPoint)"
    else:
        why = "is not in the snapshot's s3.access_points (needs s3:GetAccessPoint)"
    return (
        f"{NETWORK_ORIGIN_KEY} not checked: AWS sets it to Internet or VPC from the network "
        f"origin of access point {arn}, which {why}, so the key is absent here.",
    )


def _object_tags(
    request: AccessRequest, snapshot: Snapshot, given: Mapping[str, ContextEntry]
) -> tuple[ContextEntry, ...]:
    """The `s3:ExistingObjectTag/<key>` entries of the request's object's tags the context
    (`given`) lacks, when every operation is an action that carries them on that one object
    and the snapshot holds its tags."""
    found = _tagged_object(request, snapshot)
    if not isinstance(found, S3Object) or not isinstance(found.tags, Mapping):
        return ()
    out = []
    for key, value in found.tags.items():
        name = OBJECT_TAG_PREFIX + key
        if normalise_key(name) not in given:
            out.append(ContextEntry(name=name, values=(value,), source=FROM_OBJECT_TAGS))
    return tuple(out)


def _tagged_object(request: AccessRequest, snapshot: Snapshot) -> S3Object | Unreadable | None:
    """The snapshot's record of the one object every operation of the request acts on with an
    action that carries `s3:ExistingObjectTag` (Service Authorization Reference); None when
    there is none, or several objects (one context for all)."""
    operations = request.operations
    if not operations:
        return None
    first = operations[0]
    if first.key is None or any(
        (op.bucket, op.key) != (first.bucket, first.key) for op in operations[1:]
    ):
        return None
    bucket = snapshot.buckets.get(first.bucket or "")
    if not isinstance(bucket, Bucket) or not isinstance(bucket.objects, Mapping):
        return None
    found = bucket.objects.get(first.key)
    if found is None:
        return None
    if not all(supports_condition_key(op.action, _OBJECT_TAG_KEY) for op in operations):
        return None
    return found


def _object_tags_unchecked(request: AccessRequest, snapshot: Snapshot) -> str:
    """Why the request's object's tags are not in its context though its action carries them
    ("" when they are, or the snapshot has no record of the object)."""
    found = _tagged_object(request, snapshot)
    if isinstance(found, Unreadable):
        return f"the object could not be read ({found.code})"
    if not isinstance(found, S3Object) or isinstance(found.tags, Mapping):
        return ""
    what = f"the tags of s3://{request.operations[0].bucket}/{found.key}"
    needs = "s3:GetObjectTagging"
    if isinstance(found.tags, Unreadable):
        return f"{what} could not be read ({found.tags.code}; needs {found.tags.needs or needs})"
    return f"{what} were not collected (needs {needs})"


def _not_read(bucket: str, what: str, value: object, needs: str) -> str:
    if not isinstance(value, Unreadable):
        return f"the {what} of bucket {bucket} was not collected (needs {needs})"
    return f"the {what} of bucket {bucket} could not be read ({value.code}; needs {needs})"


def bucket_tag(key: str) -> str | None:
    """The tag a bucket-tag condition key names (`aws:ResourceTag/<tag>`, `s3:BucketTag/<tag>`:
    prefix in any case, tag as written); None for any other key."""
    for prefix in BUCKET_TAG_PREFIXES:
        if key[: len(prefix)].lower() == prefix.lower():
            return key[len(prefix) :]
    return None


def _names_bucket_tags(request: AccessRequest, snapshot: Snapshot) -> bool:
    """Whether a policy of the snapshot or of the request names a bucket-tag key."""
    return _names_key(request, snapshot, _BUCKET_TAG_LOWER)
