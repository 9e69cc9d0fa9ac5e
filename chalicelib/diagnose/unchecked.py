"""What the evaluation could not see, and denials it could not reproduce.

Lists each layer that was not visible (why, and which read permission would make it
visible), explains a denial the engine does not reproduce (session policy, a change since the
event, an unreadable layer, request context that could not be derived), and cross-checks the
event's `errorMessage` (the parsed `DenialHint`) against the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..engine.resolve import recorded_endpoint_owner
from ..engine.s3rules import REQUESTER_PAYS_NOTE
from ..model import (
    AccessRequest,
    Cause,
    Decision,
    Layer,
    Outcome,
    PrincipalType,
    Unchecked,
    Verdict,
    WhatIf,
)
from ..snapshot import Snapshot, Unreadable
from .catalog import CauseCode, entry, fill

# The read permission that makes a layer visible to the diagnoser (spec 7.1).
NEEDS: dict[Layer, str] = {
    Layer.SCP: "organizations:ListPoliciesForTarget (through ORG_READ_ROLE_ARN)",
    Layer.RCP: "organizations:ListPoliciesForTarget (through ORG_READ_ROLE_ARN)",
    Layer.VPC_ENDPOINT_POLICY: "ec2:DescribeVpcEndpoints",
    Layer.IDENTITY_POLICY: "iam:GetAccountAuthorizationDetails",
    Layer.PERMISSIONS_BOUNDARY: "iam:GetPolicyVersion",
    Layer.SESSION_POLICY: "the AssumeRole or GetFederationToken event that created the session",
    Layer.BUCKET_POLICY: "s3:GetBucketPolicy",
    Layer.ACCESS_POINT_POLICY: "s3:GetAccessPointPolicy",
    Layer.BUCKET_ACL: "s3:GetBucketAcl",
    Layer.OBJECT_ACL: "s3:GetObjectAcl",
    Layer.OBJECT_OWNERSHIP: "s3:GetBucketOwnershipControls",
    Layer.BLOCK_PUBLIC_ACCESS: "s3:GetBucketPublicAccessBlock, s3:GetAccountPublicAccessBlock",
    Layer.KMS_KEY_POLICY: "kms:GetKeyPolicy, kms:DescribeKey",
    Layer.KMS_GRANT: "kms:ListGrants",
    Layer.OBJECT_EXISTENCE: "s3:GetObject (HeadObject) and s3:ListBucket",
    Layer.OBJECT_LOCK: "s3:GetObjectRetention, s3:GetObjectLegalHold",
    Layer.REQUEST: "s3:GetBucketRequestPayment",
}

# errorMessage policy types as the message grammar names them (spec 4.1) -> layers.
HINT_TYPES: dict[str, frozenset[Layer]] = {
    "identity-based policy": frozenset({Layer.IDENTITY_POLICY}),
    "resource-based policy": frozenset(
        {
            Layer.BUCKET_POLICY,
            Layer.ACCESS_POINT_POLICY,
            Layer.BUCKET_ACL,
            Layer.OBJECT_ACL,
            Layer.OBJECT_OWNERSHIP,
            Layer.BLOCK_PUBLIC_ACCESS,
            Layer.KMS_KEY_POLICY,
            Layer.KMS_GRANT,
            Layer.OBJECT_EXISTENCE,
        }
    ),
    "service control policy": frozenset({Layer.SCP}),
    "resource control policy": frozenset({Layer.RCP}),
    "permissions boundary": frozenset({Layer.PERMISSIONS_BOUNDARY}),
    "session policy": frozenset({Layer.SESSION_POLICY}),
    "vpc endpoint policy": frozenset({Layer.VPC_ENDPOINT_POLICY}),
}
# A grant layer that denies implicitly shows up as "no identity-based policy allows".
_IMPLICIT_GRANT = frozenset({Layer.IDENTITY_POLICY, Layer.BUCKET_POLICY, Layer.ACCESS_POINT_POLICY})

SESSION_TYPES = (PrincipalType.ASSUMED_ROLE, PrincipalType.FEDERATED_USER)

OBJECT_READS_DISABLED = "ObjectReadsDisabled"
"""The `$unreadable` code the collector writes for an object's head and ACL when object reads are
off by configuration (`READ_OBJECTS=false`, chalicelib.collect.base.OBJECT_READS_DISABLED)."""
_READS_DISABLED = "Object reads are disabled by configuration (READ_OBJECTS=false)"


def unchecked_layers(
    request: AccessRequest, decision: Decision, snapshot: Snapshot | None = None
) -> tuple[Unchecked, ...]:
    """The engine's unchecked layers plus any layer whose outcome stayed unknown.

    With the `snapshot`, an object head that could not be read (object reads disabled, or a
    persistent error such as HeadObject on an SSE-C object) is listed too: the object's
    encryption, hence its KMS leg, is unknown.
    """
    owner = endpoint_owner_elsewhere(request, snapshot)
    out = [_explained(_endpoint_elsewhere(u, owner)) for u in decision.unchecked]
    listed = {u.layer for u in out}
    head = _unreadable_head(request, snapshot)
    if head is not None and Layer.KMS_KEY_POLICY not in listed:
        out.append(head)
        listed.add(head.layer)
    for evaluation in decision.evaluations:
        for lr in evaluation.layers:
            if lr.outcome is Outcome.UNKNOWN and lr.layer not in listed:
                reason = lr.detail or f"The {lr.layer.value} could not be read."
                out.append(Unchecked(layer=lr.layer, reason=reason, needs=NEEDS.get(lr.layer)))
                listed.add(lr.layer)
    if (
        decision.decision is Verdict.ALLOWED
        and request.principal.type in SESSION_TYPES
        and request.session_policy is None
        and Layer.SESSION_POLICY not in listed
    ):
        out.append(
            Unchecked(
                layer=Layer.SESSION_POLICY,
                reason="Session policies are not in the S3 CloudTrail record; "
                "one passed when the session was created may deny this request.",
                needs=NEEDS[Layer.SESSION_POLICY],
            )
        )
    return tuple(out)


def endpoint_owner_elsewhere(request: AccessRequest, snapshot: Snapshot | None) -> str | None:
    """The account the record says owns the request's VPC endpoint (`vpcEndpointAccountId`, as
    `aws:VpceAccount`) when it is not the snapshot's: a shared VPC's owner, or another
    account's endpoint, which the snapshot's account cannot describe."""
    if snapshot is None or not request.vpc_endpoint_id:
        return None
    owner = recorded_endpoint_owner(request)
    return owner if owner and owner != snapshot.account_id else None


def endpoint_not_found(item: Unchecked) -> bool:
    """An unchecked VPC endpoint policy because DescribeVpcEndpoints found no such endpoint."""
    return item.layer is Layer.VPC_ENDPOINT_POLICY and item.reason.startswith(
        "InvalidVpcEndpointId.NotFound"
    )


def _endpoint_elsewhere(item: Unchecked, owner: str | None) -> Unchecked:
    """An endpoint not found in the snapshot's account, which the record says another account
    owns: said so, with the read that would tell (in that account)."""
    if owner is None or not endpoint_not_found(item):
        return item
    endpoint = item.reason.partition(" reading ")[2] or "the VPC endpoint"
    return Unchecked(
        layer=item.layer,
        reason=f"VPC endpoint {endpoint} belongs to account {owner} (the record's "
        "vpcEndpointAccountId: a shared VPC's owner, or another account), whose endpoints this "
        "snapshot's account cannot describe: its policy was not read",
        needs=f"ec2:DescribeVpcEndpoints in account {owner}",
    )


def _explained(item: Unchecked) -> Unchecked:
    """An entry for a part the collector was told not to read says so, and how to turn it on."""
    if not item.reason.startswith(OBJECT_READS_DISABLED):
        return item
    what = "the object ACL" if item.layer is Layer.OBJECT_ACL else f"the {item.layer.value}"
    return Unchecked(
        layer=item.layer,
        reason=f"{_READS_DISABLED}: {what} was not read.",
        needs=f"READ_OBJECTS=true and {item.needs}" if item.needs else "READ_OBJECTS=true",
    )


def _unreadable_head(request: AccessRequest, snapshot: Snapshot | None) -> Unchecked | None:
    """The unchecked entry for the request's object when its head could not be read."""
    if snapshot is None or request.bucket is None or request.key is None:
        return None
    bucket = snapshot.buckets.get(request.bucket)
    if bucket is None or isinstance(bucket, Unreadable) or not isinstance(bucket.objects, Mapping):
        return None
    obj = bucket.objects.get(request.key)
    if obj is None or isinstance(obj, Unreadable) or not isinstance(obj.head, Unreadable):
        return None
    marker = obj.head
    if marker.code == OBJECT_READS_DISABLED:
        return Unchecked(
            layer=Layer.KMS_KEY_POLICY,
            reason=f"{_READS_DISABLED}: the object's metadata (encryption, Object Lock) was not "
            "read; its encryption is assumed to be the bucket default, so a KMS key set on the "
            "object itself is not checked.",
            needs=f"READ_OBJECTS=true and {marker.needs or 's3:GetObject'} (HeadObject)",
        )
    return Unchecked(
        layer=Layer.KMS_KEY_POLICY,
        reason=f"{marker.code} reading the head of s3://{request.bucket}/{request.key}: whether "
        "the object is SSE-KMS encrypted, and with which key, is unknown.",
        needs=marker.needs or NEEDS[Layer.OBJECT_EXISTENCE],
    )


def verdict_causes(
    request: AccessRequest,
    decision: Decision,
    unchecked: tuple[Unchecked, ...],
    snapshot: Snapshot | None = None,
) -> tuple[Cause, ...]:
    """NOT_REPRODUCED for an allowed verdict, INCONCLUSIVE when a hidden layer could decide.

    An allowed request on a bucket the snapshot leaves out is explained by that first: S3
    answers 404 for a bucket that does not exist, so a 403 came from one that existed then."""
    values = {"action": request.action, "resource": request.resource_arn}
    if decision.decision is Verdict.ALLOWED:
        return (
            Cause(
                code=CauseCode.NOT_REPRODUCED.value,
                layer=None,
                message=fill(entry(CauseCode.NOT_REPRODUCED).why, values)
                + _also_allowed(request)
                # A runbook request was not denied by anyone we know of: it asks "would it be?"
                + (" Possible explanations: " if request.event_id else " If it was denied: ")
                + "; ".join(
                    _explanations(
                        request, unchecked, _missing_bucket(request, snapshot), decision.notes
                    )
                )
                + ".",
                confidence="possible",
            ),
        )
    if decision.decision is Verdict.INCONCLUSIVE:
        layers = ", ".join(sorted({u.layer.value for u in unchecked})) or "a layer"
        return (
            Cause(
                code=CauseCode.INCONCLUSIVE.value,
                layer=unchecked[0].layer if unchecked else None,
                message=f"{entry(CauseCode.INCONCLUSIVE).why} Not visible: {layers}.",
                confidence="possible",
            ),
        )
    return ()


def _also_allowed(request: AccessRequest) -> str:
    """The sentence that a call's other operations were allowed too (a copy's write, a PUT's
    tagging header), after the one that names its first; empty for one operation."""
    if len(request.operations) == 1:
        return ""
    pairs = dict.fromkeys((op.action, op.resource_arn) for op in request.operations[1:])
    named = ", ".join(f"{action} on {resource}" for action, resource in pairs)
    return f" So {'is' if len(pairs) == 1 else 'are'} the call's {named}."


def unlogged_cause(decision: Decision, hidden: tuple[WhatIf, ...], why: Mapping[str, str]) -> Cause:
    """INCONCLUSIVE: the engine's `decision` turns on keys AWS may have had and the request
    lacks (`hidden`: values of them that change it, `whatif.unlogged_changes`; `why`: why each
    is not known, `resolve.unknown_keys`)."""
    evaluated = _verdict_text(decision.decision, decision.blocked_by)
    turns = "; ".join(
        f"with {w.key} = {', '.join(w.assumed_values)} it is "
        + _verdict_text(w.decision, w.blocked_by)
        for w in hidden
    )
    keys = ", ".join(w.key for w in hidden)
    reasons = list(dict.fromkeys(why[w.key] for w in hidden if w.key in why))
    if all(reason.startswith("CloudTrail") for reason in reasons):
        unknown = "which S3 evaluates and CloudTrail does not log"
    else:
        unknown = f"which AWS evaluates and this diagnosis does not know ({'; '.join(reasons)})"
    return Cause(
        code=CauseCode.INCONCLUSIVE.value,
        layer=hidden[0].blocked_by[0] if hidden[0].blocked_by else None,
        message=f"The verdict turns on {keys}, {unknown}: without it the request is "
        f"{evaluated}; {turns}.",
        confidence="possible",
    )


def _verdict_text(verdict: Verdict, blocked_by: tuple[Layer, ...]) -> str:
    by = f" ({', '.join(layer.value for layer in blocked_by)})" if blocked_by else ""
    return verdict.value + by


def _missing_bucket(request: AccessRequest, snapshot: Snapshot | None) -> str | None:
    """The first bucket of the request's operations that the snapshot leaves out (DESIGN 3.2:
    it does not exist), a copy's destination included."""
    if snapshot is None:
        return None
    for op in request.operations:
        bucket = op.bucket
        if bucket and "*" not in bucket and bucket not in snapshot.buckets:
            return bucket
    return None


def _explanations(
    request: AccessRequest,
    unchecked: tuple[Unchecked, ...],
    missing: str | None = None,
    notes: tuple[str, ...] = (),
) -> list[str]:
    # A Requester Pays bucket refuses an outsider who did not say it pays: S3 logs no header
    # that would tell, so it leads when the engine noted it (`s3rules._requester_pays`).
    out = [note.rstrip(".") for note in notes if REQUESTER_PAYS_NOTE in note]
    if missing is not None:
        out.append(
            f"bucket {missing} is not in the snapshot, and S3 answers a request on a bucket that "
            "does not exist with 404 (NoSuchBucket), not 403: it is another account's bucket "
            "(check the bucket name; the owner's bucket policy must grant the request), or it "
            "was not collected, or was deleted since"
        )
    for item in unchecked:
        if item.layer is not Layer.SESSION_POLICY:
            out.append(f"the {item.layer.value} could not be read and may deny")
    if request.principal.type in SESSION_TYPES and request.session_policy is None:
        out.append("a session policy passed when the session was created (not logged by S3)")
    if request.event_id is None:
        out.append(
            "the denied request carried context keys this one does not give "
            "(pass them with --context-key)"
        )
    when = f" since {request.event_time}" if request.event_time else ""
    out.append(f"a policy changed{when} (IAM changes take seconds to apply everywhere)")
    out += [f"request context: {note.rstrip('.')}" for note in request.notes]
    if request.denial_hint is not None:
        out.append(f"the error message said: {request.denial_hint.raw.rstrip('.')}")
    return out


def hint_mismatch(request: AccessRequest, decision: Decision) -> Cause | None:
    """A MESSAGE_MISMATCH cause when the errorMessage blames another layer than the verdict."""
    hint = request.denial_hint
    if hint is None or hint.policy_type is None or decision.decision is Verdict.ALLOWED:
        return None
    named = _hint_layers(hint.policy_type)
    if not named:
        return None
    blocked = set(decision.blocked_by)
    for evaluation in decision.evaluations:
        blocked |= set(evaluation.blocked_by)
    if not blocked:
        return None
    if hint.explicit is False and named == {Layer.IDENTITY_POLICY}:
        named = set(_IMPLICIT_GRANT)
    if named & blocked:
        return None
    found = ", ".join(sorted(b.value for b in blocked))
    return Cause(
        code=CauseCode.MESSAGE_MISMATCH.value,
        layer=None,
        message=f"{entry(CauseCode.MESSAGE_MISMATCH).why} The message names {hint.policy_type}; "
        f"the evaluation found {found}. A policy may have changed since the event, or several "
        "layers deny and S3 reported only one.",
        confidence="possible",
    )


def _hint_layers(policy_type: str) -> set[Layer]:
    text = policy_type.strip().lower()
    try:
        layer = Layer(text)
    except ValueError:
        return set(HINT_TYPES.get(text, frozenset()))
    for layers in HINT_TYPES.values():
        if layer in layers and text != Layer.IDENTITY_POLICY.value:
            return set(layers)
    return {layer}
