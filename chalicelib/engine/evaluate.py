"""The decision for one S3 request: every layer, in AWS's documented order.

`evaluate(request, snapshot)` returns a `Decision` with one `Evaluation` per IAM authorization
S3 performs (one per `Operation`, plus the KMS leg of an SSE-KMS object). Each evaluation runs
the algorithm of spec §2.2 (https://docs.aws.amazon.com/IAM/latest/UserGuide/
reference_policies_evaluation-logic.html and the S3 authorization workflow pages):

  1. explicit deny in any applicable policy (identity, boundary, session, SCP, RCP, bucket
     policy, access point policy, VPC endpoint policy) wins; the root user is immune to
     bucket-policy denies on Get/Put/DeleteBucketPolicy;
  2. RCPs, then SCPs: every level of the organization path must allow (the management account
     and service-linked roles are exempt);
  3. the VPC endpoint policy must allow a request that came through an endpoint;
  4. Block Public Access rejects public ACL/policy writes and ignores or restricts public grants;
  5. a resource grant (bucket / access point policy, ACL) or an identity-policy allow, with the
     principal-form rules of spec §2.3 (user / session ARN and "*" grants are not limited by
     boundaries or session policies; role ARN grants are; an account grant only delegates);
  6. the permissions boundary and the session policy must allow, unless the grant came from a
     form they do not limit;
  7. S3 post-checks: objects owned by another account (only the object ACL grants), a missing
     key without s3:ListBucket (403, not 404), Object Lock on version deletes.

A request through an access point is authorized twice: on the access point (identity policies
and the access point policy, on the access point's ARN) and on the bucket; both must allow.

A layer that could not be read is `unknown`. The verdict is computed twice, once assuming every
unknown layer allows and once assuming it grants nothing: when the two differ, or when an
unknown layer could hold an explicit deny, the verdict is `inconclusive` and `unchecked` names
the layers. Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import field, replace
from typing import Final, NamedTuple

from ..arn import access_point_object_arn, is_account_id, parse_arn
from ..lean_dataclass import dataclass
from ..model import (
    AccessRequest,
    ContextEntry,
    Decision,
    Evaluation,
    Layer,
    LayerResult,
    Operation,
    Outcome,
    PrincipalType,
    StatementRef,
    Unchecked,
    Verdict,
)
from ..snapshot import AccountSide, Bucket, Organization, Snapshot, Unreadable
from . import explanations, verdict_cache
from . import kms as kms_leg
from .canonical import requester_canonical_id
from .context import RequestContext
from .evidence import (
    PolicySource,
    PrincipalEvidence,
    compiled_source,
    in_account,
    kept_evidence,
    unchecked_for,
)
from .hits import Hits, PlanMemo, key_read_elsewhere, request_context, scan
from .policy import PolicyKind
from .principals import PrincipalForm, PrincipalIdentity, identity_for
from .resolve import foreign_bucket_account, organization_keys, resolve_principal
from .s3rules import S3Facts, restrict_public, restrict_public_point, s3_facts

ROOT_IMMUNE_ACTIONS = frozenset(
    {"s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"}
)
# Forms that grant by themselves, whatever the boundary or session policy say (spec §2.3).
UNLIMITED_FORMS = frozenset(
    {
        PrincipalForm.USER,
        PrincipalForm.ROLE_SESSION,
        PrincipalForm.FEDERATED_USER,
        PrincipalForm.ANY,
        PrincipalForm.SERVICE,
    }
)
# Layers that can grant but never deny: an unread one cannot hide an explicit deny.
GRANT_ONLY_LAYERS = frozenset({Layer.BUCKET_ACL, Layer.OBJECT_ACL, Layer.KMS_GRANT})
# Forms that only delegate to the account's identity policies (the root user excepted).
DELEGATING_FORMS = frozenset({PrincipalForm.ACCOUNT, PrincipalForm.CANONICAL_USER})


@dataclass(slots=True)
class Leg:
    """All layer facts of one authorization, before the verdict."""

    action: str
    resource: str
    layers: dict[Layer, Hits] = field(default_factory=dict)
    # Layers that must allow: (layer, hits, why it blocks, the organization level for an SCP or
    # RCP: the root, OU or account id, "given" for SCPs given with the request)
    gates: list[tuple[Layer, Hits, str, str | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[Layer, str] = field(default_factory=dict)
    native_blocks: list[tuple[Layer, str, tuple[StatementRef, ...]]] = field(default_factory=list)
    # Refusals judged after the policies: a KMS key not Enabled, an Object Lock
    late_blocks: list[tuple[Layer, str]] = field(default_factory=list)
    bpa_reason: str | None = None  # a public grant that Block Public Access took away
    federated: bool = False  # the requester is a federated-user session
    cross_account: bool = False  # the requester belongs to another account than the resource
    requester_side: bool = False  # ...and its account's side is in the snapshot: both judged
    account: str | None = None  # the requester's account
    explain: bool = True  # keep the deciding conditions (False: the verdict alone)
    # A KMS leg whose key is assumed (the object's head could not be read): why, as a problem.
    assumed: Unchecked | None = None


class Verdicts(NamedTuple):
    """The verdict of one authorization without its explanation (see `decide`)."""

    decision: Verdict
    blocked_by: tuple[Layer, ...]


def evaluate(request: AccessRequest, snapshot: Snapshot) -> Decision:
    """Decide whether `request` is allowed, with the per-layer explanation.

    The requester's user or role is taken with its ARN as the snapshot holds it (its path
    included: `resolve_principal`).
    """
    request = resolve_principal(request, snapshot)
    return explanations.explain(
        request, snapshot, lambda: _evaluate_in_full(request, snapshot), _verdicts
    )


def _evaluate_in_full(request: AccessRequest, snapshot: Snapshot) -> Decision:
    evaluations, notes, unchecked = _run(request, snapshot, explain=True)
    verdict, blocked = _combine(evaluations)
    return Decision(
        decision=verdict,
        blocked_by=blocked,
        evaluations=tuple(e for e in evaluations if isinstance(e, Evaluation)),
        unchecked=tuple(_unique(unchecked)),
        notes=tuple(dict.fromkeys(notes)),
    )


def _verdicts(decision: Decision) -> Verdicts:
    """What `decide` gives for the request of `decision` (the same rules)."""
    return Verdicts(decision.decision, decision.blocked_by)


def decide(request: AccessRequest, snapshot: Snapshot) -> Verdicts:
    """The combined verdict and blocking layers alone, by the same rules as `evaluate`.

    For bulk checks (`s3doctor diagnose --batch --detail decision`): it skips building the
    per-layer explanation, and remembers verdicts by request shape (`verdict_cache`).
    """
    request = resolve_principal(request, snapshot)
    return verdict_cache.decide(request, snapshot, lambda: _decide_in_full(request, snapshot))


def decide_in_full(request: AccessRequest, snapshot: Snapshot) -> Verdicts:
    """`decide` without its remembered verdicts: every layer judged (`hits.scans_of` sees every
    scan)."""
    request = resolve_principal(request, snapshot)
    return _decide_in_full(request, snapshot)


def deciding_with(request: AccessRequest, snapshot: Snapshot) -> Callable[[ContextEntry], Verdicts]:
    """`decide` of `request` with one entry added to its context, for each entry it is given
    (what-if questions).

    The tree of the request's shape is walked with the entry added, without building the new
    request; it is built and decided by `decide` only when the tree does not answer.
    """
    return verdict_cache.deciding_with(
        request,
        snapshot,
        lambda assumed: decide(assumed, snapshot),
        walk=lambda: resolve_principal(request, snapshot) is request,
        told=_told(request, snapshot),
        taken=explanations.last_taken(request, snapshot),
    )


def _told(request: AccessRequest, snapshot: Snapshot) -> tuple[frozenset[str], Verdicts] | None:
    path = explanations.last_path(request, snapshot)
    if path is None or not isinstance(path[1], Verdicts):
        return None
    return path[0], path[1]


def unread_verdict(
    request: AccessRequest, snapshot: Snapshot, names: frozenset[str]
) -> Verdicts | None:
    """`request`'s own verdict, which an entry of any of `names` (normalised keys) added to its
    context cannot change: `evaluate` explained this very request last, from a remembered path
    none of whose steps reads one of them; else None (`deciding_with` answers then)."""
    verdict = explanations.unread(request, snapshot, names)
    return verdict if isinstance(verdict, Verdicts) else None


def _decide_in_full(request: AccessRequest, snapshot: Snapshot) -> Verdicts:
    outcomes, _notes, _unchecked = _run(request, snapshot, explain=False)
    verdict, blocked = _combine(outcomes)
    return Verdicts(verdict, blocked)


def _run(
    request: AccessRequest, snapshot: Snapshot, *, explain: bool
) -> tuple[list[Evaluation | Verdicts], list[str], list[Unchecked]]:
    """Every leg of the request (each operation, then its KMS legs), judged."""
    ctx = request_context(RequestContext.from_request(request))  # recording when traced
    principal = request.principal
    evidence = kept_evidence(snapshot, principal)
    canonical = _account_canonical_id(request, snapshot)
    identity = snapshot.cached(
        ("identity", principal, canonical),
        lambda: identity_for(principal, canonical_id=canonical),
    )
    outcomes: list[Evaluation | Verdicts] = []
    unchecked: list[Unchecked] = list(evidence.problems)
    notes: list[str] = []
    if evidence.exists is False and principal.type in (
        PrincipalType.IAM_USER,
        PrincipalType.ASSUMED_ROLE,
        PrincipalType.ROLE,
        PrincipalType.FEDERATED_USER,
    ):
        notes.append(
            f"{principal.principal_arn} does not exist in the account (deleted or renamed?): "
            "no identity policy applies"
        )

    def judge(leg: Leg) -> Evaluation | Verdicts:
        if not explain:
            result = _judge(leg)
            return Verdicts(result.verdict, tuple(dict.fromkeys(result.blocked)))
        notes.extend(leg.notes)
        unchecked.extend(_problems(leg))
        return _verdict(leg)

    for op in request.operations:
        facts = s3_facts(request, snapshot, op, ctx)
        unchecked.extend(facts.problems)  # visible in the finding; a layer only when it matters
        if facts.access_point_policy is not None and request.access_point_arn:
            point = _access_point_leg(
                request, snapshot, op, ctx, evidence, identity, facts, explain
            )
            outcomes.append(judge(point))
        outcome = judge(_s3_leg(request, snapshot, op, ctx, evidence, identity, facts, explain))
        if facts.object_missing and outcome.decision is Verdict.ALLOWED:
            outcome = _missing_object(request, snapshot, op, ctx, evidence, identity)
        outcomes.append(outcome)
        for kms in kms_leg.kms_legs(request, snapshot, op, facts):
            if kms.skip_reason:
                notes.append(kms.skip_reason)
                continue
            key_read_elsewhere()  # the object ARN is the KMS encryption context
            leg = _kms_leg(request, snapshot, kms, ctx, evidence, identity, explain)
            outcomes.append(judge(leg))
    return outcomes, notes, unchecked


# --------------------------------------------------------------------------- S3 leg


def _s3_leg(
    request: AccessRequest,
    snapshot: Snapshot,
    op: Operation,
    ctx: RequestContext,
    evidence: PrincipalEvidence,
    identity: PrincipalIdentity,
    facts: S3Facts,
    explain: bool = True,
) -> Leg:
    action, resource = op.action, op.resource_arn
    # The bucket's account: the snapshot's, unless the request names another whose bucket the
    # snapshot does not hold (the snapshot is then the requester's side alone).
    owner = foreign_bucket_account(request, snapshot) if op.bucket == request.bucket else None
    account = owner or snapshot.account_id
    leg = _new_leg(request, snapshot, action, resource, explain, account)
    principal = request.principal
    _common_layers(leg, request, snapshot, ctx, evidence, identity, resource_account=account)

    bounded = evidence.boundary is not None
    bucket_hits = scan(
        facts.bucket_policy,
        action=action,
        resource=resource,
        identity=identity,
        ctx=ctx,
        has_boundary=bounded,
        memo=snapshot.plans,
        explain=leg.explain,
    )
    if principal.type is PrincipalType.ROOT and action.lower() in ROOT_IMMUNE_ACTIONS:
        if bucket_hits.denies:
            leg.notes.append(
                "the root user is immune to bucket-policy denies on Get/Put/DeleteBucketPolicy"
            )
        bucket_hits.denies.clear()
    if not facts.bucket_allows_apply and bucket_hits.allows:
        note = "bucket-policy allows do not apply to objects owned by another account"
        bucket_hits.missed.extend(replace(ref, note=note) for ref in bucket_hits.allows)
        bucket_hits.allows.clear()
        bucket_hits.forms.clear()
    restricted = restrict_public(facts, request, snapshot, [r.index for r in bucket_hits.allows])
    _restrict(leg, bucket_hits, restricted)
    if facts.ignored_public_acl:
        leg.bpa_reason = facts.details.get(Layer.BLOCK_PUBLIC_ACCESS)
    leg.layers[Layer.BUCKET_POLICY] = bucket_hits
    for layer, problem in facts.undecided.items():
        leg.layers[layer] = Hits(present=True, problems=[problem])
    for layer, hits in facts.acl_hits.items():
        leg.layers[layer] = hits
    leg.details.update(facts.details)
    leg.native_blocks.extend(facts.blocks)
    leg.late_blocks.extend(facts.late_blocks)
    leg.notes.extend(facts.notes)
    return leg


def _access_point_leg(
    request: AccessRequest,
    snapshot: Snapshot,
    op: Operation,
    ctx: RequestContext,
    evidence: PrincipalEvidence,
    identity: PrincipalIdentity,
    facts: S3Facts,
    explain: bool,
) -> Leg:
    """The authorization on the access point: identity policies and guardrails on the access
    point ARN, with the access point policy as the resource policy, for the access point's
    account (its ARN's: the bucket's, or another's for a cross-account access point). The
    bucket is authorized separately (its policy must allow or delegate to access points): both
    must allow.
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-points-policies.html
    """
    resource = access_point_object_arn(request.access_point_arn or "", op.key)
    # The access point's own account (its ARN's): a cross-account access point, on a bucket of
    # another account, is authorized as a resource of its owner.
    parsed = parse_arn(request.access_point_arn or "")
    named = parsed.account if parsed is not None else ""
    account = named if is_account_id(named) else snapshot.account_id
    leg = _new_leg(request, snapshot, op.action, resource, explain, account)
    _common_layers(leg, request, snapshot, ctx, evidence, identity, resource_account=account)
    hits = scan(
        facts.access_point_policy or (),
        action=op.action,
        resource=resource,
        identity=identity,
        ctx=ctx,
        has_boundary=evidence.boundary is not None,
        memo=snapshot.plans,
        explain=explain,
    )
    granting = [r.index for r in hits.allows]
    _restrict(leg, hits, restrict_public_point(facts, request, snapshot, granting, account))
    leg.layers[Layer.ACCESS_POINT_POLICY] = hits
    return leg


def _restrict(leg: Leg, hits: Hits, restricted: tuple[str, bool] | None) -> None:
    """RestrictPublicBuckets on the resource policy whose `hits` these are: a block when it
    bites for sure; the public grant weakened to the owner account's when it only may."""
    if restricted is None:
        return
    reason, definite = restricted
    if definite:
        leg.native_blocks.append((Layer.BLOCK_PUBLIC_ACCESS, reason, ()))
    elif PrincipalForm.ANY in hits.forms:
        hits.forms.discard(PrincipalForm.ANY)
        hits.forms.add(PrincipalForm.ACCOUNT)
        leg.bpa_reason = f"possibly: {reason}"


def _common_layers(
    leg: Leg,
    request: AccessRequest,
    snapshot: Snapshot,
    ctx: RequestContext,
    evidence: PrincipalEvidence,
    identity: PrincipalIdentity,
    *,
    resource_account: str,
    rcp_applies: bool = True,
) -> None:
    """Identity, boundary, session, SCP, RCP and VPC endpoint layers for one authorization.

    SCPs are those of the requester's account; RCPs those of `resource_account` (the bucket's,
    or the KMS key's for the KMS leg).
    """
    action, resource = leg.action, leg.resource
    principal = request.principal
    leg.layers[Layer.IDENTITY_POLICY] = scan(
        evidence.identity,
        action=action,
        resource=resource,
        identity=None,
        ctx=ctx,
        memo=snapshot.plans,
        explain=leg.explain,
    )
    if evidence.exists is None:
        leg.layers[Layer.IDENTITY_POLICY].problems.extend(evidence.problems)
    if principal.type not in (
        PrincipalType.ROOT,
        PrincipalType.ANONYMOUS,
        PrincipalType.AWS_SERVICE,
    ):
        leg.layers[Layer.IDENTITY_POLICY].present = True  # no policy at all: nothing allows
    if evidence.boundary is not None:
        boundary = scan(
            (evidence.boundary,),
            action=action,
            resource=resource,
            identity=None,
            ctx=ctx,
            memo=snapshot.plans,
            explain=leg.explain,
        )
        leg.layers[Layer.PERMISSIONS_BOUNDARY] = boundary
        leg.gates.append(
            (Layer.PERMISSIONS_BOUNDARY, boundary, "no permissions boundary allows", None)
        )
    session = _session_hits(request, snapshot, action, resource, ctx, leg.explain)
    if session is not None:
        leg.layers[Layer.SESSION_POLICY] = session
    scp_levels = _cached_levels(request, snapshot, "scp", resource_account)
    if scp_levels is not None:
        _org_gate(leg, Layer.SCP, scp_levels, action, resource, None, ctx, snapshot.plans)
    if rcp_applies:
        rcp_levels = _cached_levels(request, snapshot, "rcp", resource_account)
        if rcp_levels is not None:
            _org_gate(leg, Layer.RCP, rcp_levels, action, resource, identity, ctx, snapshot.plans)
    if request.vpc_endpoint_id:
        vpce = _vpce_hits(request, snapshot, action, resource, identity, ctx, leg.explain)
        leg.layers[Layer.VPC_ENDPOINT_POLICY] = vpce
        leg.gates.append((Layer.VPC_ENDPOINT_POLICY, vpce, "no VPC endpoint policy allows", None))
    if principal.type is PrincipalType.ROOT:
        leg.details[Layer.IDENTITY_POLICY] = "the root user has full access to its account"


def _session_hits(
    request: AccessRequest,
    snapshot: Snapshot,
    action: str,
    resource: str,
    ctx: RequestContext,
    explain: bool,
) -> Hits | None:
    principal = request.principal
    if request.session_policy is not None:
        source = compiled_source(
            snapshot, Layer.SESSION_POLICY, "session-policy", request.session_policy,
            PolicyKind.SESSION, from_request=True,
        )  # fmt: skip
        return scan(
            (source,), action=action, resource=resource, identity=None, ctx=ctx, explain=explain
        )
    if principal.type is PrincipalType.FEDERATED_USER:
        # GetFederationToken sessions have no permissions without a session policy, and the
        # policy passed is not in the S3 event: the layer cannot be checked.
        hits = Hits(present=True)
        hits.problems.append(
            Unchecked(
                layer=Layer.SESSION_POLICY,
                reason="the session policy passed to GetFederationToken is not in the S3 event",
                needs="the session policy (--session-policy) or the GetFederationToken event",
            )
        )
        return hits
    return None


@dataclass(frozen=True, slots=True)
class _Level:
    target: str
    sources: tuple[PolicySource, ...] | Unchecked


def _cached_levels(
    request: AccessRequest, snapshot: Snapshot, kind: str, resource_account: str
) -> list[_Level] | None:
    """Org levels depend only on the principal (SCP) or the resource's account (RCP): computed
    once per snapshot."""
    principal = request.principal
    if request.scp_policies and kind == "scp":
        return _org_levels(request, snapshot, kind, resource_account)
    key = (
        "org-levels", kind, principal.type, principal.account_id, principal.principal_arn,
        resource_account if kind == "rcp" else None,
    )  # fmt: skip
    return snapshot.cached(key, lambda: _org_levels(request, snapshot, kind, resource_account))


def _org_levels(
    request: AccessRequest, snapshot: Snapshot, kind: str, resource_account: str
) -> list[_Level] | None:
    """SCP/RCP levels that apply, root first; None when the policy type does not apply.

    SCPs follow the requester's account, RCPs the resource's: the bucket account's path is the
    top-level `organization`, another account's is `accounts.<id>.organization`.
    """
    layer = Layer.SCP if kind == "scp" else Layer.RCP
    pkind = PolicyKind.SCP if kind == "scp" else PolicyKind.RCP
    principal = request.principal
    account = resource_account
    if "/aws-service-role/" in principal.principal_arn:
        return None  # neither SCPs nor RCPs apply to service-linked roles
    if kind == "scp":
        if principal.type in (PrincipalType.AWS_SERVICE, PrincipalType.ANONYMOUS):
            return None
        if request.scp_policies:
            if _is_management(snapshot, principal.account_id or ""):
                return None  # SCPs given for the management account do not apply to it either
            sources = tuple(
                compiled_source(snapshot, layer, f"scp:given-{i}", doc, pkind, from_request=True)
                for i, doc in enumerate(request.scp_policies)
            )
            return [_Level(target="given", sources=sources)]
        account = principal.account_id or ""
    other: str | None = None  # the account whose path it is, when not the snapshot's
    # An RCP path elsewhere: a KMS key's, or a bucket the snapshot does not hold.
    whose = "requester's" if kind == "scp" else "resource's"
    org: Organization | Unreadable | None = snapshot.organization
    if account and account != snapshot.account_id:
        side = snapshot.side(account)
        if side is None:
            problem = Unchecked(
                layer=layer,
                reason=f"the {kind.upper()}s of the {whose} account {account} are not "
                "in this account's snapshot",
                needs=f"organizations:ListPoliciesForTarget on the {whose} account",
            )
            return [_Level(target=account, sources=problem)]
        other = account
        org = side if isinstance(side, Unreadable) else side.organization
    if org is None:
        return None
    if isinstance(org, Unreadable):
        problem = in_account(unchecked_for(layer, org, "the organization"), whose, other)
        return [_Level(target="organization", sources=problem)]
    if _is_management(snapshot, account):
        return None
    levels: list[_Level] = []
    for level in org.levels:
        policies = level.scps if kind == "scp" else level.rcps
        if policies is None:
            continue
        if isinstance(policies, Unreadable):
            what = f"{kind.upper()}s of {level.target_id}"
            problem = in_account(unchecked_for(layer, policies, what), whose, other)
            levels.append(_Level(level.target_id, problem))
            continue
        levels.append(
            _Level(
                level.target_id,
                tuple(
                    compiled_source(snapshot, layer, p.arn or p.id, p.content, pkind)
                    for p in policies
                ),
            )
        )
    return levels or None


def _is_management(snapshot: Snapshot, account: str) -> bool:
    """Whether an organization of the snapshot names `account` as its management account.

    Any of them tells: an account belongs to one organization at most, and SCPs and RCPs never
    apply to its management account (orgs_manage_policies_scps.html, ..._rcps.html). An
    account's own record may not say it (`management_account_id` left out) when another's does.
    """
    managers = snapshot.cached(("management accounts",), lambda: _management_accounts(snapshot))
    return account in managers


def _management_accounts(snapshot: Snapshot) -> frozenset[str]:
    sides = (
        side.organization for side in snapshot.accounts.values() if isinstance(side, AccountSide)
    )
    return frozenset(
        org.management_account_id
        for org in (snapshot.organization, *sides)
        if isinstance(org, Organization) and org.management_account_id
    )


def _org_gate(
    leg: Leg,
    layer: Layer,
    levels: Sequence[_Level],
    action: str,
    resource: str,
    identity: PrincipalIdentity | None,
    ctx: RequestContext,
    memo: PlanMemo,
) -> None:
    """Every level must allow; a deny at any level is explicit."""
    merged = Hits(present=True)
    for level in levels:
        if isinstance(level.sources, Unchecked):
            hits = Hits(present=True, problems=[level.sources])
        else:
            hits = scan(
                level.sources,
                action=action,
                resource=resource,
                identity=identity,
                ctx=ctx,
                memo=None if level.target == "given" else memo,
                explain=leg.explain,
            )
        merged.denies.extend(hits.denies)
        merged.allows.extend(hits.allows)
        merged.missed.extend(hits.missed)
        merged.problems.extend(hits.problems)
        what = "SCP" if layer is Layer.SCP else "RCP"
        text = f"no {what} attached at {level.target} allows"
        leg.gates.append((layer, hits, text, level.target))
    leg.layers[layer] = merged


def _vpce_hits(
    request: AccessRequest,
    snapshot: Snapshot,
    action: str,
    resource: str,
    identity: PrincipalIdentity,
    ctx: RequestContext,
    explain: bool,
) -> Hits:
    endpoint_id = request.vpc_endpoint_id or ""
    endpoint = snapshot.vpc_endpoints.get(endpoint_id)
    layer = Layer.VPC_ENDPOINT_POLICY
    if isinstance(endpoint, Unreadable):
        return Hits(present=True, problems=[unchecked_for(layer, endpoint, endpoint_id)])
    if endpoint is None:
        problem = Unchecked(
            layer=layer,
            reason=f"VPC endpoint {endpoint_id} is not in the snapshot",
            needs="ec2:DescribeVpcEndpoints",
        )
        return Hits(present=True, problems=[problem])
    if endpoint.policy is None:
        hits = Hits(present=True)
        hits.allows.append(
            StatementRef(policy=f"vpce-policy:{endpoint_id}", index=0, note="default policy")
        )
        return hits
    source = compiled_source(
        snapshot, layer, f"vpce-policy:{endpoint_id}", endpoint.policy, PolicyKind.ENDPOINT
    )
    named = scan(
        (source,),
        action=action,
        resource=resource,
        identity=identity,
        ctx=ctx,
        memo=snapshot.plans,
        explain=explain,
    )
    if (endpoint.endpoint_type or "").lower() != "gateway" or source.compiled is None:
        return named
    gateway = scan(
        (source,),
        action=action,
        resource=resource,
        identity=_gateway_identity(identity),
        ctx=ctx,
        memo=snapshot.plans,
        explain=explain,
    )
    return _gateway_hits(endpoint_id, source, identity, named, gateway)


# Principal entries that name the account itself (its root user in a gateway endpoint policy).
_ACCOUNT_FORMS = frozenset({PrincipalForm.ACCOUNT, PrincipalForm.CANONICAL_USER})


def _gateway_identity(identity: PrincipalIdentity) -> PrincipalIdentity:
    """What a requester presents to a Gateway endpoint policy's Principal element.

    "With gateway endpoints, the Principal element must be set to *. To specify a principal,
    use the aws:PrincipalArn condition key. If you specify the principal in the following
    format [the account], access is granted to the AWS account root user only, not all users
    and roles for the account." (https://docs.aws.amazon.com/vpc/latest/privatelink/
    vpc-endpoints-access.html#vpc-endpoint-policies-gateway). So only the root user is named by
    an account form; no other requester is named by anything but "*".
    """
    if identity.anonymous or (identity.presented and identity.is_account):
        return identity
    return PrincipalIdentity(presented=frozenset())


def _gateway_hits(
    endpoint_id: str,
    source: PolicySource,
    identity: PrincipalIdentity,
    named: Hits,
    gateway: Hits,
) -> Hits:
    """A Gateway endpoint policy judged as the PrivateLink guide says (`_gateway_identity`).

    A statement that named the requester by account only is taken to grant the root user only
    (documented). One that names a specific principal (user, role, session...) is a statement
    the guide says must not be written ("must be set to *") without saying what AWS does with
    it: when it would decide for this requester, the layer is unknown (the verdict cannot be
    `allowed` or a definite deny on it) and the detail says to use aws:PrincipalArn.
    """
    compiled = source.compiled
    assert compiled is not None
    statements = {st.index: st for st in compiled.statements}

    def indexes(hits: Hits) -> set[int]:
        return {ref.index for ref in (*hits.allows, *hits.denies)}

    differing = indexes(named) ^ indexes(gateway)
    if not differing:
        return gateway
    out = Hits(present=gateway.present, problems=list(gateway.problems))
    out.forms = set(gateway.forms)
    out.missed = list(gateway.missed)
    undocumented: set[int] = set()
    for index in sorted(differing):
        st = statements.get(index)
        element = st.principal if st is not None else None
        forms = set(element.named_forms(identity)) if element is not None else set()
        if element is not None and not element.negated and forms <= _ACCOUNT_FORMS:
            continue  # named by account only: the root user alone, as documented
        undocumented.add(index)
    for ref in (*named.allows, *named.denies):
        if ref.index in differing and ref.index not in undocumented:
            note = "a Gateway endpoint policy's account principal grants the root user only"
            out.missed.append(replace(ref, note=note))
    for ref in gateway.denies:
        if ref.index not in undocumented:
            out.denies.append(ref)
    for ref in gateway.allows:
        if ref.index not in undocumented:
            out.allows.append(ref)
    for index in sorted(undocumented):
        st = statements[index]
        label = f"'{st.sid}' #{index}" if st.sid else f"#{index}"
        refs = (*named.allows, *named.denies, *gateway.allows, *gateway.denies)
        ref = next(r for r in refs if r.index == index)
        note = (
            'the Principal of a Gateway endpoint policy must be "*" (name principals with '
            "aws:PrincipalArn): AWS does not document what it does with this statement"
        )
        out.missed.append(replace(ref, note=note))
        out.problems.append(
            Unchecked(
                layer=Layer.VPC_ENDPOINT_POLICY,
                reason=(
                    f"statement {label} ({st.effect}) of the Gateway endpoint {endpoint_id} "
                    'policy names a specific principal, where AWS requires "Principal": "*" '
                    "and aws:PrincipalArn conditions; its effect on this request is not "
                    "documented"
                ),
                needs='the statement rewritten with "Principal": "*" and an aws:PrincipalArn '
                "condition",
            )
        )
    return out


# --------------------------------------------------------------------------- KMS leg


def _kms_leg(
    request: AccessRequest,
    snapshot: Snapshot,
    kms: kms_leg.KmsLeg,
    ctx: RequestContext,
    evidence: PrincipalEvidence,
    identity: PrincipalIdentity,
    explain: bool = True,
) -> Leg:
    account = kms_leg.key_account(kms.key_arn, snapshot)
    kctx = kms_leg.leg_context(ctx, request, kms, account, organization_keys(account, snapshot))
    leg = _new_leg(request, snapshot, kms.action, kms.key_arn, explain, account)
    _common_layers(
        leg, request, snapshot, kctx, evidence, identity,
        resource_account=account, rcp_applies=not kms.aws_managed,
    )  # fmt: skip
    key_hits = scan(
        kms.key_policy,
        action=kms.action,
        resource=kms.key_arn,
        identity=identity,
        ctx=kctx,
        has_boundary=evidence.boundary is not None,
        memo=snapshot.plans,
        explain=leg.explain,
    )
    key_hits.present = True
    if kms.assumed is not None:
        key_hits.problems.append(kms.assumed)
        leg.assumed = kms.assumed
    leg.layers[Layer.KMS_KEY_POLICY] = key_hits
    grant_hits = kms_leg.grant_hits(kms, request)
    leg.layers[Layer.KMS_GRANT] = grant_hits
    leg.details.update(kms.details)
    leg.native_blocks.extend(kms.blocks)
    if kms.key_state is not None:
        leg.late_blocks.append((Layer.KMS_KEY_POLICY, kms.key_state))
    return leg


# --------------------------------------------------------------------------- verdict


@dataclass(slots=True)
class _Result:
    verdict: Verdict
    blocked: list[Layer]
    reasons: dict[Layer, str]
    # The organization level a layer's reason names (an SCP or RCP gate's, `Leg.gates`)
    levels: dict[Layer, str] = field(default_factory=dict)


def _verdict(leg: Leg) -> Evaluation:
    """Combine the layer facts of one leg into its Evaluation."""
    result = _judge(leg)
    return Evaluation(
        action=leg.action,
        resource_arn=leg.resource,
        decision=result.verdict,
        blocked_by=tuple(dict.fromkeys(result.blocked)),
        layers=tuple(_layer_results(leg, result.blocked, result.reasons, result.levels)),
    )


def _judge(leg: Leg) -> _Result:
    """The verdict of one leg; a KMS leg on an assumed key is inconclusive whatever it says.

    When the object's head could not be read, its encryption is unknown: the leg is judged
    with the bucket default key, and what it finds (a deny, or an allow that another key could
    refuse) is what the request would meet if the object uses that key, not a fact (DESIGN 2:
    an unreadable part that could deny never yields `allowed`).
    """
    result = _judge_layers(leg)
    if leg.assumed is None:
        return result
    found = result.verdict.value
    text = f"{leg.assumed.reason}; with that key, the KMS call would be {found}"
    if result.blocked:
        text += f" ({', '.join(layer.value for layer in result.blocked)})"
    reasons = {**result.reasons, Layer.KMS_KEY_POLICY: text}
    return _Result(Verdict.INCONCLUSIVE, [], reasons, result.levels)


# How `_decide` reports a missing grant: a principal of the account's, or an outsider's.
_GRANT_BLOCKED: Final = ([Layer.IDENTITY_POLICY], [Layer.BUCKET_POLICY])


def _judge_layers(leg: Leg) -> _Result:
    """The verdict of one leg: explicit denies first, then the rest with unknowns both ways."""
    denies = [layer for layer, hits in leg.layers.items() if hits.denies]
    if denies:
        return _Result(Verdict.EXPLICIT_DENY, denies, {})
    hopeful = _decide(leg, assume_unknown_allows=True)
    if hopeful.verdict is not Verdict.ALLOWED:
        if leg.bpa_reason is not None and hopeful.blocked in _GRANT_BLOCKED:
            # The request fails only because Block Public Access took a public grant away: the
            # grant its own account needed, or the resource grant of an outsider.
            reasons = {**hopeful.reasons, Layer.BLOCK_PUBLIC_ACCESS: leg.bpa_reason}
            return _Result(hopeful.verdict, [Layer.BLOCK_PUBLIC_ACCESS], reasons, hopeful.levels)
        return hopeful
    if not any(hits.unknown for hits in leg.layers.values()):
        return _Result(Verdict.ALLOWED, [], {})
    wary = _decide(leg, assume_unknown_allows=False)
    could_deny = {
        layer: "could not be checked, and it may hold an explicit deny"
        for layer, hits in leg.layers.items()
        if hits.unknown and layer not in GRANT_ONLY_LAYERS
    }
    if wary.verdict is Verdict.ALLOWED and not could_deny:
        return _Result(Verdict.ALLOWED, [], {})
    return _Result(Verdict.INCONCLUSIVE, [], {**could_deny, **wary.reasons}, wary.levels)


def _decide(leg: Leg, *, assume_unknown_allows: bool) -> _Result:
    """The verdict when no explicit deny applies, with unknown layers assumed one way. A KMS
    key that is not Enabled, or an Object Lock, blocks too, after the policies: KMS reports its
    state as an error of its own, and S3 checks a version's lock once the request is allowed,
    so a policy that denies is what an AccessDenied names first."""
    result = _decide_policies(leg, assume_unknown_allows=assume_unknown_allows)
    if not leg.late_blocks:
        return result
    denied = result.verdict is Verdict.IMPLICIT_DENY
    blocked = list(result.blocked) if denied else []
    reasons = dict(result.reasons) if denied else {}
    for layer, text in leg.late_blocks:
        blocked.append(layer)
        said = reasons.get(layer)
        reasons[layer] = f"{said}; {text}" if said else text
    levels = result.levels if denied else {}
    return _Result(Verdict.IMPLICIT_DENY, list(dict.fromkeys(blocked)), reasons, levels)


def _decide_policies(leg: Leg, *, assume_unknown_allows: bool) -> _Result:
    """`_decide` without the late blocks."""
    reasons: dict[Layer, str] = {}
    levels: dict[Layer, str] = {}
    blocked: list[Layer] = []

    def passes(hits: Hits) -> bool:
        return bool(hits.allows) or (hits.unknown and assume_unknown_allows)

    for layer, text, _refs in leg.native_blocks:
        blocked.append(layer)
        reasons[layer] = text
    for layer, hits, text, level in leg.gates:
        if layer in (Layer.PERMISSIONS_BOUNDARY,):
            continue  # judged with the grant below: some grants are not limited by it
        if not passes(hits):
            blocked.append(layer)
            if layer not in reasons:
                reasons[layer] = text
                if level is not None:
                    levels[layer] = level
    if blocked:
        return _Result(Verdict.IMPLICIT_DENY, blocked, reasons, levels)

    identity = leg.layers.get(Layer.IDENTITY_POLICY, Hits())
    root = leg.details.get(Layer.IDENTITY_POLICY, "").startswith("the root user")
    forms: set[PrincipalForm] = set()
    grant_unknown = False
    for layer in (
        Layer.BUCKET_POLICY,
        Layer.ACCESS_POINT_POLICY,
        Layer.BUCKET_ACL,
        Layer.OBJECT_ACL,
        Layer.KMS_KEY_POLICY,
        Layer.KMS_GRANT,
    ):
        grant = leg.layers.get(layer)
        if grant is None:
            continue
        forms |= grant.forms
        grant_unknown = grant_unknown or grant.unknown
    if grant_unknown and assume_unknown_allows:
        forms.add(PrincipalForm.ANY)
    kms = Layer.KMS_KEY_POLICY in leg.layers
    if leg.cross_account:
        return _decide_cross_account(leg, identity, forms, root, assume_unknown_allows)
    if kms:
        return _decide_kms(leg, identity, forms, root, assume_unknown_allows)

    identity_allows = passes(identity) or root
    if root and forms & DELEGATING_FORMS:
        forms.add(PrincipalForm.ANY)
    unlimited = bool(forms & UNLIMITED_FORMS)
    limited = PrincipalForm.ROLE in forms
    if leg.federated and PrincipalForm.USER in forms:
        # A grant to a federated user's parent IAM user is limited by the session policy; only
        # a grant naming the federated-user session is not (id_credentials_temp_control-access_
        # getfederationtoken.html).
        unlimited = bool(forms & (UNLIMITED_FORMS - {PrincipalForm.USER}))
        limited = True
    if not (identity_allows or unlimited or limited) and not identity.present:
        # Anonymous callers and service principals have no identity policies: only a resource
        # grant (bucket or access point policy, ACL) could have allowed the request.
        reasons[Layer.BUCKET_POLICY] = (
            "no bucket policy statement or ACL grant allows the action to this requester"
        )
        return _Result(Verdict.IMPLICIT_DENY, [Layer.BUCKET_POLICY], reasons)
    if not (identity_allows or unlimited or limited):
        reasons[Layer.IDENTITY_POLICY] = (
            "no identity-based policy allows the action, and no resource grant names the "
            "requester in a form that grants by itself"
        )
        if forms & DELEGATING_FORMS:
            reasons[Layer.IDENTITY_POLICY] += (
                " (a grant to the account only delegates to identity policies)"
            )
        return _Result(Verdict.IMPLICIT_DENY, [Layer.IDENTITY_POLICY], reasons)
    if unlimited or root:
        return _Result(Verdict.ALLOWED, [], reasons)
    for layer, hits, text, _level in leg.gates:
        if layer is Layer.PERMISSIONS_BOUNDARY and not passes(hits):
            return _Result(Verdict.IMPLICIT_DENY, [layer], {layer: text})
    session = leg.layers.get(Layer.SESSION_POLICY)
    if session is not None and not passes(session):
        return _Result(
            Verdict.IMPLICIT_DENY,
            [Layer.SESSION_POLICY],
            {Layer.SESSION_POLICY: "no session policy allows"},
        )
    return _Result(Verdict.ALLOWED, [], reasons)


def _decide_cross_account(
    leg: Leg,
    identity: Hits,
    forms: set[PrincipalForm],
    root: bool,
    assume_unknown_allows: bool,
) -> _Result:
    """Another account's principal needs both sides: a resource grant naming it (or its
    account) and its own account's identity allow, within its boundary and session policy
    (how-s3-evaluates-access-control.html; KMS: key-policy-modifying-external-accounts.html).
    A KMS grant to the requester suffices, as in its own account."""
    kms = Layer.KMS_KEY_POLICY in leg.layers
    if kms and leg.layers.get(Layer.KMS_GRANT, Hits()).allows:
        return _Result(Verdict.ALLOWED, [], {})
    if not forms and kms:
        key_account = leg.resource.split(":")[4] if leg.resource.count(":") >= 5 else ""
        text = (
            f"the key policy neither allows the requester nor its account {leg.account} "
            f"{leg.action}: a key of another account ({key_account or 'unknown'}) must name one "
            "of them, since its delegation to IAM covers its own account's principals only"
        )
        return _Result(Verdict.IMPLICIT_DENY, [Layer.KMS_KEY_POLICY], {Layer.KMS_KEY_POLICY: text})
    if not forms:
        text = (
            f"no bucket policy or ACL statement grants {leg.action} to the requester or its account"
        )
        return _Result(Verdict.IMPLICIT_DENY, [Layer.BUCKET_POLICY], {Layer.BUCKET_POLICY: text})

    def passes(hits: Hits) -> bool:
        return bool(hits.allows) or (hits.unknown and assume_unknown_allows)

    if root:
        return _Result(Verdict.ALLOWED, [], {})
    if not passes(identity):
        text = "the requester's own account must also allow the action in its identity policies"
        if leg.requester_side:
            text = (
                f"the requester's own account must also allow {leg.action} in an identity "
                "policy of the requester, and none does"
            )
        return _Result(
            Verdict.IMPLICIT_DENY, [Layer.IDENTITY_POLICY], {Layer.IDENTITY_POLICY: text}
        )
    for layer, hits, text, _level in leg.gates:
        if layer is Layer.PERMISSIONS_BOUNDARY and not passes(hits):
            return _Result(Verdict.IMPLICIT_DENY, [layer], {layer: text})
    session = leg.layers.get(Layer.SESSION_POLICY)
    if session is not None and not passes(session):
        return _Result(
            Verdict.IMPLICIT_DENY,
            [Layer.SESSION_POLICY],
            {Layer.SESSION_POLICY: "no session policy allows"},
        )
    return _Result(Verdict.ALLOWED, [], {})


def _decide_kms(
    leg: Leg,
    identity: Hits,
    forms: set[PrincipalForm],
    root: bool,
    assume_unknown_allows: bool,
) -> _Result:
    """KMS: the key policy allows directly, or delegates to IAM (root ARN), or a grant applies."""
    key = leg.layers[Layer.KMS_KEY_POLICY]
    grants = leg.layers.get(Layer.KMS_GRANT, Hits())
    if grants.allows:
        return _Result(Verdict.ALLOWED, [], {})
    direct = bool(forms & (UNLIMITED_FORMS | {PrincipalForm.ROLE}))
    delegates = bool(forms & DELEGATING_FORMS)
    identity_allows = bool(identity.allows) or (identity.unknown and assume_unknown_allows)
    if direct or (delegates and (identity_allows or root)):
        for layer, hits, text, _level in leg.gates:
            blocks = not (hits.allows or (hits.unknown and assume_unknown_allows))
            if layer is Layer.PERMISSIONS_BOUNDARY and not direct and blocks:
                return _Result(Verdict.IMPLICIT_DENY, [layer], {layer: text})
        return _Result(Verdict.ALLOWED, [], {})
    if delegates:
        return _Result(
            Verdict.IMPLICIT_DENY,
            [Layer.IDENTITY_POLICY],
            {
                Layer.IDENTITY_POLICY: (
                    f"the key policy delegates to IAM, but no identity-based policy allows "
                    f"{leg.action}"
                )
            },
        )
    text = (
        f"the key policy neither allows the requester {leg.action} nor delegates to IAM "
        "policies (no statement for the account root), and no grant applies"
    )
    if key.unknown and not assume_unknown_allows:
        text = "the key policy could not be read"
    return _Result(Verdict.IMPLICIT_DENY, [Layer.KMS_KEY_POLICY], {Layer.KMS_KEY_POLICY: text})


def _layer_results(
    leg: Leg, blocked: Sequence[Layer], reasons: dict[Layer, str], levels: dict[Layer, str]
) -> list[LayerResult]:
    out: list[LayerResult] = []
    for layer, hits in leg.layers.items():
        if leg.assumed is not None and layer is Layer.KMS_KEY_POLICY:
            # The key is assumed: what its policy says is shown, its outcome is unknown.
            out.append(
                LayerResult(
                    layer=layer,
                    outcome=Outcome.UNKNOWN,
                    statements=(*hits.denies, *hits.allows, *hits.missed),
                    detail=reasons.get(layer) or leg.assumed.reason,
                )
            )
            continue
        if hits.denies:
            outcome = Outcome.EXPLICIT_DENY
            statements = tuple(hits.denies)
        elif hits.unknown and not hits.allows:
            outcome = Outcome.UNKNOWN
            statements = ()
        elif hits.allows:
            outcome = Outcome.ALLOW
            statements = tuple(hits.allows)
        elif not hits.present:
            outcome = Outcome.NOT_APPLICABLE
            statements = ()
        else:
            outcome = Outcome.IMPLICIT_DENY
            statements = ()
        statements = statements + tuple(hits.missed)
        judged = _level_outcome(leg, layer) if outcome is Outcome.ALLOW else None
        level_text: str | None = None
        level: str | None = None  # the organization level the detail names
        if judged is not None:  # the allows are other levels': none decides
            outcome, level_text, level = judged
            statements = tuple(hits.missed)
        if reasons.get(layer):
            level = levels.get(layer)
        detail = reasons.get(layer) or level_text or leg.details.get(layer)
        if outcome is Outcome.UNKNOWN and hits.problems:
            detail = "; ".join(p.reason for p in hits.problems)
            level = None
        if layer is Layer.IDENTITY_POLICY and leg.details.get(layer, "").startswith("the root"):
            outcome = Outcome.ALLOW
        if outcome is not Outcome.EXPLICIT_DENY and any(b[0] is layer for b in leg.late_blocks):
            outcome = Outcome.IMPLICIT_DENY  # a policy layer that a late block names (key state)
        out.append(
            LayerResult(
                layer=layer, outcome=outcome, statements=statements, detail=detail, level=level
            )
        )
    for layer, text, refs in leg.native_blocks:
        out.append(
            LayerResult(layer=layer, outcome=Outcome.IMPLICIT_DENY, statements=refs, detail=text)
        )
    for layer in blocked:
        if layer not in leg.layers and all(b[0] is not layer for b in leg.native_blocks):
            out.append(
                LayerResult(layer=layer, outcome=Outcome.IMPLICIT_DENY, detail=reasons.get(layer))
            )
    return out


def _level_outcome(leg: Leg, layer: Layer) -> tuple[Outcome, str, str | None] | None:
    """The outcome of an organization layer whose merged statements allow, level by level:
    every level must allow (an allow at the root does not make up for an OU where no SCP
    allows), so one level with no allow makes it implicit-deny (with that level), and one that
    could not be read unknown; None when every level allows."""
    levels = [(hits, text, level) for gated, hits, text, level in leg.gates if gated is layer]
    for hits, text, level in levels:
        if not hits.allows and not hits.unknown:
            return Outcome.IMPLICIT_DENY, text, level
    for hits, _text, _level in levels:
        if not hits.allows:
            return Outcome.UNKNOWN, "; ".join(p.reason for p in hits.problems), None
    return None


def _problems(leg: Leg) -> list[Unchecked]:
    return [p for hits in leg.layers.values() for p in hits.problems]


def _combine(
    evaluations: Sequence[Evaluation | Verdicts],
) -> tuple[Verdict, tuple[Layer, ...]]:
    order = (Verdict.EXPLICIT_DENY, Verdict.IMPLICIT_DENY, Verdict.INCONCLUSIVE)
    for verdict in order:
        hit = [e for e in evaluations if e.decision is verdict]
        if hit:
            blocked = tuple(dict.fromkeys(layer for e in hit for layer in e.blocked_by))
            return verdict, blocked
    return Verdict.ALLOWED, ()


def _unique(items: Iterable[Unchecked]) -> list[Unchecked]:
    seen: dict[tuple[str, str], Unchecked] = {}
    for item in items:
        seen.setdefault((item.layer.value, item.reason), item)
    return list(seen.values())


def _new_leg(
    request: AccessRequest,
    snapshot: Snapshot,
    action: str,
    resource: str,
    explain: bool,
    resource_account: str,
) -> Leg:
    principal = request.principal
    cross = _cross_account(request, resource_account)
    return Leg(
        action=action,
        resource=resource,
        explain=explain,
        # An IAM user with a session policy is one way to say a GetFederationToken session.
        federated=principal.type is PrincipalType.FEDERATED_USER
        or (principal.type is PrincipalType.IAM_USER and request.session_policy is not None),
        cross_account=cross,
        account=principal.account_id,
        requester_side=cross
        and (
            principal.account_id == snapshot.account_id
            or snapshot.side(principal.account_id) is not None
        ),
    )


def _cross_account(request: AccessRequest, resource_account: str) -> bool:
    """An authenticated principal of another account than the resource's (bucket or key)."""
    principal = request.principal
    if principal.type in (PrincipalType.ANONYMOUS, PrincipalType.AWS_SERVICE):
        return False
    return bool(principal.account_id) and principal.account_id != resource_account


def _account_canonical_id(request: AccessRequest, snapshot: Snapshot) -> str | None:
    """The canonical user id of the requester's account when known (`requester_canonical_id`)."""
    bucket = snapshot.buckets.get(request.bucket or "")
    owner = bucket.owner_id if isinstance(bucket, Bucket) else None
    canonical = requester_canonical_id(request.principal, snapshot, owner)
    return canonical if isinstance(canonical, str) else None


def _missing_object(
    request: AccessRequest,
    snapshot: Snapshot,
    op: Operation,
    ctx: RequestContext,
    evidence: PrincipalEvidence,
    identity: PrincipalIdentity,
) -> Evaluation:
    """A read of a missing key: 404 with s3:ListBucket, else 403 (spec §3.10)."""
    list_action = "s3:ListBucketVersions" if op.version_id else "s3:ListBucket"
    bucket_arn = op.resource_arn.split("/", 1)[0]
    list_op = Operation(action=list_action, resource_arn=bucket_arn, bucket=op.bucket)
    facts = s3_facts(request, snapshot, list_op, ctx)
    listing = _verdict(_s3_leg(request, snapshot, list_op, ctx, evidence, identity, facts))
    what = f"the key {op.key!r} does not exist"
    if listing.decision is Verdict.ALLOWED:
        text = f"{what}; the requester may {list_action}, so S3 would answer 404, not 403"
        return Evaluation(
            action=op.action,
            resource_arn=op.resource_arn,
            decision=Verdict.ALLOWED,
            layers=(
                LayerResult(
                    layer=Layer.OBJECT_EXISTENCE, outcome=Outcome.NOT_APPLICABLE, detail=text
                ),
            ),
        )
    decision = (
        Verdict.INCONCLUSIVE if listing.decision is Verdict.INCONCLUSIVE else Verdict.IMPLICIT_DENY
    )
    text = f"{what}, and the requester may not {list_action}: S3 answers 403 instead of 404"
    return Evaluation(
        action=op.action,
        resource_arn=op.resource_arn,
        decision=decision,
        blocked_by=(Layer.OBJECT_EXISTENCE,) if decision is Verdict.IMPLICIT_DENY else (),
        layers=(
            LayerResult(layer=Layer.OBJECT_EXISTENCE, outcome=Outcome.IMPLICIT_DENY, detail=text),
            *listing.layers,
        ),
    )
