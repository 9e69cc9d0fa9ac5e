"""Decision -> causes: which layer denied, by which statement, and why nothing allowed.

Each cause points at the layer, the policy and statement (with the failed condition's
expected and actual values when a condition decided) and carries a stable catalog code.
An implicit deny of the grant layers (identity, bucket, access point policy) becomes one
cause, refined by the best near miss: a failed condition, a wrong resource or action form,
or a resource grant that does not reach this requester.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from ..arn import is_kms_key_arn, split_s3_arn
from ..engine import kms
from ..engine.s3rules import MFA_DELETE_WORDS, SSE_C_WORDS
from ..model import (
    AccessRequest,
    Cause,
    Decision,
    Evaluation,
    Layer,
    LayerResult,
    Operation,
    Outcome,
    PrincipalType,
    Scope,
    StatementRef,
    Verdict,
)
from .catalog import CauseCode, entry, fill
from .wording import Miss, MissKind, describe_condition

EXPLICIT: dict[Layer, CauseCode] = {
    Layer.SCP: CauseCode.EXPLICIT_DENY_SCP,
    Layer.RCP: CauseCode.EXPLICIT_DENY_RCP,
    Layer.VPC_ENDPOINT_POLICY: CauseCode.EXPLICIT_DENY_VPCE_POLICY,
    Layer.IDENTITY_POLICY: CauseCode.EXPLICIT_DENY_IDENTITY,
    Layer.PERMISSIONS_BOUNDARY: CauseCode.EXPLICIT_DENY_BOUNDARY,
    Layer.SESSION_POLICY: CauseCode.EXPLICIT_DENY_SESSION_POLICY,
    Layer.BUCKET_POLICY: CauseCode.EXPLICIT_DENY_BUCKET_POLICY,
    Layer.ACCESS_POINT_POLICY: CauseCode.EXPLICIT_DENY_ACCESS_POINT_POLICY,
    Layer.KMS_KEY_POLICY: CauseCode.KMS_EXPLICIT_DENY,
    Layer.OBJECT_LOCK: CauseCode.OBJECT_LOCK,
    Layer.OBJECT_EXISTENCE: CauseCode.OBJECT_MISSING_NO_LISTBUCKET,
}

IMPLICIT: dict[Layer, CauseCode] = {
    Layer.SCP: CauseCode.NO_ALLOW_SCP,
    Layer.RCP: CauseCode.NO_ALLOW_RCP,
    Layer.VPC_ENDPOINT_POLICY: CauseCode.NO_ALLOW_VPCE_POLICY,
    Layer.PERMISSIONS_BOUNDARY: CauseCode.NO_ALLOW_BOUNDARY,
    Layer.SESSION_POLICY: CauseCode.NO_ALLOW_SESSION_POLICY,
    Layer.OBJECT_ACL: CauseCode.OBJECT_OWNED_BY_OTHER_ACCOUNT,
    Layer.OBJECT_LOCK: CauseCode.OBJECT_LOCK,
    Layer.OBJECT_EXISTENCE: CauseCode.OBJECT_MISSING_NO_LISTBUCKET,
}

# As `_native_code` reads a detail: lower case, no spaces.
_MFA_DELETE = MFA_DELETE_WORDS.lower().replace(" ", "")
_SSE_C = SSE_C_WORDS.lower().replace(" ", "")

# Layers that can grant a same-account request: an implicit deny there means "nothing allowed".
GRANT_LAYERS = frozenset(
    {Layer.IDENTITY_POLICY, Layer.BUCKET_POLICY, Layer.ACCESS_POINT_POLICY, Layer.BUCKET_ACL}
)

MISS_CODES: dict[MissKind, CauseCode] = {
    MissKind.CONDITION: CauseCode.CONDITION_NOT_MET,
    MissKind.RESOURCE_FORM: CauseCode.WRONG_RESOURCE_OR_ACTION_FORM,
    MissKind.WRONG_BUCKET: CauseCode.WRONG_RESOURCE_OR_ACTION_FORM,
    MissKind.WRONG_PREFIX: CauseCode.WRONG_RESOURCE_OR_ACTION_FORM,
    MissKind.ACTION_NAME: CauseCode.WRONG_RESOURCE_OR_ACTION_FORM,
    MissKind.ROOT_DELEGATION: CauseCode.RESOURCE_GRANT_NOT_EFFECTIVE,
    MissKind.ROLE_PATH: CauseCode.RESOURCE_GRANT_NOT_EFFECTIVE,
    MissKind.SESSION_ARN: CauseCode.RESOURCE_GRANT_NOT_EFFECTIVE,
    MissKind.UNIQUE_ID: CauseCode.RESOURCE_GRANT_NOT_EFFECTIVE,
    MissKind.NON_DEFAULT_VERSION: CauseCode.NO_ALLOW_IDENTITY,
}

SCOPE_CODES: dict[Scope, CauseCode] = {
    Scope.CROSS_ACCOUNT: CauseCode.OUT_OF_SCOPE_CROSS_ACCOUNT,
    Scope.ANONYMOUS: CauseCode.OUT_OF_SCOPE_ANONYMOUS,
    Scope.SERVICE: CauseCode.OUT_OF_SCOPE_SERVICE,
    Scope.OUT_OF_SCOPE: CauseCode.OUT_OF_SCOPE_UNSUPPORTED,
}

BPA_SETTINGS: tuple[tuple[str, CauseCode], ...] = (
    ("blockpublicacls", CauseCode.BPA_BLOCK_PUBLIC_ACLS),
    ("blockpublicpolicy", CauseCode.BPA_BLOCK_PUBLIC_POLICY),
    ("ignorepublicacls", CauseCode.BPA_IGNORE_PUBLIC_ACLS),
    ("restrictpublicbuckets", CauseCode.BPA_RESTRICT_PUBLIC_BUCKETS),
)

# Engine details that only repeat the catalog text ("no session policy allows").
GENERIC_DETAIL = re.compile(r"^no [\w -]+ allows( the action)?\.?$", re.IGNORECASE)
NETWORK_KEYS = frozenset(key.lower() for key in kms.NETWORK_KEYS)  # absent on S3's KMS call
REPEAT_WORDS = 5  # a run of this many words in both the catalog text and the detail
KEY_STATE_WORDS = ("disabled", "pending deletion", "pendingdeletion", "another region", "state")


def find_causes(
    request: AccessRequest, decision: Decision, misses: Sequence[Miss] = ()
) -> tuple[Cause, ...]:
    """The causes of a denial, most decisive first; empty when the request is allowed."""
    return tuple(cause for _, cause in causes_by_evaluation(request, decision, misses))


def causes_by_evaluation(
    request: AccessRequest,
    decision: Decision,
    misses: Sequence[Miss] = (),
    *,
    both_sides: bool = False,
    requester_only: bool = False,
) -> list[tuple[int | None, Cause]]:
    """Each cause with the index of the evaluation it explains (None: the whole request).

    `both_sides`: a cross-account request whose requester's account was judged too;
    `requester_only`: one whose bucket's account was not (the snapshot does not hold it).
    """
    causes: list[tuple[int | None, Cause]] = []
    scope_code = SCOPE_CODES.get(request.scope)
    if scope_code is not None:
        causes.append((None, scope_cause(request, scope_code)))
    if decision.decision is Verdict.ALLOWED:
        return causes
    seen: set[tuple[str, str | None, str | None, int | None]] = set()
    for index, evaluation in enumerate(decision.evaluations):
        if evaluation.decision is Verdict.ALLOWED:
            continue
        own = [m for m in misses if m.evaluation == index]
        for cause in _evaluation_causes(request, evaluation, own, both_sides, requester_only):
            key = _identity(cause)
            if key not in seen:
                seen.add(key)
                causes.append((index, cause))
    return causes


def scope_cause(request: AccessRequest, code: CauseCode) -> Cause:
    reason = request.scope_reason
    message = reason[0].upper() + reason[1:] if reason else entry(code).why
    return Cause(code=code.value, layer=None, message=message)


def _blocking(evaluation: Evaluation) -> list[LayerResult]:
    found = [evaluation.layer(layer) for layer in evaluation.blocked_by]
    layers = [lr for lr in found if lr is not None]
    denied = (Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY, Outcome.UNKNOWN)
    if not layers:
        layers = [lr for lr in evaluation.layers if lr.outcome in denied]
    # Explicit denies outside blocked_by still matter to the reader.
    layers += [
        lr for lr in evaluation.layers if lr.outcome is Outcome.EXPLICIT_DENY and lr not in layers
    ]
    return layers


def _evaluation_causes(
    request: AccessRequest,
    evaluation: Evaluation,
    misses: Sequence[Miss],
    both_sides: bool,
    requester_only: bool = False,
) -> list[Cause]:
    kms = evaluation.action.lower().startswith("kms:")
    causes: list[Cause] = []
    grant_done = False
    for lr in _blocking(evaluation):
        if lr.outcome is Outcome.EXPLICIT_DENY:
            causes.extend(_explicit_causes(request, evaluation, lr, kms=kms))
        elif lr.outcome is Outcome.UNKNOWN:
            causes.append(_cause(CauseCode.INCONCLUSIVE, request, evaluation, lr, possible=True))
        else:  # implicit deny; a blocking layer reported as not-applicable grants nothing
            if (
                kms
                and lr.layer is Layer.IDENTITY_POLICY
                and _other_account_key(request, evaluation)
            ):
                causes.append(_foreign_key_identity_cause(request, evaluation, lr))
            elif kms and lr.layer is Layer.IDENTITY_POLICY and _key_policy_unknown(evaluation):
                causes.append(_unknown_key_policy_identity_cause(request, evaluation, lr))
            elif kms:
                code = {
                    Layer.KMS_KEY_POLICY: _key_policy_code(lr),
                    Layer.IDENTITY_POLICY: CauseCode.KMS_IDENTITY,
                    Layer.KMS_GRANT: CauseCode.KMS_KEY_POLICY,
                }.get(lr.layer) or IMPLICIT.get(lr.layer, CauseCode.KMS_KEY_POLICY)
                causes.append(_cause(code, request, evaluation, lr))
            elif lr.layer in GRANT_LAYERS:
                if not grant_done:
                    causes.append(
                        _no_grant_cause(request, evaluation, lr, misses, both_sides, requester_only)
                    )
                    grant_done = True
            else:
                causes.append(_cause(_native_code(lr, IMPLICIT), request, evaluation, lr))
    if evaluation.decision is Verdict.INCONCLUSIVE:
        # A layer that could not be read may change the outcome: nothing here is definite.
        causes = [replace(cause, confidence="possible") for cause in causes]
    return causes


def _explicit_causes(
    request: AccessRequest, evaluation: Evaluation, lr: LayerResult, *, kms: bool
) -> list[Cause]:
    code = _native_code(lr, EXPLICIT)
    denies = [s for s in lr.statements if (s.effect or "Deny").lower() == "deny"]
    if not denies:
        return [_cause(code, request, evaluation, lr)]
    out = []
    for statement in denies:
        this = code
        if kms:
            network = statement.failed_condition is not None and (
                statement.failed_condition.key.lower() in NETWORK_KEYS
            )
            this = (
                CauseCode.KMS_FORWARD_ACCESS_CONDITION if network else CauseCode.KMS_EXPLICIT_DENY
            )
        out.append(_cause(this, request, evaluation, lr, statement=statement))
    return out


def _native_code(lr: LayerResult, table: dict[Layer, CauseCode]) -> CauseCode:
    """The code of a layer, reading S3-native layers' detail for the precise setting."""
    detail = (lr.detail or "").lower().replace(" ", "")
    if lr.layer is Layer.BLOCK_PUBLIC_ACCESS:
        for word, code in BPA_SETTINGS:
            if word in detail:
                return code
        return CauseCode.BPA_RESTRICT_PUBLIC_BUCKETS
    if lr.layer is Layer.OBJECT_OWNERSHIP:
        if "bucketownerenforced" in detail or "aclsdisabled" in detail:
            return CauseCode.ACLS_DISABLED
        return CauseCode.OBJECT_OWNED_BY_OTHER_ACCOUNT
    if lr.layer is Layer.REQUEST:
        if _MFA_DELETE in detail:
            return CauseCode.MFA_DELETE_REQUIRED
        if _SSE_C in detail:
            return CauseCode.SSE_C_BLOCKED
        if "networkoriginvpc" in detail:
            return CauseCode.ACCESS_POINT_NETWORK_ORIGIN
        if "requesterpays" in detail and "anonymous" in detail:
            return CauseCode.REQUESTER_PAYS_ANONYMOUS
        if "payer" in detail or "requesterpays" in detail:
            return CauseCode.REQUESTER_PAYS_HEADER_MISSING
        return CauseCode.EXPECTED_BUCKET_OWNER_MISMATCH
    if lr.layer in (Layer.KMS_KEY_POLICY, Layer.KMS_GRANT):
        return _key_policy_code(lr) if table is IMPLICIT else CauseCode.KMS_EXPLICIT_DENY
    return table.get(lr.layer, CauseCode.INCONCLUSIVE)


def _other_account_key(request: AccessRequest, evaluation: Evaluation) -> bool:
    """The KMS evaluation is on a key of another account than the requester's."""
    parts = evaluation.resource_arn.split(":")
    account = parts[4] if len(parts) > 5 else ""
    return bool(account) and account != request.principal.account_id


def _foreign_key_identity_cause(
    request: AccessRequest, evaluation: Evaluation, lr: LayerResult
) -> Cause:
    """A key of another account: its key policy may grant, the requester's IAM must allow too."""
    key = evaluation.resource_arn
    granted = evaluation.layer(Layer.KMS_KEY_POLICY)
    grants = granted is not None and granted.outcome is Outcome.ALLOW
    message = (
        f"S3 must call {evaluation.action} on the KMS key {key} with the requester's "
        f"credentials. A key of another account needs an Allow in the requester's own identity "
        f"policies as well as in its key policy{' (which grants it)' if grants else ''}, and no "
        f"identity policy of {request.principal.principal_arn} allows {evaluation.action} on it."
    )
    return Cause(code=CauseCode.KMS_IDENTITY.value, layer=lr.layer, message=message)


def _key_policy_unknown(evaluation: Evaluation) -> bool:
    key_policy = evaluation.layer(Layer.KMS_KEY_POLICY)
    return key_policy is not None and key_policy.outcome is Outcome.UNKNOWN


def _unknown_key_policy_identity_cause(
    request: AccessRequest, evaluation: Evaluation, lr: LayerResult
) -> Cause:
    """No identity Allow for the KMS action, under a key policy that was not checked: whether it
    delegates to IAM (or allows the requester itself) is unknown."""
    message = (
        f"No identity policy of {request.principal.principal_arn} allows {evaluation.action} "
        f"on {evaluation.resource_arn}. The key policy was not checked: whether it delegates "
        "to IAM, so that this Allow is needed, or allows the requester itself is unknown."
    )
    if not is_kms_key_arn(evaluation.resource_arn):
        message += (
            " IAM policies match a KMS key by its ARN, which the snapshot does not give for "
            f"{evaluation.resource_arn}: an Allow naming the key by ARN could not be matched."
        )
    return Cause(code=CauseCode.KMS_IDENTITY.value, layer=lr.layer, message=message)


def _key_policy_code(lr: LayerResult) -> CauseCode:
    detail = (lr.detail or "").lower()
    if any(word in detail for word in KEY_STATE_WORDS) and "policy" not in detail:
        return CauseCode.KMS_KEY_STATE
    return CauseCode.KMS_KEY_POLICY


def _no_grant_cause(
    request: AccessRequest,
    evaluation: Evaluation,
    lr: LayerResult,
    misses: Sequence[Miss],
    both_sides: bool = False,
    requester_only: bool = False,
) -> Cause:
    failed_allows = [
        s
        for s in lr.statements
        if (s.effect or "").lower() == "allow" and s.failed_condition is not None
    ]
    if misses:
        best = misses[0]
        nm = best.near_miss
        code = MISS_CODES[best.kind]
        statement = StatementRef(
            policy=nm.policy,
            index=nm.index,
            sid=nm.sid,
            effect="Allow",
            failed_condition=best.failure,
        )
        layer = nm.layer or lr.layer
        head = _head(code, request, evaluation, LayerResult(layer=layer, outcome=lr.outcome))
        return Cause(
            code=code.value,
            layer=layer,
            message=f"{head} {_where(statement)}: {nm.why}.",
            statement=statement,
        )
    if failed_allows:
        statement = failed_allows[0]
        return _cause(CauseCode.CONDITION_NOT_MET, request, evaluation, lr, statement=statement)
    if request.principal.type in (PrincipalType.ANONYMOUS, PrincipalType.AWS_SERVICE):
        return _cause(CauseCode.NO_RESOURCE_GRANT, request, evaluation, lr)
    if request.scope is Scope.CROSS_ACCOUNT and (both_sides or requester_only):
        return _both_sides_cause(request, evaluation, lr, unread=requester_only)
    if request.scope is Scope.CROSS_ACCOUNT:
        # The requester's identity policies are NOT CHECKED: say only what this account lacks.
        who = request.principal.principal_arn
        bucket = evaluated_bucket(request, evaluation.resource_arn)
        where = f"the policy of bucket {bucket}" if bucket else "a resource policy"
        return Cause(
            code=CauseCode.NO_ALLOW_IDENTITY.value,
            layer=lr.layer,
            message=f"No statement of {where} grants {evaluation.action} on "
            f"{evaluation.resource_arn} to {who}: a cross-account request needs that grant from "
            f"the bucket owner. Whether account {request.principal.account_id} allows it in "
            f"{who}'s own policies is NOT CHECKED here.",
        )
    return _cause(CauseCode.NO_ALLOW_IDENTITY, request, evaluation, lr)


def _both_sides_cause(
    request: AccessRequest, evaluation: Evaluation, lr: LayerResult, *, unread: bool = False
) -> Cause:
    """No grant on one side of a cross-account request judged on both: say which side lacks
    it and what the other side says (`unread`: the bucket owner's side was not read)."""
    who = request.principal.principal_arn
    account = request.principal.account_id
    bucket = evaluated_bucket(request, evaluation.resource_arn)
    where = f"the policy of bucket {bucket}" if bucket else "a resource policy"
    identity = evaluation.layer(Layer.IDENTITY_POLICY)
    if lr.layer is Layer.IDENTITY_POLICY:
        message = (
            f"No identity-based policy of {who} allows {evaluation.action} on "
            f"{evaluation.resource_arn}: a cross-account request needs an Allow in the "
            f"requester's own account {account} as well as the bucket owner's grant, which "
            f"{where} gives."
        )
        if unread:
            message = message.removesuffix(f", which {where} gives.") + (
                f" ({where} was not read here)."
            )
    else:
        allows = identity is not None and identity.outcome is Outcome.ALLOW
        other = (
            f"Account {account} allows it in {who}'s identity policies."
            if allows
            else f"Account {account} must allow it in {who}'s identity policies too."
        )
        message = (
            f"No statement of {where} grants {evaluation.action} on {evaluation.resource_arn} "
            f"to {who} or its account: a cross-account request needs that grant from the "
            f"bucket owner. {other}"
        )
    return Cause(code=CauseCode.NO_ALLOW_IDENTITY.value, layer=lr.layer, message=message)


def _values(request: AccessRequest, evaluation: Evaluation, lr: LayerResult) -> dict[str, str]:
    return {
        "principal": request.principal.principal_arn,
        "action": evaluation.action,
        "resource": evaluation.resource_arn,
        "bucket": evaluated_bucket(request, evaluation.resource_arn) or "",
        "policy": next((s.policy for s in lr.statements), ""),
    }


def operation_of(
    request: AccessRequest, evaluations: Sequence[Evaluation], at: int
) -> Operation | None:
    """The operation of the request that evaluation `at` was made for: its own; a KMS leg's,
    the operation evaluated before it (a copy's write refused its KMS key: the write); an access
    point's, the operation after it."""
    by_pair = {(op.action, op.resource_arn): op for op in reversed(request.operations)}
    kms_leg = evaluations[at].action.startswith("kms:")
    for other in reversed(evaluations[: at + 1]) if kms_leg else evaluations[at:]:
        found = by_pair.get((other.action, other.resource_arn))
        if found is not None:
            return found
    return None


def evaluated_bucket(request: AccessRequest, resource: str) -> str | None:
    """The bucket of an evaluated resource (a copy's write: its destination, where the request's
    first bucket is its source); the request's for a key or access point ARN."""
    target = split_s3_arn(resource)
    return target[0] if target is not None else request.bucket


def _head(code: CauseCode, request: AccessRequest, evaluation: Evaluation, lr: LayerResult) -> str:
    return fill(entry(code).why, _values(request, evaluation, lr))


def _where(statement: StatementRef) -> str:
    sid = f" {statement.sid!r}" if statement.sid else ""
    return f"Statement{sid} #{statement.index} of {statement.policy}"


RESOURCE_POLICY_LAYERS = frozenset({Layer.BUCKET_POLICY, Layer.ACCESS_POINT_POLICY})


def _cause(
    code: CauseCode,
    request: AccessRequest,
    evaluation: Evaluation,
    lr: LayerResult,
    *,
    statement: StatementRef | None = None,
    possible: bool = False,
) -> Cause:
    parts = [_head(code, request, evaluation, lr)]
    if statement is not None:
        where = _where(statement)
        if statement.failed_condition is not None:
            where += f" ({describe_condition(statement.failed_condition)})"
        parts.append(where + ".")
    # Grant layers' details repeat the catalog text (the near misses say more), but for a
    # resource policy that could not be read, whose detail says why (malformed, or a bucket of
    # an account the snapshot does not cover).
    said = lr.layer not in GRANT_LAYERS or (
        lr.outcome is Outcome.UNKNOWN and lr.layer in RESOURCE_POLICY_LAYERS
    )
    if lr.detail and said and not GENERIC_DETAIL.match(lr.detail):
        detail = lr.detail[0].upper() + lr.detail[1:]
        parts[0] = _without_repeat(parts[0], detail)
        parts.append(detail if detail.endswith(".") else detail + ".")
    return Cause(
        code=code.value,
        layer=lr.layer,
        message=" ".join(parts),
        statement=statement,
        confidence="possible" if possible else "definite",
    )


def _without_repeat(head: str, detail: str) -> str:
    """The catalog sentence without the clause that the layer's detail says again.

    "S3 must call kms:Decrypt ..., and the key policy neither allows the requester nor
    delegates to IAM." followed by "The key policy neither allows the requester kms:Decrypt nor
    delegates ..." keeps only "S3 must call kms:Decrypt ...": one sentence says it once.
    """
    import difflib  # here: the batch's start need not load it (issue 15)

    words = head.split()
    match = difflib.SequenceMatcher(
        None, [w.lower() for w in words], [w.lower() for w in detail.split()], autojunk=False
    ).find_longest_match()
    if match.size < REPEAT_WORDS:
        return head
    prefix = " ".join(words[: match.a])
    cut = prefix.rfind(",")
    return prefix[:cut] + "." if cut > 0 else head


def _identity(cause: Cause) -> tuple[str, str | None, str | None, int | None]:
    st = cause.statement
    layer = cause.layer.value if cause.layer else None
    return (cause.code, layer, st.policy if st else None, st.index if st else None)
