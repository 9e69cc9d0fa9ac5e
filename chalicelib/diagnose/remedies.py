"""Remedies: the smallest change that lets THIS request through, and nothing broader.

Each cause suggests where the change belongs (identity policy, bucket policy, key policy,
boundary, endpoint policy, ownership setting, or the request itself) and why there. An
explicit deny is never answered with "remove it": the remedy says what the Deny protects and
how to comply. Every patch is checked by applying it to a copy of the snapshot document (or
to the request), re-loading and re-evaluating: the request must become allowed, and neither
the same action on another bucket nor another principal may gain access. Only then is
`Remedy.verified` set; a patch that is broader than needed is dropped. Enabling a bucket's ABAC
is the exception: it makes every tag condition on the bucket count as written, so it is kept
when it lets others in too, its summary naming them, after the fixes that do not; it is dropped
when it does not let the request through.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import field, replace
from typing import Any, Final, TypeVar

from ..arn import (
    is_kms_key_arn,
    parse_arn,
    partition_of,
    s3_bucket_arn,
    s3_object_arn,
    split_s3_arn,
)
from ..engine import decide, deciding_with, evaluate, resolve_principal
from ..engine.context import normalise_key
from ..engine.evidence import inline_policy_id, kept_evidence
from ..engine.kms import KEY_TAG_PREFIX, aws_managed
from ..engine.resolve import (
    BUCKET_TAG_PREFIXES,
    FROM_BUCKET_TAGS,
    RESOLUTION_NAMES,
    bucket_tag,
    foreign_bucket_account,
    names_a_key,
)
from ..engine.s3rules import NEW_POLICY_NEEDED
from ..engine.verdict_cache import DIRECT_KEYS
from ..events.actions import is_known_action, supports_condition_key
from ..lean_dataclass import dataclass
from ..model import (
    AccessRequest,
    Cause,
    ConditionFailure,
    ContextEntry,
    Decision,
    DiagnoserError,
    Evaluation,
    Json,
    Layer,
    NearMiss,
    Operation,
    Outcome,
    Principal,
    PrincipalType,
    Remedy,
    Scope,
    StatementRef,
    Verdict,
)
from ..resolved_forms import READ_KEYS
from ..snapshot import Bucket, Entity, KmsKey, Snapshot, Unreadable, load_snapshot
from .catalog import CauseCode, RemedyCode, entry, fill
from .causes import EXPLICIT, evaluated_bucket, operation_of
from .patches import (
    COMPACT,
    NO_COMMAND,
    apply_patch,
    apply_patch_shared,
    apply_to_request,
    argv_for,
    cli_for,
    document_text,
    one_entry,
    policy_document,
    raw_policy,
    split_inline,
)
from .sides import Sides, credentials_note, labelled_text
from .unchecked import endpoint_not_found, endpoint_owner_elsewhere
from .verification import absent_principal, identity_policy, same_answers, twins, unaffected
from .wording import Miss, MissKind

T = TypeVar("T")
MAX_REMEDIES = 4
PROBE_BUCKET = "s3doctor-probe-bucket"
REQUEST_KINDS = frozenset({"request", "session-policy"})
DENY_CODES = frozenset(EXPLICIT.values()) - {
    CauseCode.OBJECT_LOCK,
    CauseCode.OBJECT_MISSING_NO_LISTBUCKET,
}

# Refusals no policy patch of ours lifts (S3 settings, the request's own headers, the object):
# when nothing else is offered, the catalog's fix is the advice.
ADVICE_CODES: Final = frozenset(
    code.value
    for code in (
        CauseCode.NO_RESOURCE_GRANT,
        CauseCode.BPA_BLOCK_PUBLIC_POLICY,
        CauseCode.BPA_RESTRICT_PUBLIC_BUCKETS,
        CauseCode.ACLS_DISABLED,
        CauseCode.KMS_KEY_STATE,
        CauseCode.OBJECT_MISSING_NO_LISTBUCKET,
        CauseCode.OBJECT_LOCK,
        CauseCode.MFA_DELETE_REQUIRED,
        CauseCode.SSE_C_BLOCKED,
        CauseCode.EXPECTED_BUCKET_OWNER_MISMATCH,
        CauseCode.REQUESTER_PAYS_HEADER_MISSING,
        CauseCode.REQUESTER_PAYS_ANONYMOUS,
        CauseCode.ACCESS_POINT_NETWORK_ORIGIN,
    )
)

# How a requester complies with a condition on a key, in words.
ADVICE: dict[str, str] = {
    "aws:securetransport": "use HTTPS (the SDKs and the CLI do by default: look for http:// "
    "endpoints or proxies)",
    "aws:sourcevpce": "send the request through VPC endpoint {value} (route table or endpoint "
    "URL of the client)",
    "aws:sourcevpc": "send the request from VPC {value} through its S3 endpoint",
    "aws:sourceip": "send the request from an address in {expected}",
    "aws:multifactorauthpresent": "use credentials from a session created with MFA",
    "s3:x-amz-server-side-encryption": "send the header x-amz-server-side-encryption: {value}",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": "send the header "
    "x-amz-server-side-encryption-aws-kms-key-id: {value}",
    "s3:x-amz-acl": "send the header x-amz-acl: {value}",
    "aws:vpceaccount": "send the request through a VPC endpoint for S3 owned by account {value}",
    "aws:vpceorgid": "send the request through a VPC endpoint for S3 owned by an account of "
    "organization {value}",
    "aws:vpceorgpaths": "send the request through a VPC endpoint for S3 owned by an account "
    "under {expected}",
    "s3:accesspointnetworkorigin": "send the request through an access point whose network "
    "origin is {value} (fixed when the access point is created; a VPC access point takes "
    "requests from its VPC only)",
}
# Keys that say who asks (the principal's account, organization, tags, name) or what is asked
# for (the bucket's owner and organization): no request sends them, so a condition on them is
# met by another principal or another resource, never by "sending" a value.
_WHO: Final = ("aws:principal", "aws:userid", "aws:username")
_SSO_ROLE_PREFIX: Final = "AWSReservedSSO_"
_WHAT: Final = ("aws:resource", "s3:resourceaccount", "s3:buckettag/")
_THROUGH: Final = frozenset({"s3:dataaccesspointaccount", "s3:dataaccesspointarn"})


def _bound_advice(key: str, wanted: str) -> str | None:
    """How a condition on a principal's or resource's own key is met (`wanted`: the value or
    the range it must take), or None for a key the request itself carries."""
    low = key.lower()
    if low.startswith(_WHO):
        return (
            f"make the request as a principal whose {key} {wanted} ({key} is the requester's "
            "own, of its account, organization, tags or name: no request sends it)"
        )
    if low.startswith(_WHAT):
        return (
            f"it is met only on a resource whose {key} {wanted} ({key} is the bucket's own, of "
            "its owner's account or organization: no request sends it)"
        )
    if low in _THROUGH:
        return (
            f"send it through an access point whose {key} {wanted} ({key} is the access point's "
            "own: its ARN or its owner's account; else let the bucket policy delegate to the "
            "access point it came through)"
        )
    if low.startswith("s3:existingobjecttag/"):
        return (
            f"tag the object so that {key} {wanted} (PutObjectTagging: {key} is the object's "
            "own tag, no request sends it)"
        )
    return None


# A value that satisfies "key must be present" (Null false) for request headers.
PRESENT_VALUES: dict[str, str] = {
    "s3:x-amz-server-side-encryption": "AES256",
    "aws:securetransport": "true",
}
_POSITIVE = ("StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike")
_NEGATED = (
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
)
_UNSET = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    code: RemedyCode
    target: str
    summary: str
    patch: Json | None = None
    new_statement: Json | None = None  # the statement added or changed (breadth check)
    account: str | None = None  # the account it is about, when not its cause's layer's
    condition_key: str | None = None  # the key a request-side fix is about (`_comply`)
    # An exception added to a Deny: it lets in whoever else that Deny refused and a grant
    # allows (what it is for), so only probes without a grant judge its breadth.
    deny_exception: bool = False


def find_remedies(
    request: AccessRequest,
    snapshot: Snapshot,
    decision: Decision,
    causes: Sequence[tuple[int | None, Cause]],
    misses: Sequence[Miss] = (),
    *,
    verify: bool = True,
    sides: Sides | None = None,
) -> tuple[Remedy, ...]:
    """Remedies for the causes, verified ones first, at most three.

    With `sides` labelled (several accounts judged), each says which account it changes and
    whose credentials run its command.
    """
    if decision.decision is Verdict.ALLOWED:
        return ()
    out: list[tuple[Remedy, bool, str | None]] = []  # each: broad?, the account it is about
    seen: set[tuple[str, str, str]] = set()
    abac = _enable_abac(request, snapshot, decision, causes, misses)
    abac_patch = abac.patch if abac is not None else None
    found: list[tuple[Candidate, Cause | None, Evaluation | None]] = (
        [] if abac is None else [(abac, None, None)]
    )
    for index, cause in causes:
        evaluation = decision.evaluations[index] if index is not None else None
        action = evaluation.action if evaluation else request.action
        resource = evaluation.resource_arn if evaluation else request.resource_arn
        own = [m for m in misses if m.evaluation == index]
        candidates = list(
            _candidates(request, snapshot, decision, cause, own, action, resource, index)
        )
        if not candidates and cause.code in ADVICE_CODES:
            candidates.append(_advice(request, cause, action, resource))
        for candidate in candidates:
            key = (candidate.code.value, candidate.target, candidate.summary)
            if key in seen:
                continue
            seen.add(key)
            found.append((candidate, cause, evaluation))
    probes = Probes(request, decision, [c.patch for c, _, _ in found if c.patch is not None])
    for candidate, about, evaluation in found:
        offered = abac_patch is not None and any(r.patch == abac_patch for r, _, _ in out)
        if offered and _sends_bucket_tags(candidate):
            continue  # enabling the bucket's ABAC is the fix (offered first)
        checked = _checked(candidate, request, snapshot, decision, verify=verify, probes=probes)
        if checked is not None:
            remedy, broad = checked
            account = None
            if sides is not None and sides.labelled:
                account = candidate.account or _remedy_account(
                    sides, remedy, about, evaluation, snapshot
                )
            out.append((remedy, broad, account))
    # Verified first, a fix that also lets others in last of those; then patches; a malformed
    # document's fix leads the unverified ones.
    out.sort(
        key=lambda p: (
            not p[0].verified,
            p[1],
            not p[0].summary.startswith(FIX_DOCUMENT),
            p[0].patch is None,
        )
    )
    return tuple(
        _sided(remedy, sides, account) if sides is not None else remedy
        for remedy, _broad, account in out[:MAX_REMEDIES]
    )


def _remedy_account(
    sides: Sides,
    remedy: Remedy,
    cause: Cause | None,
    evaluation: Evaluation | None,
    snapshot: Snapshot,
) -> str | None:
    """The account a remedy changes (its patch's), or that its cause is about; None for a change
    the requester makes to its own request."""
    if remedy.patch is not None:
        if remedy.patch.get("kind") in ("request",):
            return None
        return sides.patch_account(remedy.patch, snapshot.document)
    return sides.layer_account(cause.layer if cause is not None else None, evaluation)


def _sided(remedy: Remedy, sides: Sides, account: str | None) -> Remedy:
    """The remedy under its account's name; a command says whose credentials run it."""
    label = sides.label(account)
    if label is None:
        return remedy
    summary = labelled_text(label, remedy.summary)
    if remedy.cli is not None:
        summary += credentials_note(account)
    return replace(remedy, summary=summary)


# --------------------------------------------------------------------------- candidates


def _candidates(
    request: AccessRequest,
    snapshot: Snapshot,
    decision: Decision,
    cause: Cause,
    misses: Sequence[Miss],
    action: str,
    resource: str,
    index: int | None,
) -> Iterator[Candidate]:
    try:
        code = CauseCode(cause.code)
    except ValueError:
        return
    statement = cause.statement
    if code in (CauseCode.EXPLICIT_DENY_SCP, CauseCode.EXPLICIT_DENY_RCP):
        yield from _comply(request, snapshot, statement, deny=True)
        yield _org_admin(cause, action)
    elif code in (CauseCode.NO_ALLOW_SCP, CauseCode.NO_ALLOW_RCP):
        yield _org_level_admin(decision, cause, action)
    elif code is CauseCode.KMS_FORWARD_ACCESS_CONDITION and statement is not None:
        yield from _via_service_exception(snapshot, statement)
    elif code in DENY_CODES:
        exception = _network_exception(request, statement)
        if exception is not None and statement is not None:
            # The client cannot comply: a service's call, or a request through an endpoint.
            yield from _deny_exception(snapshot, statement, *exception)
            return
        comply = list(_comply(request, snapshot, statement, deny=True))
        yield from comply
        if not comply and statement is not None:
            yield _deny_explained(statement, action, session=cause.layer is Layer.SESSION_POLICY)
    elif code is CauseCode.CONDITION_NOT_MET:
        yield from _widen_condition(snapshot, statement)
        yield from _comply(request, snapshot, statement, deny=False)
    elif code in (
        CauseCode.NO_ALLOW_IDENTITY,
        CauseCode.WRONG_RESOURCE_OR_ACTION_FORM,
        CauseCode.RESOURCE_GRANT_NOT_EFFECTIVE,
    ):
        if misses:
            yield from _fix_near_miss(request, snapshot, misses[0], action, resource)
        # Judged on both sides (or on the requester's alone: a bucket the snapshot does not
        # hold), the cause's layer says which side lacks the grant.
        both = _both_sides(request, snapshot) or _requester_side_only(request, snapshot)
        if request.scope is Scope.CROSS_ACCOUNT and not (
            both and cause.layer is Layer.IDENTITY_POLICY
        ):
            yield from _bucket_grant(request, snapshot, action, resource, cross_account=True)
        if not (both and cause.layer is Layer.BUCKET_POLICY):
            yield from _identity_grant(request, snapshot, action, resource)
    elif code is CauseCode.KMS_IDENTITY:
        yield from _tag_the_key(snapshot, misses, action, resource)
        yield from _identity_grant(request, snapshot, action, resource)
    elif code is CauseCode.KMS_KEY_POLICY:
        key = snapshot.kms_key(resource)
        if isinstance(key, KmsKey) and aws_managed(key):
            leg = None if index is None else operation_of(request, decision.evaluations, index)
            yield _customer_managed_key(request, key.arn, leg or request.operations[0])
            return
        yield from _tag_the_key(snapshot, misses, action, resource)
        yield from _key_policy_grant(request, snapshot, action, resource)
    elif code is CauseCode.NO_ALLOW_BOUNDARY:
        yield from _extend_boundary(request, snapshot, action, resource)
    elif code is CauseCode.NO_ALLOW_SESSION_POLICY:
        yield from _extend_session_policy(request, action, resource)
    elif code is CauseCode.NO_ALLOW_VPCE_POLICY:
        yield from _endpoint_grant(request, snapshot, action, resource)
    elif code is CauseCode.OBJECT_OWNED_BY_OTHER_ACCOUNT and (
        owned := evaluated_bucket(request, resource)
    ):
        yield _enforce_owner(owned, partition_of(resource))
    elif code is CauseCode.BPA_BLOCK_PUBLIC_ACLS:
        yield _private_acl(request)
    elif code is CauseCode.BPA_IGNORE_PUBLIC_ACLS:
        yield from _bucket_grant(
            request, snapshot, action, resource, cross_account=request.scope is Scope.CROSS_ACCOUNT
        )
    elif code is CauseCode.INCONCLUSIVE:
        owner = foreign_bucket_account(request, snapshot)
        if owner is None:
            yield _diagnoser_read(decision, endpoint_owner_elsewhere(request, snapshot))
        elif cause.layer is Layer.BUCKET_POLICY:  # its RCPs are its owner's too: no read of ours
            yield from _ask_the_owner(request, owner, action, resource)


def _ask_the_owner(
    request: AccessRequest, owner: str, action: str, resource: str
) -> Iterator[Candidate]:
    """Advice for a bucket of an account this diagnosis cannot read (a partner's): its owner
    must grant the request in its bucket policy; reading it is not ours to fix."""
    if request.principal.type not in (PrincipalType.IAM_USER, PrincipalType.ASSUMED_ROLE):
        return
    who = request.principal.principal_arn
    bucket = evaluated_bucket(request, resource)
    statement = _allow(action, resource, Principal={"AWS": who})
    yield Candidate(
        code=RemedyCode.ADD_BUCKET_POLICY_STATEMENT,
        target=f"bucket-policy:{bucket}",
        summary=f"Ask the owner of bucket {bucket} to allow {action} on {resource} to "
        f"{who} in its bucket policy (for example {json.dumps(statement, sort_keys=True)}), "
        f"after checking that {bucket} is the bucket you meant: its policies cannot be "
        "read from here, and a request from another account needs that grant as well as its "
        "own account's.",
        account=owner,
    )


def _customer_managed_key(request: AccessRequest, key_arn: str, operation: Operation) -> Candidate:
    """Advice for the AWS managed key aws/s3 used across accounts: its key policy cannot be
    changed, so only a customer managed key can admit another account. `operation`: the one
    whose KMS leg was refused (a copy's write: its destination bucket, where new objects go)."""
    bucket = operation.bucket or ""
    if "kms:GenerateDataKey" in operation.kms_actions:  # a write: the key its new object takes
        objects = (
            "have uploads that name a key in the x-amz-server-side-encryption-aws-kms-key-id "
            "header name it"
        )
    else:
        objects = f"copy the objects encrypted under {key_arn} onto themselves with it"
    return Candidate(
        code=RemedyCode.USE_CUSTOMER_MANAGED_KEY,
        target=s3_bucket_arn(bucket, partition_of(operation.resource_arn)) if bucket else key_arn,
        summary=f"Use a customer managed KMS key whose key policy allows "
        f"{request.principal.principal_arn}: make it the default encryption of "
        f"{bucket or 'the bucket'} and {objects}. That key is the "
        "AWS managed key aws/s3: its key policy admits only its own account and cannot be changed "
        "(https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).",
    )


def _tag_the_key(
    snapshot: Snapshot, misses: Sequence[Miss], action: str, key_arn: str
) -> Iterator[Candidate]:
    """Tag the KMS key as a grant's tag condition expects (KMS ABAC): on S3's call to KMS,
    `aws:ResourceTag/<tag>` is the key's own tag. Only for a condition that one literal value
    meets, on a key whose tags were read."""
    key = snapshot.kms_key(key_arn)
    if not action.lower().startswith("kms:") or key is None or isinstance(key, Unreadable):
        return
    if not isinstance(key.tags, Mapping):
        return
    for miss in misses:
        failure = miss.failure
        if failure is None or not failure.key.lower().startswith(KEY_TAG_PREFIX.lower()):
            continue
        operator = failure.operator.split(":")[-1].removesuffix("IfExists")
        if operator not in ("StringEquals", "StringLike") or len(failure.expected) != 1:
            continue
        tag, value = failure.key[len(KEY_TAG_PREFIX) :], failure.expected[0]
        if not tag or any(c in value for c in "*?$"):
            continue  # a pattern or a policy variable: no one value to put
        near = miss.near_miss
        held = (
            f" (it has {tag} = [{key.tags[tag]}]: the new value also changes whom that tag "
            "lets in elsewhere)"
            if tag in key.tags
            else ""
        )
        yield Candidate(
            code=RemedyCode.TAG_KMS_KEY,
            target=key.arn,
            summary=f"Tag KMS key {key.arn} with {tag} = {value}{held}: the grant of {action} "
            f"in {near.policy} tests aws:ResourceTag/{tag}, which on S3's call to KMS is the "
            "key's own tag (KMS ABAC).",
            patch={"kind": "key-tag", "key": key.arn, "tag": tag, "value": value},
        )
        return


def _allow(action: str, resource: str, **extra: Any) -> Json:
    name = re.sub(r"[^A-Za-z0-9]", "", action.partition(":")[2]) or "Access"
    return {"Sid": f"S3Doctor{name}", "Effect": "Allow", "Action": action, "Resource": resource,
            **extra}  # fmt: skip


def _current(snapshot: Snapshot, policy_id: str) -> Json | None:
    """`policy_document(snapshot.document, policy_id)`: a copy of its own each call, parsed
    from the document's JSON text kept on the snapshot (several times faster than the deep
    copy), or deep-copied when the document is not plain JSON."""
    text = snapshot.cached(("policy-text", policy_id), lambda: _policy_text(snapshot, policy_id))
    if text is _NOT_PLAIN:
        return policy_document(snapshot.document, policy_id)
    return None if text is None else json.loads(text)  # type: ignore[arg-type]


_NOT_PLAIN: Final = object()


def _policy_text(snapshot: Snapshot, policy_id: str) -> str | object | None:
    """The current document's JSON text; None: no document; `_NOT_PLAIN`: one its text does not
    give back (a tuple, NaN, a non-string key)."""
    document = policy_document(snapshot.document, policy_id)
    if document is None:
        return None
    try:
        text = json.dumps(document)
    except (TypeError, ValueError):
        return _NOT_PLAIN
    return text if json.loads(text) == document else _NOT_PLAIN


def _unknown(snapshot: Snapshot, policy_id: str) -> bool:
    """A policy is there whose document we do not have (an `$unreadable` marker, or not JSON):
    a fix must never write a whole new document over it. (The document's text kept on the
    snapshot, `_current`'s, tells: none while a policy is there.)"""
    text = snapshot.cached(("policy-text", policy_id), lambda: _policy_text(snapshot, policy_id))
    return text is None and raw_policy(snapshot.document, policy_id) is not None


def _with_statement(document: Json | None, statement: Json) -> Json:
    doc: Json = dict(document) if document else {"Version": "2012-10-17", "Statement": []}
    statements = doc.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    doc["Version"] = doc.get("Version", "2012-10-17")
    doc["Statement"] = [*statements, statement]
    return doc


def _iam_entity(request: AccessRequest, snapshot: Snapshot) -> Entity | None:
    """The IAM user or role whose identity policies apply (in the requester's account)."""
    if request.principal.type in (PrincipalType.ROOT, PrincipalType.ANONYMOUS):
        return None
    return kept_evidence(snapshot, request.principal).entity


def _identity_grant(
    request: AccessRequest, snapshot: Snapshot, action: str, resource: str
) -> Iterator[Candidate]:
    entity = _iam_entity(request, snapshot)
    if entity is None:
        return
    kind, name = entity.kind, entity.name
    if _key_not_named_by_arn(action, resource):
        yield _key_arn_needed(
            RemedyCode.ADD_IDENTITY_STATEMENT,
            request.principal.principal_arn,
            f"an identity policy of {kind} {name}",
            action,
            resource,
        )
        return
    on_s3 = split_s3_arn(resource) is not None  # not S3's call to KMS
    owner = foreign_bucket_account(request, snapshot) if on_s3 else None
    other = (
        f" The bucket's account {owner} must also grant it in its bucket policy or an ACL (not "
        "read here: ask that account)."
        if owner
        else ""
    )
    for form, opens in _resource_forms(resource, None):
        statement = _allow(action, form)
        suffix = statement["Sid"].removeprefix("S3Doctor")
        policy_id = inline_policy_id(snapshot, entity, f"s3doctor-{suffix}")
        yield Candidate(
            code=RemedyCode.ADD_IDENTITY_STATEMENT,
            target=request.principal.principal_arn,
            summary=f"Allow {action} on {form} in a new inline policy of {kind} {name}: the "
            f"grant stays with this principal and changes no shared bucket or key policy. "
            f"{opens}{other}",
            patch={
                "kind": "policy",
                "policy": policy_id,
                "document": _with_statement(None, statement),
            },
            new_statement=statement,
        )


def _key_not_named_by_arn(action: str, resource: str) -> bool:
    """S3's call to KMS on a key the snapshot knows only by alias, alias ARN or key id."""
    return action.lower().startswith("kms:") and not is_kms_key_arn(resource)


def _key_arn_needed(
    code: RemedyCode, target: str, place: str, action: str, resource: str
) -> Candidate:
    """Advice, without a command, to allow a KMS action in an IAM policy by the key's ARN."""
    return Candidate(
        code=code,
        target=target,
        summary=f"Allow {action} in {place} on the KMS key that {resource} names, by that key's "
        "ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; aws kms describe-key gives it): IAM "
        "policies cannot name a KMS key by alias, alias ARN or key id, and the snapshot does "
        "not hold the key "
        "(https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html).",
    )


def _resource_forms(resource: str, prefix: str | None) -> list[tuple[str, str]]:
    """The exact resource, then the form people usually grant, each with what else it opens.

    For an object: the key itself, then `<prefix>*` (the key's folder, or the prefix of the
    statement that nearly matched) or `bucket/*`. Other resources have only their exact form.
    """
    target = split_s3_arn(resource)
    bucket, key = target if target is not None else (None, None)
    if bucket is None or key is None:
        return [(resource, "It opens nothing else.")]
    forms = [(resource, f"It opens only this key; other keys of {bucket} stay as they are.")]
    if prefix is None and "/" in key:
        prefix = key.rsplit("/", 1)[0] + "/"
    partition = partition_of(resource)  # aws-cn, aws-us-gov: the grant names the request's
    if prefix and key.startswith(prefix) and prefix != key:
        forms.append(
            (
                s3_object_arn(bucket, f"{prefix}*", partition),
                f"Usual form: it also opens every other key under {prefix} in {bucket}.",
            )
        )
    else:
        forms.append(
            (
                s3_object_arn(bucket, "*", partition),
                f"Usual form: it also opens every other key of {bucket}.",
            )
        )
    return forms


def _bucket_grant(
    request: AccessRequest,
    snapshot: Snapshot,
    action: str,
    resource: str,
    *,
    cross_account: bool,
) -> Iterator[Candidate]:
    """A bucket-policy Allow naming the requester (never a public or account-wide principal),
    in the policy of the bucket of `resource`."""
    bucket = evaluated_bucket(request, resource)
    if bucket is None or request.principal.type in (
        PrincipalType.ANONYMOUS,
        PrincipalType.AWS_SERVICE,
        PrincipalType.ROOT,
        PrincipalType.AWS_ACCOUNT,
        PrincipalType.UNKNOWN,
    ):
        return
    buckets = (snapshot.document.get("s3") or {}).get("buckets") or {}
    if not isinstance(buckets.get(bucket), Mapping):
        return
    policy_id = f"bucket-policy:{bucket}"
    current = _current(snapshot, policy_id)
    if _unknown(snapshot, policy_id):
        return  # unreadable or not JSON: never overwrite what we could not read
    who = request.principal.principal_arn
    note = (
        f" A cross-account request needs both sides: account {request.principal.account_id} "
        f"must also allow {action} on {resource} in an identity policy of {who} (NOT CHECKED "
        "here: that account's policies are not in this snapshot)."
        if cross_account
        else ""
    )
    if cross_account and _both_sides(request, snapshot):
        note = (
            f" A cross-account request needs both sides: account {request.principal.account_id} "
            f"must also allow {action} on {resource} in an identity policy of {who}."
        )
    why = (
        "the bucket owner's half of a cross-account grant, naming the requester."
        if cross_account
        else "a private grant naming the requester, instead of the public ACL S3 ignores."
    )
    for form, opens in _resource_forms(resource, None):
        statement = _allow(action, form, Principal={"AWS": who})
        yield Candidate(
            code=RemedyCode.ADD_BUCKET_POLICY_STATEMENT,
            target=policy_id,
            summary=f"Allow {action} on {form} to {who} in the policy of bucket {bucket}: "
            f"{why} {opens}{note}",
            patch={
                "kind": "policy",
                "policy": policy_id,
                "document": _with_statement(current, statement),
            },
            new_statement=statement,
        )


def _fix_near_miss(
    request: AccessRequest, snapshot: Snapshot, miss: Miss, action: str, resource: str
) -> Iterator[Candidate]:
    """Correct the one element of the statement that nearly matched."""
    near = miss.near_miss
    document = _current(snapshot, near.policy)
    if document is None:
        return
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or near.index >= len(statements):
        return
    statement: Json = dict(statements[near.index])
    new: Json | None = statement
    if miss.kind in (MissKind.RESOURCE_FORM, MissKind.WRONG_PREFIX, MissKind.WRONG_BUCKET):
        for form, opens in _resource_forms(resource, None):
            changed: Json = dict(statement)
            changed["Resource"] = [*_listed(statement.get("Resource")), form]
            yield _near_miss_candidate(
                document, statements, near, changed, f"add Resource {form}. {opens}", changed
            )
        return
    elif miss.kind is MissKind.ACTION_NAME:
        statement["Action"] = [*_listed(statement.get("Action")), action]
        change = f"add Action {action}"
    elif miss.kind in (MissKind.ROLE_PATH, MissKind.SESSION_ARN):
        role = request.principal.principal_arn
        fixed = _replace_role_form(statement, role)
        if fixed is None:
            return
        statement = fixed
        change = f"name the role as {role}"
        new = None  # keeps the statement's own principal and conditions: probes check breadth
    else:
        return
    yield _near_miss_candidate(document, statements, near, statement, change + ".", new)


def _near_miss_candidate(
    document: Json,
    statements: list[Any],
    near: NearMiss,
    statement: Json,
    change: str,
    new: Json | None,
) -> Candidate:
    changed = [*statements]
    changed[near.index] = statement
    patched = {**document, "Statement": changed}
    sid = f" {near.sid!r}" if near.sid else ""
    return Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target=near.policy,
        summary=f"Correct statement{sid} #{near.index} of {near.policy}: {change} It already "
        "meant to grant this; the fix changes only the element that missed.",
        patch={"kind": "policy", "policy": near.policy, "document": patched},
        new_statement=new,
    )


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _replace_role_form(statement: Json, role_arn: str) -> Json | None:
    """Swap a session ARN or path-less role ARN for the role ARN, in Principal or Condition."""
    role = parse_arn(role_arn)
    if role is None:
        return None
    name = role.resource_name

    def fix(value: Any) -> Any:
        if isinstance(value, str):
            parsed = parse_arn(value)
            if (
                parsed is not None
                and parsed.account == role.account
                and (
                    parsed.resource.startswith(f"assumed-role/{name}/")
                    or parsed.resource == f"role/{name}"
                )
            ):
                return role_arn
            return value
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, Mapping):
            return {k: fix(v) for k, v in value.items()}
        return value

    fixed = {k: fix(v) if k in ("Principal", "Condition") else v for k, v in statement.items()}
    return fixed if fixed != statement else None


def _key_policy_grant(
    request: AccessRequest, snapshot: Snapshot, action: str, key_arn: str
) -> Iterator[Candidate]:
    key = snapshot.kms_key(key_arn)
    arn = getattr(key, "arn", None)
    if arn is None:
        return
    policy_id = f"key-policy:{arn}"
    if _unknown(snapshot, policy_id):
        return
    parsed = parse_arn(arn)
    region = (parsed.region if parsed else None) or snapshot.region or "us-east-1"
    who = request.principal.principal_arn
    equals = {"kms:ViaService": f"s3.{region}.amazonaws.com"}
    narrowing = ""
    if request.principal.type is PrincipalType.ROOT:
        # Principal ACCT:root in a key policy is the account: it would also enable the IAM
        # policies of every user and role for this key. aws:PrincipalType Account is the root
        # user alone.
        equals["aws:PrincipalType"] = "Account"
        narrowing = (
            " Limited to the root user (aws:PrincipalType Account): the account ARN alone would "
            "also let every IAM policy of the account that allows it use the key."
        )
    statement = _allow(action, "*", Principal={"AWS": who}, Condition={"StringEquals": equals})
    yield Candidate(
        code=RemedyCode.ADD_KMS_KEY_POLICY_STATEMENT,
        target=arn,
        summary=f"Allow {action} to {who} in the key policy, only through S3 (kms:ViaService): "
        f"the key policy must allow it, IAM alone cannot.{narrowing}",
        patch={
            "kind": "policy",
            "policy": policy_id,
            "document": _with_statement(_current(snapshot, policy_id), statement),
        },
        new_statement=statement,
    )


def _extend_boundary(
    request: AccessRequest, snapshot: Snapshot, action: str, resource: str
) -> Iterator[Candidate]:
    boundary = kept_evidence(snapshot, request.principal).boundary
    if boundary is None or not boundary.policy_id.startswith("arn:"):
        return
    if _unknown(snapshot, boundary.policy_id):
        return
    if _key_not_named_by_arn(action, resource):
        place = f"the permissions boundary {boundary.policy_id}"
        yield _key_arn_needed(
            RemedyCode.EXTEND_BOUNDARY, boundary.policy_id, place, action, resource
        )
        return
    statement = _allow(action, resource)
    document = _current(snapshot, boundary.policy_id)
    yield Candidate(
        code=RemedyCode.EXTEND_BOUNDARY,
        target=boundary.policy_id,
        summary=f"Add {action} on {resource} to the permissions boundary {boundary.policy_id} "
        "(a new default version): the boundary caps every identity grant of this principal.",
        patch={
            "kind": "policy",
            "policy": boundary.policy_id,
            "document": _with_statement(document, statement),
        },
        new_statement=statement,
    )


def _extend_session_policy(
    request: AccessRequest, action: str, resource: str
) -> Iterator[Candidate]:
    if request.session_policy is None:
        return
    if _key_not_named_by_arn(action, resource):
        place = "the session policy"
        yield _key_arn_needed(RemedyCode.FIX_STATEMENT, "session policy", place, action, resource)
        return
    statement = _allow(action, resource)
    user = request.principal.type in (PrincipalType.IAM_USER, PrincipalType.FEDERATED_USER)
    how = (
        "the --policy of aws sts get-federation-token, called with the user's own credentials"
        if user
        else "the --policy of aws sts assume-role"
    )
    yield Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target="session policy",
        summary=f"Pass a session policy that also allows {action} on {resource} ({how}): "
        "change the code or broker that creates the session.",
        patch={"kind": "session-policy", "document": _with_statement(request.session_policy,
                                                                     statement)},
        new_statement=statement,
    )  # fmt: skip


def _endpoint_grant(
    request: AccessRequest, snapshot: Snapshot, action: str, resource: str
) -> Iterator[Candidate]:
    endpoint_id = request.vpc_endpoint_id
    if not endpoint_id:
        return
    policy_id = f"vpce-policy:{endpoint_id}"
    if _unknown(snapshot, policy_id):
        return
    # Gateway endpoints take only "*" as Principal and name principals with aws:PrincipalArn
    # (PrivateLink guide, endpoint policies); the same form is valid for Interface endpoints.
    arns = request.context_value("aws:PrincipalArn") or (request.principal.principal_arn,)
    statement = _allow(
        action,
        resource,
        Principal="*",
        Condition={"ArnEquals": {"aws:PrincipalArn": arns[0] if len(arns) == 1 else list(arns)}},
    )
    yield Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target=endpoint_id,
        summary=f"Allow {action} on {resource} for {request.principal.principal_arn} in the "
        f"policy of VPC endpoint {endpoint_id}: every request through it must be allowed there.",
        patch={
            "kind": "policy",
            "policy": policy_id,
            "document": _with_statement(_current(snapshot, policy_id), statement),
        },
        new_statement=statement,
    )


def _enforce_owner(bucket: str, partition: str) -> Candidate:
    return Candidate(
        code=RemedyCode.ENFORCE_BUCKET_OWNER,
        target=s3_bucket_arn(bucket, partition),
        summary=f"Set Object Ownership of {bucket} to BucketOwnerEnforced: the bucket owner then "
        "owns every object and policies apply to it. Move any ACL grant still needed into the "
        "bucket policy first (S3 refuses the change while the bucket ACL grants other accounts).",
        patch={"kind": "ownership", "bucket": bucket, "object_ownership": "BucketOwnerEnforced"},
    )


def _enable_abac(
    request: AccessRequest,
    snapshot: Snapshot,
    decision: Decision,
    causes: Sequence[tuple[int | None, Cause]],
    misses: Sequence[Miss],
) -> Candidate | None:
    """Enable the ABAC of the request's bucket, when a statement's condition on an S3 action
    wants a tag the bucket has and the request lacks only because ABAC is disabled (S3 puts a
    general purpose bucket's tags in the request only once it is enabled: `engine.resolve`; on
    the KMS leg `aws:ResourceTag` is the key's). None unless the request is on one general
    purpose bucket, not through an access point, whose ABAC status was read as Disabled and
    whose tags were read."""
    buckets = {op.bucket for op in request.operations}
    name = buckets.pop() if len(buckets) == 1 else None
    if name is None or name.endswith("--x-s3") or request.access_point_arn is not None:
        return None
    bucket = snapshot.buckets.get(name)
    if not isinstance(bucket, Bucket) or bucket.abac != "Disabled":
        return None
    tags = bucket.tags
    if not isinstance(tags, Mapping):
        return None
    wanted: dict[tuple[str, int], tuple[str | None, str]] = {}  # (policy, index): (Sid, key)
    held: dict[str, str] = {}
    kms = {i for i, e in enumerate(decision.evaluations) if e.action.lower().startswith("kms:")}
    refs: list[tuple[StatementRef | NearMiss, ConditionFailure | None]] = [
        (c.statement, c.statement.failed_condition)
        for i, c in causes
        if c.statement and i not in kms
    ]
    refs += [(m.near_miss, m.failure) for m in misses if m.evaluation not in kms]
    for ref, failure in refs:
        tag = bucket_tag(failure.key) if failure and failure.actual is None else None
        if tag is not None and tag in tags and failure is not None:
            wanted.setdefault((ref.policy, ref.index), (ref.sid, failure.key))
            held[tag] = tags[tag]
    if not wanted:
        return None
    where = "; ".join(
        f"{key} in statement{f' {sid!r}' if sid else ''} #{index} of {policy}"
        for (policy, index), (sid, key) in wanted.items()
    )
    has = ", ".join(f"{tag} = [{value}]" for tag, value in held.items())
    return Candidate(
        code=RemedyCode.ENABLE_BUCKET_ABAC,
        target=s3_bucket_arn(name, partition_of(request.resource_arn)),
        summary=f"Enable ABAC on bucket {name} (PutBucketAbac): S3 then puts the bucket's tags "
        f"in every request on it, so the tag condition the account wrote counts ({where}; the "
        f"bucket has {has}). From then on every tag condition on {name} counts, in every "
        "policy, grants and denies alike, and its tags are changed with TagResource and "
        "UntagResource (S3 refuses PutBucketTagging).",
        patch={"kind": "abac", "bucket": name, "status": "Enabled"},
    )


def _sends_bucket_tags(candidate: Candidate) -> bool:
    """Advice to meet a condition on the bucket's tags: no request sends them, so it is left
    out when enabling the bucket's ABAC is offered."""
    key = candidate.condition_key
    return key is not None and bucket_tag(key) is not None


def _private_acl(request: AccessRequest) -> Candidate:
    """Send the request without the public ACL that BlockPublicAcls refuses."""
    on_bucket = request.key is None  # PutBucketAcl, CreateBucket: the bucket's own ACL
    summary = (
        "Set the bucket's ACL without a public grant (drop public-read / public-read-write / "
        "authenticated-read and AllUsers or AuthenticatedUsers grants); Block Public Access "
        "stays on. Change Block Public Access only if this bucket must really be public."
        if on_bucket
        else "Upload without a public ACL (drop --acl public-read / x-amz-acl, or use "
        "bucket-owner-full-control); Block Public Access stays on. Change Block Public Access "
        "only if this object must really be public."
    )
    return Candidate(
        code=RemedyCode.COMPLY_WITH_DENY,
        target="the request",
        summary=summary,
        patch={
            "kind": "request",
            "context": {
                "s3:x-amz-acl": None,
                "s3:x-amz-grant-read": None,
                "s3:x-amz-grant-full-control": None,
            },
        },
    )


def _advice(request: AccessRequest, cause: Cause, action: str, resource: str) -> Candidate:
    """The catalog's fix for a refusal that no change we can verify lifts (unverified)."""
    bucket = evaluated_bucket(request, resource)
    values = {"bucket": bucket, "resource": resource, "action": action}
    on_key = cause.layer in (Layer.KMS_KEY_POLICY, Layer.KMS_GRANT)
    return Candidate(
        code=RemedyCode.FOLLOW_ADVICE,
        target=resource if on_key else bucket or resource,
        summary=fill(entry(CauseCode(cause.code)).fix, values),
    )


def _org_admin(cause: Cause, action: str) -> Candidate:
    policy = cause.statement.policy if cause.statement else "the SCPs of this account"
    return Candidate(
        code=RemedyCode.ASK_ORG_ADMIN,
        target=policy,
        summary=f"Ask the organization administrators: {policy} is managed in the management "
        f"account and governs {action} for every account below where it is attached.",
    )


def _org_level_admin(decision: Decision, cause: Cause, action: str) -> Candidate:
    """No SCP (or RCP) allows at one level of the path: that level's policies are to change."""
    what = "SCP" if cause.layer is Layer.SCP else "RCP"
    level = next(
        (
            result.level
            for evaluation in decision.evaluations
            for result in evaluation.layers
            if result.layer is cause.layer and result.outcome is Outcome.IMPLICIT_DENY
            if result.level is not None
        ),
        None,
    )
    where = f"the {what}s attached at {level}" if level else f"the {what}s of this account"
    full = "FullAWSAccess" if what == "SCP" else "RCPFullAWSAccess"
    return Candidate(
        code=RemedyCode.ASK_ORG_ADMIN,
        target=where,
        summary=f"Ask the organization administrators (management account or delegated "
        f"administrator) to allow {action} in {where}: every level from the root down to the "
        f"account must allow it, and none does there ({full} detached or replaced).",
    )


def _deny_explained(statement: StatementRef, action: str, *, session: bool) -> Candidate:
    sid = f" {statement.sid!r}" if statement.sid else ""
    if session:
        return Candidate(
            code=RemedyCode.COMPLY_WITH_DENY,
            target="the code or broker that creates the session",
            summary=f"The session policy passed when the session was created denies {action} "
            f"(Deny{sid}, #{statement.index}): it limits this session on purpose. If the job "
            "must do this, start its session without that Deny.",
        )
    failure = statement.failed_condition
    if failure is not None:
        actual = "absent" if failure.actual is None else list(failure.actual)
        how = _how_to_comply(failure)
        return Candidate(
            code=RemedyCode.COMPLY_WITH_DENY,
            target="the request",
            summary=f"Comply with the Deny{sid} (#{statement.index}) in {statement.policy}: it "
            f"refuses {action} wherever {failure.key} {failure.operator} "
            f"{list(failure.expected)} holds (this request: {actual}). To comply, {how}. If "
            "this request is legitimate as it is, ask the policy's owner for a narrow exception "
            "rather than removing the Deny.",
        )
    return Candidate(
        code=RemedyCode.COMPLY_WITH_DENY,
        target=statement.policy,
        summary=f"The Deny{sid} (#{statement.index}) in {statement.policy} blocks {action} on "
        "purpose and has no condition to meet. If this request is legitimate, ask its owner for "
        "a narrow exception (an ArnNotLike aws:PrincipalArn condition) rather than removing it.",
    )


# How to make a key present when a Deny refuses requests without it (Null <key> true).
PRESENT_ADVICE: dict[str, str] = {
    "aws:sourcevpce": "come through a VPC endpoint for S3 (a gateway or interface endpoint of "
    "the client's VPC): requests over the internet carry no aws:SourceVpce",
    "aws:sourcevpc": "come from a VPC through its S3 endpoint",
    "aws:vpceaccount": "come through a VPC endpoint for S3: requests over the internet carry no "
    "aws:VpceAccount",
    "aws:multifactorauthpresent": "use credentials from a session created with MFA",
    "s3:x-amz-server-side-encryption": "send the header x-amz-server-side-encryption",
    "s3:accesspointnetworkorigin": "send the request through an access point: requests to the "
    "bucket itself carry no s3:AccessPointNetworkOrigin",
}


def _how_to_comply(failure: ConditionFailure) -> str:
    operator = failure.operator.split(":")[-1].removesuffix("IfExists")
    key = failure.key.lower()
    if operator == "Null" and failure.expected and failure.expected[0].lower() == "true":
        return PRESENT_ADVICE.get(key, f"send the request with {failure.key} set")
    advice = ADVICE.get(key)
    if advice is not None and "{" not in advice:
        return advice
    outside = f"is outside {list(failure.expected)}"
    bound = _bound_advice(failure.key, outside)
    return bound or f"make {failure.key} take a value outside {list(failure.expected)}"


MALFORMED = "MalformedPolicyDocument in "
FIX_DOCUMENT = "Fix the document of"


_NOT_FOUND = re.compile(r"^\S*(NotFound|NoSuch\w+)\b")
"""An unchecked reason whose error says the named thing does not exist (collect/ec2, s3, kms)."""


def _diagnoser_read(decision: Decision, endpoint_owner: str | None = None) -> Candidate:
    """Read what could not be read, where it is (`endpoint_owner`: the account the record says
    owns the request's VPC endpoint, when it is not the snapshot's)."""
    elsewhere = [u for u in decision.unchecked if endpoint_owner and endpoint_not_found(u)]
    if elsewhere:
        endpoint = elsewhere[0].reason.partition(" reading ")[2] or "the VPC endpoint"
        return Candidate(
            code=RemedyCode.GRANT_DIAGNOSER_READ,
            target="the diagnoser's role",
            summary=f"Let the diagnoser read VPC endpoint {endpoint} in account "
            f"{endpoint_owner}, which owns it (ec2:DescribeVpcEndpoints there: a member role "
            "of that account, or a snapshot collected there), or ask that account for the "
            "endpoint's policy; then diagnose again.",
            account=endpoint_owner,
        )
    malformed = [u for u in decision.unchecked if u.reason.startswith(MALFORMED)]
    if malformed:
        policy, _, problem = malformed[0].reason.removeprefix(MALFORMED).partition(": ")
        return Candidate(
            code=RemedyCode.FIX_STATEMENT,
            target=policy,
            summary=f"{FIX_DOCUMENT} {policy}: IAM would reject it ({problem}), so it "
            "cannot be evaluated. Correct that element (put the policy again and read its "
            "validation error), then diagnose again; reading it again will not help.",
        )
    missing = [u for u in decision.unchecked if _NOT_FOUND.search(u.reason)]
    if missing:
        # A name the request carries that the account does not have: reading again won't help.
        code, _, name = missing[0].reason.partition(" reading ")
        return Candidate(
            code=RemedyCode.FIX_STATEMENT,
            target=name or missing[0].layer.value,
            summary=f"Check {name or 'the name'}: the account has no such "
            f"{missing[0].layer.value.removesuffix('-policy')} ({code}). Diagnose again with "
            "the name the failing request used; a request through it would fail as well.",
        )
    needs = sorted({u.needs for u in decision.unchecked if u.needs})
    layers = sorted({u.layer.value for u in decision.unchecked})
    if layers == [Layer.SESSION_POLICY.value]:
        return Candidate(
            code=RemedyCode.GRANT_DIAGNOSER_READ,
            target="the diagnosis input",
            summary="Give the session policy to the diagnosis (s3doctor diagnose "
            "--session-policy FILE); the AssumeRole or GetFederationToken event that created "
            "the session may show it.",
        )
    if needs == [NEW_POLICY_NEEDED]:
        return Candidate(
            code=RemedyCode.GRANT_DIAGNOSER_READ,
            target="the diagnosis input",
            summary="Diagnose the call's CloudTrail event (s3doctor diagnose --event FILE): its "
            "record carries the policy the request tried to set, which decides whether Block "
            "Public Access refused it as public.",
        )
    # Reads missing in one other account name it ("... in account N", `evidence.in_account`):
    # the fix is that account's, whichever layer waits on it (an ACL on the requester's id).
    where = {m[1] if (m := _IN_ACCOUNT.search(need)) else None for need in needs}
    org = _ORG_READ if _ORG_LAYERS & set(layers) else ""
    return Candidate(
        code=RemedyCode.GRANT_DIAGNOSER_READ,
        target="the diagnoser's role",
        summary=f"Let the diagnoser read {', '.join(layers) or 'the missing layer'} "
        f"({'; '.join(needs) or 'see unchecked'}) and diagnose again.{org}",
        account=where.pop() if len(where) == 1 else None,
    )


_IN_ACCOUNT = re.compile(r" in account (\d{12})$")
_ORG_LAYERS = frozenset({Layer.SCP.value, Layer.RCP.value})
_ORG_READ = (
    " SCPs and RCPs can be read only from the management account or a delegated administrator, "
    "so the diagnoser reads them through the role ORG_READ_ROLE_ARN names (the stack's "
    "OrgReadRoleArn, docs/deploy.md section 5): set it to a role there that trusts the "
    "diagnoser and allows these reads. In an organization deployment this holds for every "
    "member account too: the member roles do not read them."
)
"""How the diagnoser reads SCPs and RCPs (collect/organizations.py, collect/live.py)."""


# --------------------------------------------------------------------------- complying


def _comply(
    request: AccessRequest, snapshot: Snapshot, statement: StatementRef | None, *, deny: bool
) -> Iterator[Candidate]:
    if statement is None or statement.failed_condition is None:
        return
    failure = statement.failed_condition
    if not deny and all(
        supports_condition_key(op.action, failure.key) is False for op in request.operations
    ):
        return  # no request of these actions carries the key: the Allow can never hold
    value = _satisfying_value(failure, deny=deny)
    if value is _UNSET:
        return
    values = None if value is None else [str(value)]
    advice = ADVICE.get(failure.key.lower(), "send the request with {key} = {value}")
    bound = _bound_advice(failure.key, f"is {values[0]}" if values else "is absent")
    pattern = _pattern_met(failure, deny=deny)
    text = bound or (
        f"send the request with {failure.key} matching {pattern!r}"
        if pattern is not None
        else advice.format(
            key=failure.key,
            value=values[0] if values else "(none)",
            expected=list(failure.expected),
        )
    )
    sid = f" {statement.sid!r}" if statement.sid else ""
    actual = "absent" if failure.actual is None else list(failure.actual)
    if deny:
        summary = (
            f"Comply with the Deny{sid} in {statement.policy}: it protects the data by refusing "
            f"every request where {failure.key} {failure.operator} {list(failure.expected)} "
            f"holds (this request: {actual}). To comply, {text}."
        )
    else:
        summary = (
            f"Meet the condition of the Allow{sid} in {statement.policy}: {failure.key} "
            f"{failure.operator} {list(failure.expected)} (this request: {actual}). "
            f"{text[0].upper()}{text[1:]}."
        )
    # A principal's or resource's own key is no request's to change: advice, not a patch the
    # requester could apply (verifying it would judge a principal or bucket that is not there).
    yield Candidate(
        code=RemedyCode.COMPLY_WITH_DENY,
        target="the request",
        summary=summary[0].upper() + summary[1:],
        patch=None if bound else {"kind": "request", "context": {failure.key: values}},
        condition_key=failure.key,
    )


# Condition keys that say WHAT is accessed (a prefix, a tag), not how or from where: adding the
# request's value to an Allow on them widens the grant to that data only. Network, transport,
# MFA and principal keys protect something and are never loosened.
SCOPE_KEYS = ("s3:prefix", "s3:delimiter", "s3:existingobjecttag/", "s3:requestobjecttag/")


def _widen_condition(snapshot: Snapshot, statement: StatementRef | None) -> Iterator[Candidate]:
    """Add the request's value to the failed condition of an Allow on a scope key."""
    if statement is None or statement.failed_condition is None:
        return
    failure = statement.failed_condition
    key = failure.key.lower()
    operator = failure.operator.split(":")[-1]
    if not key.startswith(SCOPE_KEYS) or operator not in ("StringEquals", "StringLike"):
        return
    if not failure.actual or len(failure.actual) != 1:
        return
    value = failure.actual[0]
    document = _current(snapshot, statement.policy)
    statements = document.get("Statement") if document else None
    if isinstance(statements, Mapping):
        statements = [statements]
    if document is None or not isinstance(statements, list) or statement.index >= len(statements):
        return
    changed: Json = dict(statements[statement.index])
    condition = changed.get("Condition")
    if not isinstance(condition, Mapping):
        return
    new_condition: Json = {}
    found = False
    for op_name, block in condition.items():
        block = dict(block) if isinstance(block, Mapping) else block
        if op_name == failure.operator and isinstance(block, dict):
            for name in block:
                if name.lower() == key:
                    block[name] = [*_listed(block[name]), value]
                    found = True
        new_condition[op_name] = block
    if not found:
        return
    changed["Condition"] = new_condition
    statements = [*statements]
    statements[statement.index] = changed
    sid = f" {statement.sid!r}" if statement.sid else ""
    yield Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target=statement.policy,
        summary=f"Correct the condition of statement{sid} #{statement.index} of "
        f"{statement.policy}: add {value!r} to {failure.operator} {failure.key} "
        f"{list(failure.expected)}. It opens {failure.key} = {value!r} only, to whoever the "
        "statement already names.",
        patch={"kind": "policy", "policy": statement.policy,
               "document": {**document, "Statement": statements}},
        new_statement=changed,
    )  # fmt: skip


def _satisfying_value(failure: ConditionFailure, *, deny: bool) -> object:
    """A context value that makes the condition false (deny) or true (allow); _UNSET if none."""
    operator = failure.operator.split(":")[-1].removesuffix("IfExists")
    expected = [e for e in failure.expected if "*" not in e and "?" not in e and "${" not in e]
    if operator == "Bool" and failure.expected:
        wanted = failure.expected[0].lower() == "true"
        return str(wanted != deny).lower()
    if operator == "Null" and failure.expected:
        absent_denied = failure.expected[0].lower() == "true"
        if absent_denied == deny:
            return PRESENT_VALUES.get(failure.key.lower(), _UNSET)
        return None
    if operator in ("IpAddress", "NotIpAddress"):
        if operator == ("NotIpAddress" if deny else "IpAddress") and failure.expected:
            return _address_in(failure.expected[0])
        return _UNSET
    if operator not in _NEGATED and operator not in _POSITIVE:
        return _UNSET
    if (operator in _NEGATED) == deny and expected:
        return expected[0]
    if not deny and operator in ("StringLike", "ArnLike") and failure.expected:
        pattern = failure.expected[0]
        if "${" not in pattern:
            return pattern.replace("*", "").replace("?", "x")  # the shortest matching value
    if deny and operator in _POSITIVE and failure.key.lower().startswith("s3:x-amz-"):
        return None  # drop the offending header
    return _UNSET


def _pattern_met(failure: ConditionFailure, *, deny: bool) -> str | None:
    """The pattern an Allow's *Like condition wants met, when its value is one (`vpce-*`): the
    value tried is only the shortest match, no name to give a reader."""
    operator = failure.operator.split(":")[-1].removesuffix("IfExists")
    if deny or operator not in ("StringLike", "ArnLike") or not failure.expected:
        return None
    pattern = failure.expected[0]
    return pattern if ("*" in pattern or "?" in pattern) and "${" not in pattern else None


def _address_in(cidr: str) -> object:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return _UNSET
    host = network.network_address + (1 if network.num_addresses > 2 else 0)
    return str(host)


def _via_service_exception(snapshot: Snapshot, statement: StatementRef) -> Iterator[Candidate]:
    yield from _deny_exception(
        snapshot,
        statement,
        ("Bool", "aws:ViaAWSService", "false"),
        "S3 calls KMS with the requester's credentials from its own network, so "
        "network-pinned denies must exempt calls made through AWS services",
    )


# Keys that pin a request to a network: a service's call, or one through a VPC endpoint,
# cannot be made to meet them.
_NETWORK_PINS: Final = frozenset(
    {"aws:sourceip", "aws:sourcevpce", "aws:sourcevpc", "aws:vpcsourceip", "aws:sourcevpcarn"}
)


def _network_exception(
    request: AccessRequest, statement: StatementRef | None
) -> tuple[tuple[str, str, str], str] | None:
    """The exception to add to a network-pinned Deny that the request cannot comply with, and
    why: an AWS service principal's own call (`aws:PrincipalIsAWSService`), a call a service
    made with the requester's credentials (`aws:ViaAWSService`), or a request through a VPC
    endpoint denied on `aws:SourceIp`, which such a request never carries (`aws:SourceVpce`)."""
    failure = statement.failed_condition if statement is not None else None
    if failure is None or failure.key.lower() not in _NETWORK_PINS:
        return None
    context = {normalise_key(e.name): e.values for e in request.context}
    if request.principal.type is PrincipalType.AWS_SERVICE:
        return ("Bool", "aws:PrincipalIsAWSService", "false"), (
            "an AWS service's own call comes from AWS's network, never through your endpoints "
            "or addresses, so a network-pinned deny must exempt service principals"
        )
    if context.get("aws:viaawsservice") == ("true",):
        return ("Bool", "aws:ViaAWSService", "false"), (
            "the call was made for the requester by an AWS service, from AWS's network, so a "
            "network-pinned deny must exempt calls made through AWS services"
        )
    endpoint = context.get("aws:sourcevpce")
    if failure.key.lower() == "aws:sourceip" and endpoint and len(endpoint) == 1:
        return ("StringNotEquals", "aws:SourceVpce", endpoint[0]), (
            f"a request through VPC endpoint {endpoint[0]} carries no aws:SourceIp (AWS: use "
            "aws:SourceVpce or aws:VpcSourceIp there), so the deny matches it wherever it "
            "comes from; excepting the endpoint lets it through"
        )
    return None


def _deny_exception(
    snapshot: Snapshot, statement: StatementRef, exception: tuple[str, str, str], why: str
) -> Iterator[Candidate]:
    """The Deny `statement` with `exception` (operator, key, value) added to its condition: it
    then applies only where the exception's key does not have that value."""
    document = _current(snapshot, statement.policy)
    if document is None:
        return
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or statement.index >= len(statements):
        return
    operator, key, value = exception
    deny: Json = dict(statements[statement.index])
    condition = {k: dict(v) for k, v in (deny.get("Condition") or {}).items()}
    condition.setdefault(operator, {})[key] = value
    deny["Condition"] = condition
    statements = [*statements]
    statements[statement.index] = deny
    yield Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target=statement.policy,
        summary=f"Add an {key} exception to Deny #{statement.index} of {statement.policy}: "
        f"{why}.",
        patch={"kind": "policy", "policy": statement.policy,
               "document": {**document, "Statement": statements}},
        deny_exception=True,
    )  # fmt: skip


# --------------------------------------------------------------------------- verification


def _check(
    candidate: Candidate,
    request: AccessRequest,
    snapshot: Snapshot,
    decision: Decision | None = None,
    *,
    verify: bool,
    probes: Probes | None = None,
) -> Remedy | None:
    """The candidate as a remedy, verified; None when it is dropped (`_checked`)."""
    checked = _checked(candidate, request, snapshot, decision, verify=verify, probes=probes)
    return None if checked is None else checked[0]


def _checked(
    candidate: Candidate,
    request: AccessRequest,
    snapshot: Snapshot,
    decision: Decision | None = None,
    *,
    verify: bool,
    probes: Probes | None = None,
) -> tuple[Remedy, bool] | None:
    """(the remedy, whether it also lets others in); None: dropped, broader than needed, or an
    ABAC fix that does not let the request through.

    Enabling a bucket's ABAC is not dropped for letting others in: it makes every tag condition
    on the bucket count as the account wrote it, by design. Its summary names who else gets in,
    and whom it shuts out.
    """
    patch = candidate.patch
    verified = False
    summary = candidate.summary
    opened: list[str] = []
    shut: list[str] = []
    if patch is not None and verify:
        if candidate.new_statement is not None and _too_broad(candidate.new_statement, patch):
            return None
        try:
            if patch.get("kind") == "abac":
                allowed, opened, shut = _abac_reach(
                    request, snapshot, patch, probes or Probes(request, decision)
                )
                broader = not allowed
            else:
                allowed, broader = _reevaluate(
                    request, snapshot, patch, decision, probes, candidate.deny_exception
                )
        except DiagnoserError:
            pass  # offered unverified
        else:
            if broader:
                return None
            verified = allowed and all(is_known_action(o.action) for o in request.operations)
    if opened:
        summary += f" It also lets in {' and '.join(opened)}: check that the tag conditions "
        summary += "on the bucket admit only whom they should before enabling it."
    if shut:
        summary += f" It also shuts out {' and '.join(shut)}, allowed today: a tag condition "
        summary += "on the bucket then refuses them."
    text = probes.document_text(patch) if probes is not None and patch is not None else None
    cli = cli_for(patch, request, text=text) if patch is not None else None
    withheld = cli is None and patch is not None and argv_for(patch, request) is not None
    reserved = _identity_center_role(patch)
    if reserved is not None:  # AWS protects the role: the permission set is what to change
        cli, withheld, summary = None, False, f"{summary} {reserved}"
    remedy = Remedy(
        code=candidate.code.value,
        target=candidate.target,
        summary=f"{summary} ({NO_COMMAND})" if withheld else summary,
        patch=patch,
        cli=cli,
        verified=verified,
    )
    return remedy, bool(opened)


def _identity_center_role(patch: Mapping[str, Any] | None) -> str | None:
    """Where to put an inline policy meant for an IAM Identity Center role
    (`AWSReservedSSO_<permission set>_<suffix>`), which AWS refuses to change
    (UnmodifiableEntity): the permission set's inline policy; None for other policies."""
    if patch is None or patch.get("kind") != "policy":
        return None
    policy_id = str(patch.get("policy", ""))
    if not policy_id.startswith("inline:"):
        return None
    _account, entity, name, _policy = split_inline(policy_id)
    if entity != "role" or not name.startswith(_SSO_ROLE_PREFIX):
        return None
    permission_set = name.removeprefix(_SSO_ROLE_PREFIX).rpartition("_")[0] or name
    return (
        f"Role {name} is IAM Identity Center's (permission set {permission_set}) and AWS "
        "refuses changes to it: put the statement in the permission set's inline policy "
        "instead (aws sso-admin put-inline-policy-to-permission-set, then aws sso-admin "
        "provision-permission-set), from the organization's management account or Identity "
        "Center's delegated administrator."
    )


def _abac_reach(
    request: AccessRequest, snapshot: Snapshot, patch: Mapping[str, Any], probes: Probes
) -> tuple[bool, list[str], list[str]]:
    """(the request is allowed with the bucket's ABAC patched, whom else that lets in, whom it
    shuts out: each probe whose verdict it turns, in words).

    Every probe is decided on the patched snapshot, none short-cut (`verification` proves
    nothing of a patch that changes the context of every request on the bucket).
    """
    patched = _patched(snapshot, patch, probes.canonical(patch))
    allowed = _allows(_tagged(request, patched), patched) or (
        _cross_account(request, snapshot)
        and owner_side_allows(request, evaluate(_tagged(request, patched), patched), snapshot)
    )
    account = request.principal.account_id
    turned: list[tuple[str, bool, bool]] = []  # (who, allowed before, allowed after)
    # The probe on another bucket keeps its verdict: the patch changes this bucket alone.
    for probe in probes.plain():
        if probe.principal != request.principal:
            who = (
                f"another principal of account {account} with no grant of its own (sending "
                "this request's context, its principal tags included)"
            )
            turned.append(
                (who, _allows(probe, snapshot), _allows(_tagged(probe, patched), patched))
            )
    granted = probes.granted(snapshot)
    if granted is not None:
        probe, statements = granted
        # Its grant on every resource decides its requests as the grant on theirs does, and is
        # the same for every request of these actions: the probe snapshots are loaded once.
        actions = sorted({s["Action"] for s in statements})
        anywhere: list[Json] = [{"Effect": "Allow", "Action": a, "Resource": "*"} for a in actions]
        before = _with_granted_probe(snapshot, snapshot, None, anywhere, account)
        after = _with_granted_probe(snapshot, patched, probes.canonical(patch), anywhere, account)
        if before is not None and after is not None:
            who = f"any other principal of account {account} whose IAM policy allows "
            who += ", ".join(actions)
            turned.append((who, _allows(probe, before), _allows(_tagged(probe, after), after)))
    opened = [who for who, was, now in turned if now and not was]
    shut = [who for who, was, now in turned if was and not now]
    return allowed, opened, shut


def _tagged(request: AccessRequest, snapshot: Snapshot) -> AccessRequest:
    """The request as `snapshot` completes it, its bucket's tags included while the bucket's ABAC
    is enabled there. A request the engine resolved already (on the snapshot before the patch)
    is not resolved again (`engine.resolve`), so the tags are added here as it adds them: last,
    each as `aws:ResourceTag/<key>` and `s3:BucketTag/<key>`, unless the context gives the key."""
    resolved = resolve_principal(request, snapshot)
    names = {op.bucket for op in request.operations}
    name = names.pop() if len(names) == 1 else None
    bucket = snapshot.buckets.get(name) if name is not None else None
    if (
        request.access_point_arn is not None
        or not isinstance(bucket, Bucket)
        or bucket.abac != "Enabled"
        or not isinstance(bucket.tags, Mapping)
    ):
        return resolved
    given = {normalise_key(entry.name) for entry in resolved.context}
    added = tuple(
        ContextEntry(name=prefix + key, values=(value,), source=FROM_BUCKET_TAGS)
        for key, value in bucket.tags.items()
        for prefix in BUCKET_TAG_PREFIXES
        if normalise_key(prefix + key) not in given
    )
    return resolved.with_context(resolved.context + added) if added else resolved


def _too_broad(statement: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """A wildcard principal (unless an exact aws:PrincipalArn condition names who), action or
    (outside a key policy) resource in what we add."""
    principal = statement.get("Principal")
    aws = principal.get("AWS") if isinstance(principal, Mapping) else principal
    if (principal == "*" or "*" in _listed(aws)) and not _names_principal(statement):
        return True
    if any(a in ("*", "s3:*", "kms:*") for a in _listed(statement.get("Action"))):
        return True
    key_policy = str(patch.get("policy", "")).startswith("key-policy:")
    return not key_policy and "*" in _listed(statement.get("Resource"))


def _names_principal(statement: Mapping[str, Any]) -> bool:
    """An `ArnEquals aws:PrincipalArn` condition with exact ARNs: who the statement is for."""
    condition = statement.get("Condition")
    equals = condition.get("ArnEquals") if isinstance(condition, Mapping) else None
    if not isinstance(equals, Mapping):
        return False
    arns = _listed(equals.get("aws:PrincipalArn"))
    return bool(arns) and not any("*" in a or "?" in a for a in arns)


def _reevaluate(
    request: AccessRequest,
    snapshot: Snapshot,
    patch: Mapping[str, Any],
    decision: Decision | None = None,
    probes: Probes | None = None,
    deny_exception: bool = False,
) -> tuple[bool, bool]:
    """(the request is allowed after the patch, the patch lets a probe through).

    Probes: the same action on another bucket; another principal of the account with no IAM
    grant; and one whose identity policy already allows every action of the request on its
    resource (a patch that names the account, not the requester, lets that one through).
    """
    if patch.get("kind") in REQUEST_KINDS:
        return _allows_patched(request, snapshot, patch), False
    probes = probes or Probes(request, decision)
    patch_key = probes.canonical(patch)
    if CACHE and patch_key is not None:
        return probes.result(
            patch_key, lambda: _verified(request, snapshot, patch, probes, deny_exception)
        )
    return _verified(request, snapshot, patch, probes, deny_exception)


def _verified(
    request: AccessRequest,
    snapshot: Snapshot,
    patch: Mapping[str, Any],
    probes: Probes,
    deny_exception: bool = False,
) -> tuple[bool, bool]:
    """`_reevaluate` of a patch to the snapshot: as its twin's (`verification.same_answers`),
    or on the snapshot with the patch applied."""
    if CACHE:
        twin = probes.twin_result(snapshot, patch)
        if twin is not None:
            return twin
    patch_key = probes.canonical(patch)
    patched = _patched(snapshot, patch, patch_key)
    allowed = _allows(request, patched) or (
        _cross_account(request, snapshot)
        and owner_side_allows(request, evaluate(request, patched), snapshot)
    )
    broader = any(
        _allows(probe, patched) and not _allows(probe, snapshot)
        for probe in probes.plain()
        if not (CACHE and probes.unaffected(snapshot, probe, patch))
    )
    if not broader and not deny_exception and patch.get("kind") == "policy":
        granted = probes.granted(snapshot)
        if granted is not None and not (
            CACHE and probes.unaffected(snapshot, granted[0], patch, absent=True)
        ):
            probe, statements = granted
            account = probe.principal.account_id
            before = _with_granted_probe(snapshot, snapshot, None, statements, account)
            after = _with_granted_probe(snapshot, patched, patch_key, statements, account)
            if before is not None and after is not None:
                broader = _allows(probe, after) and not _allows(probe, before)
    return allowed, broader


@dataclass(slots=True)
class Probes:
    """The probes of one request, built once for all its candidate fixes; what each patch of
    the candidates verified to (a patch of the same canonical JSON verifies alike), and its
    twins among them (`verification.twins`)."""

    request: AccessRequest
    decision: Decision | None
    patches: list[Json] = field(default_factory=list)
    _plain: list[AccessRequest] | None = None
    _granted: list[tuple[AccessRequest, list[Json]] | None] | None = None
    _results: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    # `_canonical` of each patch met, by id (the patch kept: its id is not reused meanwhile)
    _canonicals: dict[int, tuple[Mapping[str, Any], str | None]] = field(default_factory=dict)
    # `unaffected`'s answers (the snapshot and probe kept, as above)
    _unaffected: dict[
        tuple[int, int, tuple[str, str, str], bool], tuple[Snapshot, AccessRequest, bool]
    ] = field(default_factory=dict)

    def canonical(self, patch: Mapping[str, Any]) -> str | None:
        """`_canonical(patch)`, once per patch object (a patch's document is the policy's
        whole document: each verification step asks for its key)."""
        found = self._canonicals.get(id(patch))
        if found is None:
            found = self._canonicals[id(patch)] = (patch, _canonical_of(patch))
        return found[1]

    def document_text(self, patch: Mapping[str, Any]) -> str | None:
        """The `patches.document_text` of a policy patch's document, read from its canonical
        key (the same text: written once); None for another patch."""
        key = self.canonical(patch)
        if key is None or set(patch) != _POLICY_PATCH_KEYS:
            return None
        return key[len('{"document":') : key.rindex(',"kind":')]

    def result(self, key: str, verify: Callable[[], tuple[bool, bool]]) -> tuple[bool, bool]:
        """verify(), once per patch (a DiagnoserError is raised each time)."""
        if key not in self._results:
            self._results[key] = verify()
        return self._results[key]

    def twin_result(self, snapshot: Snapshot, patch: Mapping[str, Any]) -> tuple[bool, bool] | None:
        """What the last twin of `patch` among the candidates verified to, when the requests
        whose verdicts decide it (the request, and each probe the patch can affect but for
        the granted one) are decided alike with either patch; None: check in full.

        The probes a patch cannot affect (`verification`) are the same for its twins (one
        policy changed); the granted probe must be one of them.
        """
        twin = self.twin_of(patch)
        if twin is None or _cross_account(self.request, snapshot):
            return None
        granted = self.granted(snapshot)
        if granted is not None and not self.unaffected(snapshot, granted[0], patch, absent=True):
            return None
        deciding = [self.request]
        deciding += [p for p in self.plain() if not self.unaffected(snapshot, p, patch)]
        try:
            answer = _reevaluate(self.request, snapshot, twin, self.decision, self)
            twin_patched = _patched(snapshot, twin, self.canonical(twin))
        except DiagnoserError:
            return None
        return answer if same_answers(twin_patched, deciding, patch, twin, known=True) else None

    def twin_of(self, patch: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The last of the candidates that is a twin of `patch` (`verification.twins`: itself
        included), unless that is `patch` or one equal to it."""
        twin = next((c for c in reversed(self.patches) if twins(patch, c)), None)
        return None if twin is None or twin is patch or twin == patch else twin

    def unaffected(
        self,
        snapshot: Snapshot,
        probe: AccessRequest,
        patch: Mapping[str, Any],
        *,
        absent: bool = False,
    ) -> bool:
        """`verification.unaffected` (`absent`: `absent_principal`) of one of these probes,
        once per snapshot and policy the patch changes: a patch and its twins change the same
        one, and each of them is checked against the same probes."""
        changed = identity_policy(patch)
        if changed is None:
            return False
        key = (id(snapshot), id(probe), changed, absent)
        found = self._unaffected.get(key)
        if found is None:
            check = absent_principal if absent else unaffected
            found = self._unaffected[key] = (snapshot, probe, check(snapshot, probe, patch))
        return found[2]

    def plain(self) -> list[AccessRequest]:
        """`_probes(request)`."""
        if self._plain is None:
            self._plain = _probes(self.request)
        return self._plain

    def granted(self, snapshot: Snapshot) -> tuple[AccessRequest, list[Json]] | None:
        """`probe_with_grants` of the request and its decision (evaluated if not given)."""
        if self._granted is None:
            decision = self.decision or evaluate(self.request, snapshot)
            self._granted = [probe_with_grants(self.request, decision)]
        return self._granted[0]


# --------------------------------------------------------------------------- patched snapshots
#
# A fix is verified against the snapshot with the patch applied. The same patch comes back for
# every request of a batch that it answers (the prefix form of a grant, the corrected statement
# of a near miss), so each patched snapshot is loaded once per snapshot and patch (by canonical
# JSON) and kept, with what the engine remembers on it, in a bounded store on the unpatched
# snapshot. A patched snapshot also starts with the unpatched one's compiled policies, except
# the one the patch changes: a policy is shared only when its document is the same in both.
# Where only the verdict counts (does the request or a probe get through?), `decide` answers.
# What a patch cannot change is not re-run (`verification`): a probe that does not read the
# patched identity policy keeps its verdict, and a patch that differs from a twin among the
# request's candidates in Resource values alone (the exact key, its prefix) verifies as the
# twin does where every scan of the deciding requests answers alike, its snapshot not loaded.
# `CACHE = False` is the plain path: every patched snapshot loaded afresh from a deep copy,
# `evaluate` for every verdict, every probe decided (the differential tests compare both).

CACHE = True
MAX_PATCHED = 64  # patched snapshots kept per snapshot; the store is emptied when full
MAX_SHARED_PLANS = 1024  # statement plans a patched snapshot starts with (none past that)
_STORE = ("s3doctor-remedies", "patched snapshots")


def _canonical(value: Mapping[str, Any]) -> str | None:
    """The value as canonical JSON, or None when it is not plain JSON (then nothing is kept)."""
    try:
        return COMPACT.encode(value)
    except (TypeError, ValueError):
        return None


_POLICY_PATCH_KEYS: Final = frozenset({"document", "kind", "policy"})


def _canonical_of(patch: Mapping[str, Any]) -> str | None:
    """`_canonical(patch)`; a policy patch's written around its document's `document_text`
    (sorted keys: "document", "kind", "policy"), so that text can be read back from it."""
    if set(patch) != _POLICY_PATCH_KEYS:
        return _canonical(patch)
    try:
        text = document_text(patch["document"])
        rest = json.dumps(patch["kind"]), json.dumps(patch["policy"])
    except (TypeError, ValueError):
        return None
    return f'{{"document":{text},"kind":{rest[0]},"policy":{rest[1]}}}'


def _remembered(snapshot: Snapshot, key: tuple[str, ...] | None, build: Callable[[], T]) -> T:
    """build(), kept in the snapshot's bounded store under key (errors too); None: not kept."""
    if not CACHE or key is None:
        return build()
    store: dict[tuple[str, ...], Any] = snapshot.cached(_STORE, dict)
    try:
        hit = store[key]
    except KeyError:
        if len(store) >= MAX_PATCHED:
            store.clear()
        try:
            hit = build()
        except DiagnoserError as error:
            hit = _Refused(error)
        store[key] = hit
    if isinstance(hit, _Refused):
        raise hit.error
    return hit  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class _Refused:
    error: DiagnoserError


def _patched(snapshot: Snapshot, patch: Mapping[str, Any], patch_key: str | None) -> Snapshot:
    """The snapshot with the patch applied, loaded."""

    def build() -> Snapshot:
        document = (apply_patch_shared if CACHE else apply_patch)(snapshot.document, patch)
        changed = patch.get("policy") if patch.get("kind") == "policy" else None
        loaded = _load_sharing(snapshot, document, changed)
        if CACHE and _resolves_alike(snapshot, patch):
            loaded.resolved = snapshot.resolved  # the same answers: kept once for both
        return loaded

    key = None if patch_key is None else ("patch", patch_key)
    return _remembered(snapshot, key, build)


def _resolves_alike(snapshot: Snapshot, patch: Mapping[str, Any]) -> bool:
    """The snapshot with `patch` applied resolves every request as `snapshot` does: the patch
    changes one IAM policy document (no user, role, tag, bucket nor organization), and neither
    its version before nor after names a key of `resolve.RESOLUTION_NAMES` (found in their
    text as the resolution looks for them in the whole snapshot's)."""
    if identity_policy(patch) is None:
        return False
    texts = (raw_policy(snapshot.document, str(patch["policy"])), patch.get("document"))
    try:
        return not any(names_a_key(text, RESOLUTION_NAMES) for text in texts)
    except (TypeError, ValueError):
        return False


def _with_granted_probe(
    snapshot: Snapshot,
    base: Snapshot,
    patch_key: str | None,
    statements: list[Json],
    account: str | None = None,
) -> Snapshot | None:
    """`base` (the snapshot or a patched one) with the granted probe user in `account` (the
    requester's); None: IAM unreadable."""

    def build() -> Snapshot | None:
        document = with_probe_user(base.document, statements, account)
        if document is None:
            return None
        return _load_sharing(base, document, PROBE_POLICY_ID)

    grants = _canonical({"statements": statements})
    key = None if grants is None else ("granted", patch_key or "", grants, account or "")
    if base is not snapshot and patch_key is None:
        key = None
    return _remembered(snapshot, key, build)


def _load_sharing(base: Snapshot, document: Json, changed: object) -> Snapshot:
    """load_snapshot(document), starting with the compiled policies of `base` it has unchanged.

    `document` is `base.document` with one change (a patch, or the granted probe user). A
    compiled policy is kept when it is not the changed one and its document is equal in both
    (policies the patch helpers cannot find are compiled again), SCPs when the organization is
    equal, and policies cached by content (given with the request) always. The engine's
    statement plans too: each is a function of the policies (compared by identity), action and
    requester of its key alone, so a plan of shared policies is the one `loaded` would make.
    """
    loaded = load_snapshot(document, like=base if CACHE else None)
    if not CACHE:
        return loaded
    same_org = document.get("organization") == base.document.get("organization")
    for key, value in list(base._compiled.items()):
        if len(key) != 3 or key[0] != "source" or not isinstance(key[2], str):
            continue
        policy_id = key[2]
        if policy_id in (changed, PROBE_POLICY_ID):
            continue
        if "#" in policy_id:  # cached by content
            same = True
        elif key[1] == "scp":
            same = same_org
        else:
            before = raw_policy(base.document, policy_id)
            same = before is not None and before == raw_policy(document, policy_id)
        if same:
            loaded.cached(key, _constant(value))
    if len(base.plans) <= MAX_SHARED_PLANS:
        loaded.plans.update(base.plans)
    return loaded


def _allows(request: AccessRequest, snapshot: Snapshot) -> bool:
    """`evaluate(request, snapshot).allowed`, by the engine's verdict alone (`decide`, which
    skips the explanation and remembers verdicts by request shape) when `decide` would not
    resolve the principal to another ARN first (evaluate does not)."""
    if CACHE and resolve_principal(request, snapshot) is request:
        return decide(request, snapshot).decision is Verdict.ALLOWED
    return evaluate(request, snapshot).allowed


def _allows_patched(request: AccessRequest, snapshot: Snapshot, patch: Mapping[str, Any]) -> bool:
    """`_allows(apply_to_request(request, patch), snapshot)`. A patch that gives one key values
    is asked of the request's own verdict tree with that entry added last (`deciding_with`),
    without building and resolving the patched request: the engine takes the last entry of a
    name, the patched request's one entry of it. Not for a key the engine (`DIRECT_KEYS`) or
    resolution (`resolved_forms.READ_KEYS`) also reads from the request's entries."""
    entry = one_entry(request, patch) if CACHE else None
    if entry is None or entry.name.lower() in _READ_FROM_ENTRIES:
        return _allows(apply_to_request(request, patch), snapshot)
    return deciding_with(request, snapshot)(entry).decision is Verdict.ALLOWED


# The keys the engine or resolution reads from a request's entries, not only its context.
_READ_FROM_ENTRIES: Final = DIRECT_KEYS | READ_KEYS


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


GRANTED_PROBE = "s3doctor-probe-granted"
PROBE_POLICY_ID = f"inline:user/{GRANTED_PROBE}/s3doctor-probe"
# Layers a cross-account requester's own account decides: never in the bucket owner's snapshot.
REQUESTER_SIDE = frozenset(
    {Layer.IDENTITY_POLICY, Layer.PERMISSIONS_BOUNDARY, Layer.SESSION_POLICY, Layer.SCP}
)


def owner_side_allows(request: AccessRequest, decision: Decision, snapshot: Snapshot) -> bool:
    """The request is allowed; for a cross-account request, as far as the bucket owner decides.

    A cross-account request is inconclusive here whatever the bucket policy says, because the
    requester's own account is NOT CHECKED: the bucket owner's side allows it when no layer
    denies and the only unknown layers are the requester's (identity, boundary, session, SCP).
    """
    if decision.allowed:
        return True
    if not _cross_account(request, snapshot) or decision.decision is not Verdict.INCONCLUSIVE:
        return False
    for evaluation in decision.evaluations:
        for layer in evaluation.layers:
            if layer.outcome in (Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY):
                return False
            if layer.outcome is Outcome.UNKNOWN and layer.layer not in REQUESTER_SIDE:
                return False
    return all(u.layer in REQUESTER_SIDE for u in decision.unchecked)


def _both_sides(request: AccessRequest, snapshot: Snapshot) -> bool:
    """A cross-account request whose requester's account is in the snapshot too."""
    return (
        _cross_account(request, snapshot)
        and snapshot.side(request.principal.account_id) is not None
    )


def _requester_side_only(request: AccessRequest, snapshot: Snapshot) -> bool:
    """A request on a bucket of another account that the snapshot does not hold: judged on the
    requester's side alone (`engine.resolve.foreign_bucket_account`)."""
    return foreign_bucket_account(request, snapshot) is not None


def _cross_account(request: AccessRequest, snapshot: Snapshot) -> bool:
    owner = str(snapshot.document.get("account_id") or "")
    return request.scope is Scope.CROSS_ACCOUNT or (
        bool(owner) and request.principal.account_id not in (None, owner)
    )


def probe_with_grants(
    request: AccessRequest, decision: Decision
) -> tuple[AccessRequest, list[Json]] | None:
    """A same-account IAM user, other than the requester, whose IAM policy allows the request.

    Returns the probe request and the identity statements to give that user (with
    `with_probe_user`). None for an anonymous request.
    """
    if request.principal.type is PrincipalType.ANONYMOUS or not request.principal.account_id:
        return None
    probe = _stranger(request, GRANTED_PROBE)
    pairs = sorted({(e.action, e.resource_arn) for e in decision.evaluations})
    statements: list[Json] = [
        {"Effect": "Allow", "Action": action, "Resource": resource} for action, resource in pairs
    ]
    return probe, statements


def with_probe_user(
    document: Mapping[str, Any], statements: list[Json], account: str | None = None
) -> Json | None:
    """The snapshot document with the granted probe user added to the IAM of `account` (the
    snapshot's, or another account's side when it is in the snapshot); None when that IAM is
    unreadable."""
    sides = document.get("accounts")
    if (
        account
        and account != document.get("account_id")
        and isinstance(sides, Mapping)
        and isinstance(sides.get(account), Mapping)
        and "$unreadable" not in sides[account]
    ):
        side = dict(sides[account])
        inner = {
            "account_id": account,
            "partition": document.get("partition"),
            "iam": side.get("iam"),
        }
        with_user = with_probe_user(inner, statements)
        if with_user is None:
            return None
        side["iam"] = with_user["iam"]
        return {**document, "accounts": {**sides, account: side}}
    iam = document.get("iam")
    if iam is not None and not isinstance(iam, Mapping):
        return None
    if isinstance(iam, Mapping) and (
        "$unreadable" in iam or not isinstance(iam.get("UserDetailList", []), list)
    ):
        return None
    out: Json = dict(document)
    account = str(document.get("account_id", ""))
    user = {
        "UserName": GRANTED_PROBE,
        "UserId": "AIDAS3DOCTORPROBE0001",
        "Arn": f"arn:{document.get('partition') or 'aws'}:iam::{account}:user/{GRANTED_PROBE}",
        "Path": "/",
        "GroupList": [],
        "AttachedManagedPolicies": [],
        "UserPolicyList": [
            {
                "PolicyName": "s3doctor-probe",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }
        ],
    }
    new_iam: Json = dict(iam or {})
    new_iam["UserDetailList"] = [*(new_iam.get("UserDetailList") or []), user]
    out["iam"] = new_iam
    return out


def _probes(request: AccessRequest) -> list[AccessRequest]:
    """Each action of the call on another bucket (a copy's read and its write: a fix for the
    write may open the write elsewhere), and the request by another principal of the
    account."""
    probes: list[AccessRequest] = []
    firsts: dict[str, Operation] = {}  # the first operation of each action, in order
    for op in request.operations:
        firsts.setdefault(op.action, op)
    for op in firsts.values():
        target = split_s3_arn(op.resource_arn)
        if target is None:
            continue
        key = "probe" if target[1] is not None else None
        partition = partition_of(op.resource_arn)
        arn = (
            s3_object_arn(PROBE_BUCKET, key, partition)
            if key
            else s3_bucket_arn(PROBE_BUCKET, partition)
        )
        probe_op = Operation(action=op.action, resource_arn=arn, bucket=PROBE_BUCKET, key=key)
        probes.append(replace(request, operations=(probe_op,), kms_key_arn=None))
    probes.append(_stranger(request, "s3doctor-probe"))
    return probes


def _stranger(request: AccessRequest, name: str) -> AccessRequest:
    """The request as another IAM user of the requester's account would send it."""
    account = request.principal.account_id
    other = f"arn:{partition_of(request.principal.principal_arn)}:iam::{account}:user/{name}"
    stranger = Principal(
        type=PrincipalType.IAM_USER,
        requester_arn=other,
        principal_arn=other,
        account_id=account,
        user_name=name,
    )
    replaced = {"aws:principalarn": other, "aws:principaltype": "User"}
    context = tuple(
        ContextEntry(name=e.name, values=(replaced[e.name.lower()],), type=e.type, source=e.source)
        if e.name.lower() in replaced
        else e
        for e in request.context
        if e.name.lower() not in ("aws:userid", "aws:username")
    )
    return replace(request, principal=stranger, context=context, session_policy=None)
