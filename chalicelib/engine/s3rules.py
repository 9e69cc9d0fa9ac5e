"""S3-native facts of one operation: bucket policy, ACLs, Object Ownership, Block Public Access,
object existence and Object Lock, gathered from the snapshot for `evaluate`.

Sources: https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-s3-evaluates-access-control.html
and the pages cited in `acl`, `ownership` and `public`. Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, replace
from datetime import UTC, datetime
from typing import Any, Final

from ..arn import is_access_point_alias
from ..lean_dataclass import dataclass
from ..model import (
    AccessRequest,
    InputError,
    Layer,
    Operation,
    Outcome,
    PrincipalType,
    StatementRef,
    Unchecked,
)
from ..snapshot import AccessPoint, Bucket, S3Object, Snapshot, Unreadable, VpcEndpoint
from .acl import Acl, AclGrantMatch, acl_grants, acl_statement_refs, parse_acl
from .canonical import requester_canonical_id, undecided_grants, unknown_grantee
from .context import RequestContext
from .evidence import PolicySource, compiled_source, problem_source, unchecked_for
from .hits import Hits
from .ownership import acls_enabled, check_object_ownership
from .policy import PolicyKind
from .principals import PrincipalForm
from .public import (
    ACL_WRITE_ACTIONS,
    POLICY_WRITE_ACTIONS,
    BpaCheck,
    BpaLevel,
    BpaLevels,
    BpaVerdict,
    check_block_public_acls,
    check_block_public_policy,
    check_restrict_public_buckets,
    parse_public_access_block,
)
from .resolve import foreign_bucket_account

# Object actions whose authorization needs the object owner's grant (spec §3.1).
OWNER_GRANTED_ACTIONS = frozenset(
    {
        "s3:getobject",
        "s3:getobjectversion",
        "s3:getobjectacl",
        "s3:getobjectversionacl",
        "s3:putobjectacl",
        "s3:putobjectversionacl",
        "s3:getobjecttagging",
        "s3:getobjectversiontagging",
        "s3:getobjectattributes",
    }
)
READ_ACTIONS = frozenset({"s3:getobject", "s3:getobjectversion"})
BPA_WRITE_ACTIONS = ACL_WRITE_ACTIONS | POLICY_WRITE_ACTIONS
LOCKED_ACTIONS = frozenset({"s3:deleteobjectversion"})


@dataclass(slots=True)
class S3Facts:
    """What the bucket side says about one operation, before the verdict."""

    bucket: Bucket | None = None
    obj: S3Object | None = None
    bucket_policy: tuple[PolicySource, ...] = ()
    bucket_allows_apply: bool = True  # False for objects owned by another account
    access_point_policy: tuple[PolicySource, ...] | None = None
    acl_hits: dict[Layer, Hits] = field(default_factory=dict)
    blocks: list[tuple[Layer, str, tuple[StatementRef, ...]]] = field(default_factory=list)
    # Refusals S3 makes once the policies allow (Object Lock): judged after them
    late_blocks: list[tuple[Layer, str]] = field(default_factory=list)
    details: dict[Layer, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[Unchecked] = field(default_factory=list)
    object_missing: bool = False
    bpa: BpaLevels | None = None
    ignored_public_acl: bool = False
    restrict_public_possible: bool = False
    ignore_public_acls: bool = False
    # Checks that could refuse the request but could not decide (Block Public Access, request)
    undecided: dict[Layer, Unchecked] = field(default_factory=dict)


def s3_facts(
    request: AccessRequest, snapshot: Snapshot, op: Operation, ctx: RequestContext
) -> S3Facts:
    """Read the bucket-side layers of `op` from the snapshot."""
    facts = S3Facts()
    name = op.bucket or ""
    entry = snapshot.buckets.get(name)
    if isinstance(entry, Unreadable):
        problem = unchecked_for(Layer.BUCKET_POLICY, entry, f"bucket {name}")
        facts.bucket_policy = (problem_source(snapshot, f"bucket-policy:{name}", problem),)
        return facts
    owner = foreign_bucket_account(request, snapshot) if name == request.bucket else None
    if entry is None and owner is not None:
        problem = Unchecked(
            layer=Layer.BUCKET_POLICY,
            reason=f"bucket {name} is in account {owner}, which the snapshot does not cover: "
            "its bucket policy, ACLs and Block Public Access were not read, and a request from "
            "another account needs them to grant it as well. Check the bucket name (a name "
            "another account owns answers 403 to everyone it does not grant), then ask that "
            "account for a grant",
            needs=f"s3:GetBucketPolicy and s3:GetBucketAcl in account {owner}, the bucket's",
        )
        facts.bucket_policy = (problem_source(snapshot, f"bucket-policy:{name}", problem),)
        return facts
    if entry is None and is_access_point_alias(name):
        # Identity policies are judged on the access point's ARN and its bucket's, not known.
        for layer in (Layer.IDENTITY_POLICY, Layer.BUCKET_POLICY):
            facts.undecided[layer] = Unchecked(
                layer=layer,
                reason=f"access point alias not resolved: {name} is the alias of an access "
                "point (a name ending in -s3alias), and the snapshot holds no access point with "
                "that alias, so neither the access point nor its bucket was judged. No policy "
                "can name an alias: grants go on the access point's ARN and on its bucket",
                needs="s3:ListAccessPoints and s3:GetAccessPoint (its Alias) in the account",
            )
        return facts
    if entry is None:
        facts.notes.append(
            f"bucket {name} is not in the snapshot (it does not exist, or was not collected)"
        )
        return facts
    facts.bucket = entry
    shared = snapshot.cached(("bucket-facts", name), lambda: _bucket_side(snapshot, entry))
    facts.bucket_policy, facts.bpa = shared.policy, shared.bpa
    facts.restrict_public_possible = shared.restrict_public_possible
    facts.ignore_public_acls = shared.ignore_public_acls
    facts.problems.extend(shared.problems)
    facts.notes.extend(shared.notes)
    _access_point(facts, request, snapshot)
    on_object = op.key is not None
    if on_object:
        _object(facts, entry, op)
    enabled = shared.acls_enabled
    account = request.principal.account_id or ""
    canonical = requester_canonical_id(request.principal, snapshot, entry.owner_id)
    authenticated = request.principal.type is not PrincipalType.ANONYMOUS
    ignore_public = facts.ignore_public_acls
    if enabled:
        acl_layer = Layer.OBJECT_ACL if on_object else Layer.BUCKET_ACL
        raw_acl = facts.obj.acl if (on_object and facts.obj is not None) else entry.acl
        if on_object and facts.obj is None:
            raw_acl = None
        if not on_object or facts.obj is not None:
            facts.acl_hits[acl_layer] = _acl_hits(
                acl_layer, raw_acl, op, entry, canonical, authenticated, ignore_public, facts,
                account=account,
            )  # fmt: skip
        if op.action.lower() in {"s3:putobject", "s3:deleteobject"} and on_object:
            # Object writes are granted by the bucket ACL (WRITE).
            facts.acl_hits[Layer.BUCKET_ACL] = _acl_hits(
                Layer.BUCKET_ACL, entry.acl, op, entry, canonical, authenticated,
                ignore_public, facts, account=account, on_object=False,
            )  # fmt: skip
        _foreign_object(facts, entry, op, canonical, authenticated, account)
    else:
        facts.details[Layer.OBJECT_OWNERSHIP] = "BucketOwnerEnforced: ACLs are disabled"
    _bpa_writes(facts, request, op, ctx)
    _object_lock(facts, request, op, ctx)
    _mfa_delete(facts, request, snapshot, op, entry)
    _sse_c_blocked(facts, op, ctx, entry)
    _requester_pays(facts, request, snapshot, entry)
    return facts


@dataclass(frozen=True, slots=True)
class _BucketSide:
    """What a bucket contributes to every request on it (computed once per snapshot)."""

    policy: tuple[PolicySource, ...]
    bpa: BpaLevels
    problems: tuple[Unchecked, ...]
    notes: tuple[str, ...]
    ignore_public_acls: bool
    restrict_public_possible: bool
    acls_enabled: bool


def _bucket_side(snapshot: Snapshot, bucket: Bucket) -> _BucketSide:
    scratch = S3Facts()
    policy: tuple[PolicySource, ...] = ()
    if bucket.policy is not None:
        policy = (
            compiled_source(
                snapshot,
                Layer.BUCKET_POLICY,
                f"bucket-policy:{bucket.name}",
                bucket.policy,
                PolicyKind.RESOURCE,
            ),
        )
    bpa = _bpa_levels(snapshot, bucket, scratch)
    effective = bpa.effective()
    enabled = _acls_enabled(scratch, bucket)
    return _BucketSide(
        policy=policy,
        bpa=bpa,
        problems=tuple(scratch.problems),
        notes=tuple(scratch.notes),
        ignore_public_acls=effective.ignore_public_acls,
        restrict_public_possible=effective.restrict_public_buckets or bool(bpa.unreadable),
        acls_enabled=enabled,
    )


def _access_point(facts: S3Facts, request: AccessRequest, snapshot: Snapshot) -> None:
    arn = request.access_point_arn
    if not arn:
        return
    point = snapshot.access_points.get(arn)
    policy_id = f"access-point-policy:{arn}"
    if isinstance(point, Unreadable):
        problem = unchecked_for(Layer.ACCESS_POINT_POLICY, point, f"access point {arn}")
        facts.access_point_policy = (problem_source(snapshot, policy_id, problem),)
    elif point is None:
        problem = Unchecked(
            layer=Layer.ACCESS_POINT_POLICY,
            reason=f"access point {arn} is not in the snapshot",
            needs="s3:GetAccessPointPolicy",
        )
        facts.access_point_policy = (problem_source(snapshot, policy_id, problem),)
    else:
        facts.access_point_policy = (
            ()
            if point.policy is None
            else (
                compiled_source(
                    snapshot,
                    Layer.ACCESS_POINT_POLICY,
                    policy_id,
                    point.policy,
                    PolicyKind.RESOURCE,
                ),
            )
        )
        _access_point_bpa(facts, point.public_access_block, arn)
        _network_origin(facts, request, snapshot, point)


def _network_origin(
    facts: S3Facts, request: AccessRequest, snapshot: Snapshot, point: AccessPoint
) -> None:
    """An access point with network origin VPC refuses requests that do not come from its VPC
    (through a VPC endpoint of that VPC).
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-vpc.html
    """
    if (point.network_origin or "").lower() != "vpc":
        return
    only = f"The access point {point.name} has network origin VPC ({point.vpc_id or 'its VPC'})"
    endpoint_id = request.vpc_endpoint_id
    if not endpoint_id:
        text = f"{only}; the request did not come through a VPC endpoint"
        facts.blocks.append((Layer.REQUEST, text, ()))
        return
    endpoint = snapshot.vpc_endpoints.get(endpoint_id)
    vpc = endpoint.vpc_id if isinstance(endpoint, VpcEndpoint) else None
    if vpc is None or point.vpc_id is None:
        facts.undecided[Layer.REQUEST] = Unchecked(
            layer=Layer.REQUEST,
            reason=f"{only}; the VPC of {endpoint_id} is not in the snapshot",
            needs="ec2:DescribeVpcEndpoints, s3:GetAccessPoint",
        )
    elif vpc != point.vpc_id:
        text = f"{only}; the request came through {endpoint_id} in {vpc}"
        facts.blocks.append((Layer.REQUEST, text, ()))


def _access_point_bpa(facts: S3Facts, raw: Mapping[str, Any] | None, arn: str) -> None:
    """An access point's own Block Public Access joins the account's and the bucket's."""
    if facts.bpa is None or raw is None:
        return
    try:
        block = parse_public_access_block(raw, field=f"BPA of {arn}")
    except InputError as error:
        facts.notes.append(str(error))
        return
    facts.bpa = replace(facts.bpa, access_point=block)
    effective = facts.bpa.effective()
    facts.ignore_public_acls = effective.ignore_public_acls
    facts.restrict_public_possible = effective.restrict_public_buckets or bool(facts.bpa.unreadable)


def _bpa_levels(snapshot: Snapshot, bucket: Bucket, facts: S3Facts) -> BpaLevels:
    unreadable: set[BpaLevel] = set()

    def parse(raw: Any, level: BpaLevel, where: str) -> Any:
        if isinstance(raw, Unreadable):
            unreadable.add(level)
            facts.problems.append(unchecked_for(Layer.BLOCK_PUBLIC_ACCESS, raw, where))
            return None
        try:
            return parse_public_access_block(raw, field=where)
        except InputError as error:
            facts.notes.append(str(error))
            return None

    account = parse(snapshot.account_public_access_block, BpaLevel.ACCOUNT, "account BPA")
    own = parse(bucket.public_access_block, BpaLevel.BUCKET, f"BPA of {bucket.name}")
    return BpaLevels(account=account, bucket=own, unreadable=frozenset(unreadable))


def _object(facts: S3Facts, bucket: Bucket, op: Operation) -> None:
    objects = bucket.objects
    if objects is None:
        return  # objects were not listed: existence not checked
    if isinstance(objects, Unreadable):
        facts.notes.append(f"objects of {bucket.name} could not be read ({objects.code})")
        return
    entry = objects.get(op.key or "")
    if isinstance(entry, Unreadable):
        facts.notes.append(f"object {op.key} could not be read ({entry.code})")
        return
    if entry is None:
        if op.action.lower() in READ_ACTIONS:
            facts.object_missing = True
        return
    facts.obj = entry


def _acls_enabled(facts: S3Facts, bucket: Bucket) -> bool:
    ownership = bucket.ownership
    if isinstance(ownership, Unreadable):
        facts.problems.append(unchecked_for(Layer.OBJECT_OWNERSHIP, ownership, bucket.name))
        return True
    controls = None if ownership is None else {"Rules": [{"ObjectOwnership": ownership}]}
    return acls_enabled(controls)


def _acl_hits(
    layer: Layer,
    raw: Any,
    op: Operation,
    bucket: Bucket,
    canonical: str | Unreadable | None,
    authenticated: bool,
    ignore_public: bool,
    facts: S3Facts,
    *,
    account: str = "",
    on_object: bool | None = None,
) -> Hits:
    hits = Hits(present=True)
    policy_id = f"acl:{op.resource_arn if layer is Layer.OBJECT_ACL else bucket.name}"
    if raw is None:
        hits.present = False
        return hits
    if isinstance(raw, Unreadable):
        hits.problems.append(unchecked_for(layer, raw, f"ACL of {policy_id[4:]}"))
        return hits
    try:
        acl = parse_acl(raw, field=policy_id)
    except InputError as error:
        hits.problems.append(Unchecked(layer=layer, reason=str(error)))
        return hits
    obj = layer is Layer.OBJECT_ACL if on_object is None else on_object

    def grants(ignore: bool) -> tuple[AclGrantMatch, ...]:
        return acl_grants(
            acl,
            action=op.action,
            on_object=obj,
            grantee_canonical_id=canonical if isinstance(canonical, str) else None,
            authenticated=authenticated,
            ignore_public=ignore,
        )

    matches = grants(ignore_public)
    if isinstance(canonical, Unreadable) and not matches:
        undecided = undecided_grants(
            acl, action=op.action, on_object=obj, bucket_owner=bucket.owner_id
        )
        if undecided:
            hits.problems.append(
                unknown_grantee(layer, canonical, account, undecided, f"the ACL of {policy_id[4:]}")
            )
    if ignore_public:
        ignored = [m for m in grants(False) if m.public]
        if ignored:
            facts.ignored_public_acl = True
            facts.details[Layer.BLOCK_PUBLIC_ACCESS] = (
                "IgnorePublicAcls is on: S3 ignores the public ACL grants "
                + ", ".join(m.describe() for m in ignored)
                + f" of {policy_id[4:]}"
            )
    for ref, match in zip(acl_statement_refs(matches, policy=policy_id), matches, strict=True):
        hits.allows.append(ref)
        hits.forms.add(PrincipalForm.ANY if match.public else PrincipalForm.ACCOUNT)
    return hits


def _foreign_object(
    facts: S3Facts,
    bucket: Bucket,
    op: Operation,
    canonical: str | Unreadable | None,
    authenticated: bool,
    account: str,
) -> None:
    """Objects owned by another account: only the object ACL grants (spec §3.1). The requester's
    canonical id unknown (unreadable), a grant to another canonical user leaves it undecided."""
    if facts.obj is None or op.action.lower() not in OWNER_GRANTED_ACTIONS:
        return
    raw = facts.obj.acl
    if raw is None or isinstance(raw, Unreadable) or bucket.owner_id is None:
        return
    try:
        acl: Acl = parse_acl(raw, field=f"acl:{op.resource_arn}")
    except InputError:
        return
    controls = (
        None
        if bucket.ownership is None or isinstance(bucket.ownership, Unreadable)
        else {"Rules": [{"ObjectOwnership": bucket.ownership}]}
    )
    check = check_object_ownership(
        object_acl=acl,
        bucket_owner_id=bucket.owner_id,
        ownership_controls=controls,
        action=op.action,
        requester_canonical_id=canonical if isinstance(canonical, str) else None,
        authenticated=authenticated,
        ignore_public=facts.ignore_public_acls,
    )
    if check.bucket_policy_allows_apply:
        return
    facts.bucket_allows_apply = False
    facts.details[Layer.OBJECT_OWNERSHIP] = check.reason
    if check.outcome is Outcome.IMPLICIT_DENY and isinstance(canonical, Unreadable):
        undecided = undecided_grants(
            acl, action=op.action, on_object=True, bucket_owner=bucket.owner_id
        )
        if undecided:  # the object's owner, or a grantee, may be the requester's account
            owner = check.object_owner_id
            what = f"the ACL of {op.resource_arn} (owned by account {owner}, not the bucket owner)"
            problem = unknown_grantee(Layer.OBJECT_OWNERSHIP, canonical, account, undecided, what)
            facts.undecided[Layer.OBJECT_OWNERSHIP] = problem
            return
    if check.outcome is Outcome.IMPLICIT_DENY:
        if facts.ignored_public_acl:
            # The object ACL's public grant would have granted: Block Public Access took it.
            reason = facts.details.get(Layer.BLOCK_PUBLIC_ACCESS, "IgnorePublicAcls is on")
            facts.blocks.append((Layer.BLOCK_PUBLIC_ACCESS, reason, ()))
        facts.blocks.append((Layer.OBJECT_OWNERSHIP, check.reason, ()))


def _bpa_writes(facts: S3Facts, request: AccessRequest, op: Operation, ctx: RequestContext) -> None:
    if facts.bpa is None or op.action.lower() not in BPA_WRITE_ACTIONS:
        return
    canned = _first(ctx.get("s3:x-amz-acl"))
    headers = {
        name: value
        for name in (
            "x-amz-grant-read",
            "x-amz-grant-write",
            "x-amz-grant-read-acp",
            "x-amz-grant-write-acp",
            "x-amz-grant-full-control",
        )
        if (value := _first(ctx.get(f"s3:{name}"))) is not None
    }
    try:
        check = check_block_public_acls(
            facts.bpa, action=op.action, canned_acl=canned, grant_headers=headers
        )
    except InputError as error:
        facts.notes.append(str(error))
        check = None
    _bpa_outcome(facts, check)
    policy = request.proposed_policy
    try:
        check = check_block_public_policy(facts.bpa, action=op.action, policy=policy)
    except InputError as error:
        facts.notes.append(str(error))
        check = None
    # Settings read, the policy set unknown: the event of the call carries it, not a read.
    unread = policy is None and facts.bpa is not None and not facts.bpa.unreadable
    _bpa_outcome(facts, check, NEW_POLICY_NEEDED if unread else _BPA_READS)


_BPA_READS: Final = "s3:GetBucketPublicAccessBlock, s3:GetAccountPublicAccessBlock"
NEW_POLICY_NEEDED: Final = (
    "the policy the request set (diagnose the call's CloudTrail event, which carries it)"
)


def _bpa_outcome(facts: S3Facts, check: BpaCheck | None, needs: str = _BPA_READS) -> None:
    """A blocking setting denies; one that may be on at a level we could not read, or whose
    input is unknown (`needs` says what would tell), leaves the verdict open."""
    if check is None:
        return
    if check.verdict is BpaVerdict.BLOCKED:
        facts.blocks.append((Layer.BLOCK_PUBLIC_ACCESS, check.reason, ()))
    elif check.verdict is BpaVerdict.UNKNOWN:
        facts.undecided[Layer.BLOCK_PUBLIC_ACCESS] = Unchecked(
            layer=Layer.BLOCK_PUBLIC_ACCESS, reason=check.reason, needs=needs
        )
    else:
        facts.notes.append(check.reason)


def restrict_public(
    facts: S3Facts, request: AccessRequest, snapshot: Snapshot, granting: list[int]
) -> tuple[str, bool] | None:
    """RestrictPublicBuckets on a public bucket policy: (reason, definite) when it bites."""
    if facts.bucket is None:
        return None
    return _restricted(facts, request, facts.bucket.policy, granting, owner=snapshot.account_id)


def restrict_public_point(
    facts: S3Facts, request: AccessRequest, snapshot: Snapshot, granting: list[int], owner: str
) -> tuple[str, bool] | None:
    """RestrictPublicBuckets (the access point's, bucket's or account's) on a public access
    point policy: only AWS service principals and users of the access point's account (`owner`)
    keep the access it grants; (reason, definite) when it bites.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-bpa-settings.html
    """
    point = snapshot.access_points.get(request.access_point_arn or "")
    if not isinstance(point, AccessPoint):
        return None
    vpc = (point.network_origin or "").lower() == "vpc"
    found = _restricted(
        facts, request, point.policy, granting, owner=owner, on_access_point=True, vpc_origin=vpc
    )
    if found is None:
        return None
    reason, definite = found
    return f"access point {point.arn}: {reason}", definite


def _restricted(
    facts: S3Facts,
    request: AccessRequest,
    policy: Any,
    granting: list[int],
    *,
    owner: str,
    on_access_point: bool = False,
    vpc_origin: bool = False,
) -> tuple[str, bool] | None:
    if facts.bpa is None or policy is None or isinstance(policy, Unreadable):
        return None
    if not facts.restrict_public_possible:
        return None  # the setting is off everywhere: no need to classify the policy
    principal = request.principal
    account = None if principal.type is PrincipalType.ANONYMOUS else principal.account_id
    try:
        check = check_restrict_public_buckets(
            facts.bpa,
            policy=policy,
            principal_account=account,
            bucket_account=owner,
            is_service_principal=principal.type is PrincipalType.AWS_SERVICE,
            granting_statements=granting,
            on_access_point=on_access_point,
            vpc_origin=vpc_origin,
        )
    except InputError:
        return None
    if check is None or check.verdict is BpaVerdict.UNKNOWN:
        return None
    return check.reason, check.verdict is BpaVerdict.BLOCKED


REQUESTER_PAYS_NOTE: Final = "is a Requester Pays bucket"


def _requester_pays(
    facts: S3Facts, request: AccessRequest, snapshot: Snapshot, bucket: Bucket
) -> None:
    """A Requester Pays bucket refuses anonymous requests; requesters outside the owner's
    account must send `x-amz-request-payer: requester`, which S3's log does not show.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/RequesterPaysBuckets.html
    """
    payment = bucket.request_payment
    principal = request.principal
    anonymous = principal.type is PrincipalType.ANONYMOUS
    if isinstance(payment, Unreadable):
        if anonymous:
            facts.undecided[Layer.REQUEST] = unchecked_for(
                Layer.REQUEST, payment, f"the request payment setting of {bucket.name}"
            )
        return
    if payment != "Requester":
        return
    if anonymous:
        text = (
            f"The request payer of {bucket.name} is Requester (Requester Pays); "
            "the request is anonymous"
        )
        facts.blocks.append((Layer.REQUEST, text, ()))
    elif principal.account_id and principal.account_id != snapshot.account_id:
        facts.notes.append(
            f"{bucket.name} {REQUESTER_PAYS_NOTE}: a requester outside the owner's account gets "
            "403 unless it sends x-amz-request-payer: requester (S3's log does not say whether "
            "it did)"
        )


def _object_lock(
    facts: S3Facts, request: AccessRequest, op: Operation, ctx: RequestContext
) -> None:
    """A permanent delete of a locked version is refused, root included (spec §3.10), once the
    policies allow it. GOVERNANCE retention yields to a request that sends the
    x-amz-bypass-governance-retention header (its s3:BypassGovernanceRetention operation,
    judged on its own). The snapshot's head is the current version's: another version's lock
    is not known."""
    if facts.obj is None or op.action.lower() not in LOCKED_ACTIONS:
        return
    head = facts.obj.head
    if not isinstance(head, Mapping):
        return
    current = head.get("VersionId")
    if op.version_id and isinstance(current, str) and op.version_id != current:
        if head.get("ObjectLockMode") or head.get("ObjectLockLegalHoldStatus") == "ON":
            facts.undecided[Layer.OBJECT_LOCK] = Unchecked(
                layer=Layer.OBJECT_LOCK,
                reason=f"the snapshot holds the Object Lock settings of the current version "
                f"{current}, not of version {op.version_id}, which has its own",
                needs="s3:GetObjectRetention, s3:GetObjectLegalHold on that version",
            )
        return
    if head.get("ObjectLockLegalHoldStatus") == "ON":
        facts.late_blocks.append((Layer.OBJECT_LOCK, "the object version is under a legal hold"))
        return
    mode = head.get("ObjectLockMode")
    until = _parse_time(head.get("ObjectLockRetainUntilDate"))
    now = _parse_time(_first(ctx.get("aws:CurrentTime"))) or datetime.now(UTC)
    if not (mode and until and until > now):
        return
    if mode == "COMPLIANCE":
        text = f"the version is under COMPLIANCE retention until {until.isoformat()}"
    elif any(o.action.lower() == _BYPASS for o in request.operations):
        return  # the header was sent: s3:BypassGovernanceRetention decides, as its own leg
    else:
        text = (
            f"the version is under GOVERNANCE retention until {until.isoformat()}: deleting "
            "it needs s3:BypassGovernanceRetention and the x-amz-bypass-governance-retention "
            "header"
        )
    facts.late_blocks.append((Layer.OBJECT_LOCK, text))


_BYPASS: Final = "s3:bypassgovernanceretention"
# What MFA delete guards, by action: a version's permanent delete, the versioning state.
_MFA_DELETE_ACTIONS: Final = {
    "s3:deleteobjectversion": "permanently delete an object version",
    "s3:putbucketversioning": "change the versioning state",
}
MFA_DELETE_WORDS: Final = "MFA delete is enabled on"
"""How an MFA delete refusal starts (`diagnose.causes` names its cause by it)."""


def _mfa_delete(
    facts: S3Facts, request: AccessRequest, snapshot: Snapshot, op: Operation, bucket: Bucket
) -> None:
    """With MFA delete enabled, only the bucket owner's root user, sending `x-amz-mfa` (its MFA
    device's serial and code) over HTTPS, can permanently delete a version or change the
    versioning state; no policy grants it to anyone else. Judged after the policies, as Object
    Lock. CloudTrail does not log the header: a root request is judged as one without it.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMFADelete.html
    """
    what = _MFA_DELETE_ACTIONS.get(op.action.lower())
    versioning = bucket.versioning
    if what is None or versioning is None:
        return
    if isinstance(versioning, Unreadable):
        what_of = f"the versioning configuration (MFA delete) of {bucket.name}"
        _setting_unread(facts, versioning, what_of, "s3:GetBucketVersioning")
        return
    if not isinstance(versioning, Mapping) or versioning.get("MFADelete") != "Enabled":
        return
    principal = request.principal
    if principal.type is PrincipalType.ROOT and principal.account_id == snapshot.account_id:
        text = (
            f"{MFA_DELETE_WORDS} {bucket.name}; the request came from its owner's root user, "
            "and S3's log does not show whether it sent the MFA code"
        )
    else:
        who = principal.principal_arn or principal.type.value
        text = f"{MFA_DELETE_WORDS} {bucket.name}; the request came from {who}, not its root user"
    facts.late_blocks.append((Layer.REQUEST, text))


SSE_C_WORDS: Final = "blocks uploads that specify SSE-C"
"""How an SSE-C refusal reads (`diagnose.causes` names its cause by it)."""
_SSE_C_KEY: Final = "s3:x-amz-server-side-encryption-customer-algorithm"


def _sse_c_blocked(facts: S3Facts, op: Operation, ctx: RequestContext, bucket: Bucket) -> None:
    """A write that specifies SSE-C (PutObject, CopyObject, POST, multipart upload) into a
    bucket whose default encryption blocks SSE-C (`BlockedEncryptionTypes`, the default of new
    buckets since April 2026) is refused with 403, whatever the policies grant; judged after
    them. https://docs.aws.amazon.com/AmazonS3/latest/userguide/blocking-unblocking-s3-c-encryption-gpb.html
    """
    if op.action.lower() != "s3:putobject" or not ctx.get(_SSE_C_KEY):
        return
    encryption = bucket.encryption
    if isinstance(encryption, Unreadable):
        what_of = f"the default encryption (SSE-C blocking) of {bucket.name}"
        _setting_unread(facts, encryption, what_of, "s3:GetEncryptionConfiguration")
        return
    if not isinstance(encryption, Mapping):
        return
    for rule in encryption.get("Rules") or ():
        blocked = rule.get("BlockedEncryptionTypes") if isinstance(rule, Mapping) else None
        types = blocked.get("EncryptionType") if isinstance(blocked, Mapping) else None
        if isinstance(types, list) and "SSE-C" in types:
            text = (
                f"the default encryption of {bucket.name} {SSE_C_WORDS} "
                "(BlockedEncryptionTypes), and the request sent an SSE-C algorithm header"
            )
            facts.late_blocks.append((Layer.REQUEST, text))
            return


def _setting_unread(facts: S3Facts, marker: Unreadable, what: str, read: str) -> None:
    """A bucket setting that S3 enforces on the request could not be read: not checked, and
    the read it needs named (not the request layer's usual one)."""
    unchecked = unchecked_for(Layer.REQUEST, marker, what)
    facts.undecided[Layer.REQUEST] = replace(unchecked, needs=marker.needs or read)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _first(values: tuple[str, ...] | None) -> str | None:
    return values[0] if values else None
