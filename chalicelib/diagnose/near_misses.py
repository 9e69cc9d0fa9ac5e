"""Near misses: Allow statements that would have applied to this request but for one element.

For every denied evaluation, each Allow statement of the policies that could have granted it
(identity policies and boundary, bucket policy, KMS key policy, VPC endpoint policy) is
explained element by element by the engine; a statement that fails on exactly one element
related to the request becomes a near miss, said plainly (see `wording`). Two more: a
resource-policy grant to the account root (it delegates, it does not grant) and an Allow that
exists only in a managed policy version that is not the default.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..arn import split_s3_arn
from ..engine.context import RequestContext
from ..engine.evidence import (
    PolicySource,
    compiled_source,
    kept_evidence,
    principal_iam,
)
from ..engine.kms import call_context
from ..engine.policy import (
    CompiledStatement,
    ElementCheck,
    PolicyKind,
    StatementExplanation,
    compile_policy,
)
from ..engine.principals import PrincipalForm, PrincipalIdentity, identity_for
from ..engine.resolve import bucket_tag
from ..events.actions import supports_condition_key
from ..model import (
    AccessRequest,
    ConditionFailure,
    Decision,
    Evaluation,
    Layer,
    MalformedPolicyError,
    NearMiss,
    Outcome,
    PrincipalType,
    Verdict,
)
from ..snapshot import Bucket, KmsKey, Snapshot, Unreadable, parse_json_document
from .wording import (
    Miss,
    MissKind,
    Why,
    action_why,
    condition_why,
    principal_why,
    resource_why,
)

LIMIT = 5
# Most telling first: a grant in the wrong principal form is what the author meant to work.
PRIORITY = (
    MissKind.ROOT_DELEGATION,
    MissKind.ROLE_PATH,
    MissKind.SESSION_ARN,
    MissKind.UNIQUE_ID,
    MissKind.CONDITION,
    MissKind.RESOURCE_FORM,
    MissKind.ACTION_NAME,
    MissKind.WRONG_PREFIX,
    MissKind.WRONG_BUCKET,
    MissKind.NON_DEFAULT_VERSION,
)


def find_near_misses(
    request: AccessRequest, snapshot: Snapshot, decision: Decision, *, limit: int = LIMIT
) -> tuple[Miss, ...]:
    """Near misses of every denied evaluation, most telling first, at most `limit`."""
    # Near misses explain a missing grant; an explicit deny is explained by itself.
    explained = (Verdict.ALLOWED, Verdict.EXPLICIT_DENY)
    if all(evaluation.decision in explained for evaluation in decision.evaluations):
        return ()
    s3_ctx = RequestContext.from_request(request)
    identity = identity_for(request.principal)
    found: list[Miss] = []
    seen: set[tuple[str, int]] = set()
    for index, evaluation in enumerate(decision.evaluations):
        if evaluation.decision in explained:
            continue
        ctx = _context(request, snapshot, evaluation.action, evaluation.resource_arn, s3_ctx)
        for layer, source in _sources(request, snapshot, evaluation.resource_arn):
            if source.compiled is None:
                continue
            for statement in source.compiled.statements:
                if statement.effect != "Allow" or (source.policy_id, statement.index) in seen:
                    continue
                if _fails_twice(
                    statement, evaluation.action, evaluation.resource_arn, identity, ctx
                ):
                    continue
                explanation = statement.explain(
                    evaluation.action, evaluation.resource_arn, identity, ctx
                )
                why = _statement_why(
                    statement,
                    explanation,
                    evaluation.action,
                    evaluation.resource_arn,
                    identity,
                    request,
                )
                # A key policy's account statement is how KMS delegates to IAM: not news; nor
                # is a delegation the requester's identity policies take up (it failed else).
                if why is None or (
                    why.kind is MissKind.ROOT_DELEGATION
                    and (layer is Layer.KMS_KEY_POLICY or _identity_allows(evaluation))
                ):
                    continue
                seen.add((source.policy_id, statement.index))
                failure = _failed_condition(statement, explanation)
                why = _abac_off(why, failure, snapshot, evaluation.resource_arn)
                found.append(_miss(index, layer, source.policy_id, statement, why, failure))
        found.extend(
            _old_versions(request, snapshot, index, evaluation.action, evaluation.resource_arn, ctx)
        )
    found.sort(key=lambda m: PRIORITY.index(m.kind))
    return tuple(found[:limit])


def _identity_allows(evaluation: Evaluation) -> bool:
    """Whether an identity policy of the requester allows the evaluation's action."""
    return any(
        lr.layer is Layer.IDENTITY_POLICY and lr.outcome is Outcome.ALLOW
        for lr in evaluation.layers
    )


def _context(
    request: AccessRequest, snapshot: Snapshot, action: str, resource: str, ctx: RequestContext
) -> RequestContext:
    """The context the engine judged an evaluation in: S3's call to KMS has its own (the key's
    tags as `aws:ResourceTag`, no `s3:` key)."""
    if not action.lower().startswith("kms:"):
        return ctx
    return call_context(request, snapshot, ctx, action, resource) or ctx


def _fails_twice(
    statement: CompiledStatement,
    action: str,
    resource_arn: str,
    identity: PrincipalIdentity,
    ctx: RequestContext,
) -> bool:
    """Two of the statement's Action, Resource and Principal miss the request, as its
    explanation would check them: no near miss (one element missing at most), and no
    explanation to build."""
    failed = (not statement.matches_action(action)) + (
        not statement.matches_resource(resource_arn, ctx)
    )
    if failed == 1 and statement.principal is not None:
        failed += statement.principal_match(identity) is None
    return failed >= 2


def _abac_off(
    why: Why, failure: ConditionFailure | None, snapshot: Snapshot, resource_arn: str
) -> Why:
    """`why`, saying so when its condition wants a tag of the bucket the request lacks and the
    bucket's ABAC is disabled: S3 puts a general purpose bucket's tags in the request only once
    ABAC is enabled (buckets-tagging.html), so a tag set on the bucket does not count."""
    if why.kind is not MissKind.CONDITION or failure is None or failure.actual is not None:
        return why
    tag = bucket_tag(failure.key)
    parts = split_s3_arn(resource_arn) if tag is not None else None
    bucket = snapshot.buckets.get(parts[0]) if parts else None
    if tag is None or not isinstance(bucket, Bucket) or bucket.abac != "Disabled":
        return why
    tags = bucket.tags if isinstance(bucket.tags, Mapping) else {}
    held = f" (it has {tag} = [{tags[tag]}])" if tag in tags else ""
    return Why(
        kind=why.kind,
        text=f"{why.text}; the ABAC of bucket {bucket.name} is disabled, so S3 does not put "
        f"its tags in the request{held}: enabling it (PutBucketAbac) makes them count",
    )


def _failed_condition(
    statement: CompiledStatement, explanation: StatementExplanation
) -> ConditionFailure | None:
    """The failed condition of the statement, from its explanation (computed once)."""
    if not statement.has_condition:
        return None
    if explanation.condition.matched:
        return None
    failures = explanation.condition_failures
    return failures[0] if failures else explanation.condition.decisive


def _miss(
    evaluation: int,
    layer: Layer,
    policy_id: str,
    statement: CompiledStatement,
    why: Why,
    failure: ConditionFailure | None = None,
) -> Miss:
    near = NearMiss(
        policy=policy_id,
        index=statement.index,
        sid=statement.sid,
        layer=layer,
        element=_ELEMENT[why.kind],
        why=why.text,
    )
    return Miss(evaluation=evaluation, kind=why.kind, near_miss=near, failure=failure)


_ELEMENT = {
    MissKind.RESOURCE_FORM: "Resource",
    MissKind.WRONG_BUCKET: "Resource",
    MissKind.WRONG_PREFIX: "Resource",
    MissKind.ACTION_NAME: "Action",
    MissKind.ROLE_PATH: "Principal",
    MissKind.SESSION_ARN: "Principal",
    MissKind.ROOT_DELEGATION: "Principal",
    MissKind.UNIQUE_ID: "Principal",
    MissKind.CONDITION: "Condition",
    MissKind.NON_DEFAULT_VERSION: "Version",
}


def _statement_why(
    statement: CompiledStatement,
    explanation: StatementExplanation,
    action: str,
    resource_arn: str,
    identity: PrincipalIdentity,
    request: AccessRequest,
) -> Why | None:
    if explanation.applies:
        return _delegation_why(statement, identity, request)
    failed = explanation.failed
    if len(failed) != 1:
        return None
    return _element_why(failed[0], explanation, action, resource_arn, request)


def _delegation_why(
    statement: CompiledStatement, identity: PrincipalIdentity, request: AccessRequest
) -> Why | None:
    """A statement that names the requester only through its account delegates, never grants."""
    if statement.principal is None or request.principal.type is PrincipalType.ROOT:
        return None
    if statement.principal_match(identity) is not PrincipalForm.ACCOUNT:
        return None
    entries = tuple(e.source for e in statement.principal.entries)
    return principal_why(entries, request.principal)


def _element_why(
    check: ElementCheck,
    explanation: StatementExplanation,
    action: str,
    resource_arn: str,
    request: AccessRequest,
) -> Why | None:
    if check.element == "Action":
        return action_why(check.values, action)
    if check.element == "Resource":
        why = resource_why(check.values, resource_arn)
        if why is None and check.hint:
            why = Why(kind=MissKind.RESOURCE_FORM, text=check.hint)
        return why
    if check.element == "Principal":
        why = principal_why(check.values, request.principal)
        if why is None and check.hint:
            why = Why(kind=MissKind.ROLE_PATH, text=check.hint)
        return why
    failure = None
    if check.element == "Condition" and explanation.condition_failures:
        failure = explanation.condition_failures[0]
    elif check.element == "Condition" and explanation.condition.decisive is not None:
        failure = explanation.condition.decisive
    if failure is None:
        return None
    subject = "S3's call to KMS" if action.lower().startswith("kms:") else "the request"
    why = condition_why(failure, request.principal, subject)
    if supports_condition_key(action, failure.key) is False:
        # The Service Authorization Reference: this action never carries the key.
        return Why(kind=why.kind, text=f"{why.text}; {action} never carries {failure.key}")
    return why


def _sources(
    request: AccessRequest, snapshot: Snapshot, resource_arn: str
) -> Iterator[tuple[Layer, PolicySource]]:
    evidence = kept_evidence(snapshot, request.principal)
    for source in evidence.identity:
        yield Layer.IDENTITY_POLICY, source
    if evidence.boundary is not None:
        yield Layer.PERMISSIONS_BOUNDARY, evidence.boundary
    target = split_s3_arn(resource_arn)
    if target is not None:
        bucket = snapshot.buckets.get(target[0])
        if isinstance(bucket, Bucket) and bucket.policy is not None:
            yield (
                Layer.BUCKET_POLICY,
                compiled_source(
                    snapshot,
                    Layer.BUCKET_POLICY,
                    f"bucket-policy:{bucket.name}",
                    bucket.policy,
                    PolicyKind.RESOURCE,
                ),
            )
    elif resource_arn.startswith("arn:") and ":kms:" in resource_arn:
        key = snapshot.kms_key(resource_arn)
        if isinstance(key, KmsKey) and key.policy is not None:
            yield (
                Layer.KMS_KEY_POLICY,
                compiled_source(
                    snapshot,
                    Layer.KMS_KEY_POLICY,
                    f"key-policy:{key.arn}",
                    key.policy,
                    PolicyKind.KEY_POLICY,
                ),
            )
    endpoint = snapshot.vpc_endpoints.get(request.vpc_endpoint_id or "")
    if endpoint is not None and not isinstance(endpoint, Unreadable) and endpoint.policy:
        yield (
            Layer.VPC_ENDPOINT_POLICY,
            compiled_source(
                snapshot,
                Layer.VPC_ENDPOINT_POLICY,
                f"vpce-policy:{endpoint.id}",
                endpoint.policy,
                PolicyKind.ENDPOINT,
            ),
        )


def _old_versions(
    request: AccessRequest,
    snapshot: Snapshot,
    evaluation: int,
    action: str,
    resource_arn: str,
    ctx: RequestContext,
) -> Iterator[Miss]:
    """Allows that exist only in a non-default version of an attached managed policy."""
    iam = principal_iam(snapshot, request.principal)  # the requester's account's
    if iam is None or isinstance(iam, Unreadable) or isinstance(iam.policies, Unreadable):
        return
    evidence = kept_evidence(snapshot, request.principal)
    for source in evidence.identity:
        policy = iam.policies.get(source.policy_id)
        if policy is None:
            continue
        for version, document in sorted(policy.versions.items()):
            if version == policy.default_version_id:
                continue
            try:
                compiled = compile_policy(
                    parse_json_document(document),
                    policy_id=f"{policy.arn}:{version}",
                    kind=PolicyKind.IDENTITY,
                )
            except MalformedPolicyError:
                continue
            for statement in compiled.statements:
                if statement.effect == "Allow" and statement.applies_to(action, resource_arn, ctx):
                    text = (
                        f"Version {version} of {policy.arn} allows {action}, but the default "
                        f"version is {policy.default_version_id}, so IAM ignores {version}"
                    )
                    near = NearMiss(
                        policy=policy.arn,
                        index=statement.index,
                        sid=statement.sid,
                        layer=Layer.IDENTITY_POLICY,
                        element="Version",
                        why=text,
                    )
                    yield Miss(
                        evaluation=evaluation, kind=MissKind.NON_DEFAULT_VERSION, near_miss=near
                    )
                    break
