"""Which documents of a snapshot take part in one request, compiled once per snapshot.

`PolicySource` pairs a policy id (an ARN or a readable id such as `bucket-policy:<bucket>`)
with its compiled form, or with the reason it could not be checked (unreadable, malformed).
Pure: no boto3.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..lean_dataclass import dataclass
from ..model import Layer, MalformedPolicyError, Principal, PrincipalType, Unchecked
from ..snapshot import NOT_COLLECTED, Entity, Iam, Snapshot, Unreadable, parse_json_document
from .policy import CompiledPolicy, PolicyKind, compile_policy

_NEEDS = {
    Layer.IDENTITY_POLICY: "iam:GetAccountAuthorizationDetails",
    Layer.PERMISSIONS_BOUNDARY: "iam:GetPolicyVersion",
    Layer.BUCKET_POLICY: "s3:GetBucketPolicy",
    Layer.SCP: "organizations:ListPoliciesForTarget",
    Layer.RCP: "organizations:ListPoliciesForTarget",
    Layer.VPC_ENDPOINT_POLICY: "ec2:DescribeVpcEndpoints",
    Layer.KMS_KEY_POLICY: "kms:GetKeyPolicy",
    Layer.KMS_GRANT: "kms:ListGrants",
    Layer.ACCESS_POINT_POLICY: "s3:GetAccessPointPolicy",
}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PolicySource:
    """One policy of a layer: compiled, or why it could not be checked.

    Compared by identity: sources are built once per snapshot and serve as memo keys.
    """

    policy_id: str
    compiled: CompiledPolicy | None = None
    problem: Unchecked | None = None


def unchecked_for(layer: Layer, marker: Unreadable, what: str) -> Unchecked:
    needs = marker.needs or _NEEDS.get(layer)
    if marker.code == NOT_COLLECTED:
        return Unchecked(layer=layer, reason=f"{what} was not collected", needs=needs)
    return Unchecked(layer=layer, reason=f"{marker.code} reading {what}", needs=needs)


def compiled_source(
    snapshot: Snapshot,
    layer: Layer,
    policy_id: str,
    document: Any,
    kind: PolicyKind,
    *,
    from_request: bool = False,
) -> PolicySource:
    """A policy document compiled once per snapshot, or why it cannot be checked.

    The PolicySource itself is kept on the snapshot (it keys the engine's statement plans).
    Policies that come with the request (session policy, runbook SCPs) are cached by content,
    since the same id names a different document in each request.
    """
    key = policy_id
    if from_request:
        key = f"{policy_id}#{json.dumps(document, sort_keys=True, default=str)}"
    return snapshot.cached(
        ("source", kind.value, key), lambda: _compile(layer, policy_id, document, kind)
    )


def problem_source(snapshot: Snapshot, policy_id: str, problem: Unchecked) -> PolicySource:
    """A policy that could not be checked, kept on the snapshot like the compiled ones."""
    return snapshot.cached(
        ("problem", policy_id, problem.reason),
        lambda: PolicySource(policy_id=policy_id, problem=problem),
    )


def _compile(layer: Layer, policy_id: str, document: Any, kind: PolicyKind) -> PolicySource:
    if isinstance(document, Unreadable):
        return PolicySource(
            policy_id=policy_id, problem=unchecked_for(layer, document, f"policy {policy_id}")
        )
    try:
        compiled = compile_policy(parse_json_document(document), policy_id=policy_id, kind=kind)
    except MalformedPolicyError as error:
        return PolicySource(policy_id=policy_id, problem=Unchecked(layer=layer, reason=str(error)))
    return PolicySource(policy_id=policy_id, compiled=compiled)


@dataclass(frozen=True, slots=True, kw_only=True)
class PrincipalEvidence:
    """The IAM side of a principal: its identity policies and its boundary."""

    exists: bool | None  # None: IAM could not be read
    entity: Entity | None
    identity: tuple[PolicySource, ...]
    boundary: PolicySource | None
    problems: tuple[Unchecked, ...]


def _iam_name(principal: Principal) -> tuple[str, str] | None:
    """(table, name) of the IAM entity whose policies apply."""
    arn = principal.principal_arn
    resource = arn.split(":", 5)[-1] if arn.count(":") >= 5 else ""
    if resource.startswith("user/"):
        return "user", resource.rsplit("/", 1)[-1]
    if resource.startswith("role/"):
        return "role", resource.rsplit("/", 1)[-1]
    if resource.startswith("assumed-role/"):
        parts = resource.split("/")
        return ("role", parts[1]) if len(parts) >= 2 else None
    return None


def principal_evidence(snapshot: Snapshot, principal: Principal) -> PrincipalEvidence:
    """Identity policies (user + groups, or role; managed at their default version) and boundary.

    Another account's principal is read from that account's side (`accounts.<id>.iam`); with
    no side for its account, its identity policies and boundary are not checked.
    """
    if principal.type in (PrincipalType.ROOT, PrincipalType.ANONYMOUS, PrincipalType.AWS_SERVICE):
        return PrincipalEvidence(exists=True, entity=None, identity=(), boundary=None, problems=())
    if principal.type is PrincipalType.FEDERATED_USER and _iam_name(principal) is None:
        # A federated-user ARN alone: the IAM user who called GetFederationToken, whose
        # policies the session's are cut from, is not in it (an event's sessionIssuer is).
        problem = Unchecked(
            layer=Layer.IDENTITY_POLICY,
            reason=f"the IAM user who federated {principal.principal_arn} is not known (the "
            "ARN does not name it): its identity policies and boundary are not checked",
            needs="the federating user (the record's sessionIssuer: diagnose the event)",
        )
        return PrincipalEvidence(
            exists=None, entity=None, identity=(), boundary=None, problems=(problem,)
        )
    account = principal.account_id
    if not account or account == snapshot.account_id:
        return _evidence(snapshot, snapshot.iam, principal, None)
    side = snapshot.side(account)
    if side is None:
        # Another account's principal: its policies are not in this account's snapshot (and a
        # same-named user or role here is someone else).
        problem = Unchecked(
            layer=Layer.IDENTITY_POLICY,
            reason=(
                f"{principal.principal_arn} belongs to account {account}: its "
                "identity policies and boundary are outside this account"
            ),
            needs=f"a snapshot of account {account}",
        )
        return PrincipalEvidence(
            exists=None, entity=None, identity=(), boundary=None, problems=(problem,)
        )
    iam = side if isinstance(side, Unreadable) else side.iam
    return _evidence(snapshot, iam, principal, account)


def kept_evidence(snapshot: Snapshot, principal: Principal) -> PrincipalEvidence:
    """`principal_evidence`, taken once per snapshot and principal: the engine's for every
    request it judges (`evaluate`), and the diagnosis's for the request and each probe."""
    evidence: PrincipalEvidence = snapshot.cached(
        ("principal", principal.type, principal.principal_arn),
        lambda: principal_evidence(snapshot, principal),
    )
    return evidence


def principal_iam(snapshot: Snapshot, principal: Principal) -> Iam | Unreadable | None:
    """The IAM of the principal's account: the snapshot's, or another account's side (None:
    that account is not in the snapshot)."""
    account = principal.account_id
    if not account or account == snapshot.account_id:
        return snapshot.iam
    side = snapshot.side(account)
    if side is None or isinstance(side, Unreadable):
        return side
    return side.iam


def _evidence(
    snapshot: Snapshot, iam: Iam | Unreadable | None, principal: Principal, other: str | None
) -> PrincipalEvidence:
    """The evidence from one account's IAM; `other`: the requester's account when it is not the
    snapshot's (each problem names it)."""
    named = _iam_name(principal)
    if isinstance(iam, Unreadable):
        problem = in_account(unchecked_for(Layer.IDENTITY_POLICY, iam, "IAM"), "requester's", other)
        return PrincipalEvidence(
            exists=None, entity=None, identity=(), boundary=None, problems=(problem,)
        )
    if iam is None or named is None:
        return PrincipalEvidence(exists=False, entity=None, identity=(), boundary=None, problems=())
    table_name, name = named
    table = iam.users if table_name == "user" else iam.roles
    if isinstance(table, Unreadable):
        problem = unchecked_for(Layer.IDENTITY_POLICY, table, f"IAM {table_name}s")
        return PrincipalEvidence(
            exists=None,
            entity=None,
            identity=(),
            boundary=None,
            problems=(in_account(problem, "requester's", other),),
        )
    entity = table.get(name)
    if entity is None:
        return PrincipalEvidence(exists=False, entity=None, identity=(), boundary=None, problems=())
    problems: list[Unchecked] = []
    identity = list(_entity_policies(snapshot, iam, entity, problems))
    if entity.kind == "user":
        identity.extend(_group_policies(snapshot, iam, entity, problems))
    boundary = _boundary(snapshot, iam, entity, problems)
    return PrincipalEvidence(
        exists=True,
        entity=entity,
        identity=tuple(identity),
        boundary=boundary,
        problems=tuple(in_account(p, "requester's", other) for p in problems),
    )


def in_account(problem: Unchecked, whose: str, account: str | None) -> Unchecked:
    """The problem, naming the other account it is in ("the requester's account X: ...")."""
    if not account:
        return problem
    needs = problem.needs
    if needs and account not in needs:
        needs = f"{needs} in account {account}"
    return Unchecked(
        layer=problem.layer, reason=f"the {whose} account {account}: {problem.reason}", needs=needs
    )


def _entity_policies(
    snapshot: Snapshot, iam: Iam, entity: Entity, problems: list[Unchecked]
) -> Iterator[PolicySource]:
    layer = Layer.IDENTITY_POLICY
    if isinstance(entity.inline, Unreadable):
        problems.append(unchecked_for(layer, entity.inline, f"inline policies of {entity.arn}"))
    else:
        for inline in entity.inline:
            policy_id = inline_policy_id(snapshot, entity, inline.name)
            yield compiled_source(snapshot, layer, policy_id, inline.document, PolicyKind.IDENTITY)
    if isinstance(entity.attached, Unreadable):
        problems.append(unchecked_for(layer, entity.attached, f"managed policies of {entity.arn}"))
    else:
        for arn in entity.attached:
            yield managed_source(snapshot, iam, layer, arn, PolicyKind.IDENTITY)


def inline_policy_id(snapshot: Snapshot, entity: Entity, name: str) -> str:
    """`inline:<kind>/<entity>/<policy>`; `inline:<account>:<kind>/...` in another account."""
    account = entity_account(entity)
    where = f"{account}:" if account and account != snapshot.account_id else ""
    return f"inline:{where}{entity.kind}/{entity.name}/{name}"


def entity_account(entity: Entity) -> str | None:
    """The account of an IAM user, group or role, from its ARN."""
    parts = entity.arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[4] else None


def _group_policies(
    snapshot: Snapshot, iam: Iam, user: Entity, problems: list[Unchecked]
) -> Iterator[PolicySource]:
    if isinstance(user.groups, Unreadable):
        problems.append(unchecked_for(Layer.IDENTITY_POLICY, user.groups, f"groups of {user.arn}"))
        return
    if isinstance(iam.groups, Unreadable):
        problems.append(unchecked_for(Layer.IDENTITY_POLICY, iam.groups, "IAM groups"))
        return
    for name in user.groups:
        group = iam.groups.get(name)
        if group is None:
            problems.append(
                Unchecked(
                    layer=Layer.IDENTITY_POLICY,
                    reason=f"group {name} of {user.arn} is not in the snapshot",
                    needs="iam:GetGroup",
                )
            )
            continue
        yield from _entity_policies(snapshot, iam, group, problems)


def managed_source(
    snapshot: Snapshot, iam: Iam, layer: Layer, arn: str, kind: PolicyKind
) -> PolicySource:
    if isinstance(iam.policies, Unreadable):
        return PolicySource(
            policy_id=arn, problem=unchecked_for(layer, iam.policies, f"managed policy {arn}")
        )
    policy = iam.policies.get(arn)
    if policy is None:
        problem = Unchecked(
            layer=layer,
            reason=f"managed policy {arn} is not in the snapshot",
            needs="iam:GetPolicyVersion",
        )
        return PolicySource(policy_id=arn, problem=problem)
    return compiled_source(snapshot, layer, arn, policy.document, kind)


def _boundary(
    snapshot: Snapshot, iam: Iam, entity: Entity, problems: list[Unchecked]
) -> PolicySource | None:
    if entity.boundary_arn is None:
        return None
    if isinstance(entity.boundary_arn, Unreadable):
        problem = unchecked_for(
            Layer.PERMISSIONS_BOUNDARY, entity.boundary_arn, f"boundary of {entity.arn}"
        )
        problems.append(problem)
        return PolicySource(policy_id=f"boundary:{entity.arn}", problem=problem)
    return managed_source(
        snapshot, iam, Layer.PERMISSIONS_BOUNDARY, entity.boundary_arn, PolicyKind.BOUNDARY
    )
