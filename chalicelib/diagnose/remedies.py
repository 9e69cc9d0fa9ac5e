"""Remedies: the smallest change that lets THIS request through, and nothing broader.

Each cause suggests where the change belongs (identity policy, bucket policy, key policy,
boundary, endpoint policy, ownership setting, or the request itself) and why there. An
explicit deny is never answered with "remove it": the remedy says what the Deny protects and
how to comply. Every patch is checked by applying it to a copy of the snapshot document (or
to the request), re-loading and re-evaluating: the request must become allowed, and neither
the same action on another bucket nor another principal may gain access. Only then is
`Remedy.verified` set; a patch that is broader than needed is dropped.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.arn import parse_arn, split_s3_arn
from chalicelib.diagnose.catalog import CauseCode, RemedyCode
from chalicelib.diagnose.causes import EXPLICIT
from chalicelib.diagnose.patches import (
    NO_COMMAND,
    apply_patch,
    apply_to_request,
    argv_for,
    cli_for,
    policy_document,
)
from chalicelib.diagnose.wording import Miss, MissKind
from chalicelib.engine import evaluate
from chalicelib.engine.evidence import principal_evidence
from chalicelib.events.actions import is_known_action
from chalicelib.model import (
    AccessRequest,
    Cause,
    ConditionFailure,
    ContextEntry,
    Decision,
    DiagnoserError,
    Json,
    Layer,
    Operation,
    Principal,
    PrincipalType,
    Remedy,
    StatementRef,
    Verdict,
)
from chalicelib.snapshot import Snapshot, load_snapshot

MAX_REMEDIES = 3
PROBE_BUCKET = "s3doctor-probe-bucket"
REQUEST_KINDS = frozenset({"request", "session-policy"})
DENY_CODES = frozenset(EXPLICIT.values()) - {
    CauseCode.OBJECT_LOCK,
    CauseCode.OBJECT_MISSING_NO_LISTBUCKET,
}

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
}
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


def find_remedies(
    request: AccessRequest,
    snapshot: Snapshot,
    decision: Decision,
    causes: Sequence[tuple[int | None, Cause]],
    misses: Sequence[Miss] = (),
    *,
    verify: bool = True,
) -> tuple[Remedy, ...]:
    """Remedies for the causes, verified ones first, at most three."""
    if decision.decision is Verdict.ALLOWED:
        return ()
    out: list[Remedy] = []
    seen: set[tuple[str, str, str]] = set()
    for index, cause in causes:
        evaluation = decision.evaluations[index] if index is not None else None
        action = evaluation.action if evaluation else request.action
        resource = evaluation.resource_arn if evaluation else request.resource_arn
        own = [m for m in misses if m.evaluation == index]
        for candidate in _candidates(request, snapshot, decision, cause, own, action, resource):
            key = (candidate.code.value, candidate.target, candidate.summary)
            if key in seen:
                continue
            seen.add(key)
            remedy = _check(candidate, request, snapshot, verify=verify)
            if remedy is not None:
                out.append(remedy)
    out.sort(key=lambda r: (not r.verified, r.patch is None))
    return tuple(out[:MAX_REMEDIES])


# --------------------------------------------------------------------------- candidates


def _candidates(
    request: AccessRequest,
    snapshot: Snapshot,
    decision: Decision,
    cause: Cause,
    misses: Sequence[Miss],
    action: str,
    resource: str,
) -> Iterator[Candidate]:
    try:
        code = CauseCode(cause.code)
    except ValueError:
        return
    statement = cause.statement
    if code in (CauseCode.EXPLICIT_DENY_SCP, CauseCode.NO_ALLOW_SCP, CauseCode.EXPLICIT_DENY_RCP):
        yield from _comply(request, snapshot, statement, deny=True)
        yield _org_admin(cause, action)
    elif code is CauseCode.KMS_FORWARD_ACCESS_CONDITION and statement is not None:
        yield from _via_service_exception(snapshot, statement)
    elif code in DENY_CODES:
        comply = list(_comply(request, snapshot, statement, deny=True))
        yield from comply
        if not comply and statement is not None:
            yield _deny_explained(statement, action, session=cause.layer is Layer.SESSION_POLICY)
    elif code is CauseCode.CONDITION_NOT_MET:
        yield from _comply(request, snapshot, statement, deny=False)
    elif code in (
        CauseCode.NO_ALLOW_IDENTITY,
        CauseCode.WRONG_RESOURCE_OR_ACTION_FORM,
        CauseCode.RESOURCE_GRANT_NOT_EFFECTIVE,
    ):
        if misses:
            yield from _fix_near_miss(request, snapshot, misses[0], action, resource)
        yield from _identity_grant(request, snapshot, action, resource)
    elif code is CauseCode.KMS_IDENTITY:
        yield from _identity_grant(request, snapshot, action, resource)
    elif code is CauseCode.KMS_KEY_POLICY:
        yield from _key_policy_grant(request, snapshot, action, resource)
    elif code is CauseCode.NO_ALLOW_BOUNDARY:
        yield from _extend_boundary(request, snapshot, action, resource)
    elif code is CauseCode.NO_ALLOW_SESSION_POLICY:
        yield from _extend_session_policy(request, action, resource)
    elif code is CauseCode.NO_ALLOW_VPCE_POLICY:
        yield from _endpoint_grant(request, snapshot, action, resource)
    elif code is CauseCode.OBJECT_OWNED_BY_OTHER_ACCOUNT and request.bucket:
        yield _enforce_owner(request.bucket)
    elif code is CauseCode.BPA_BLOCK_PUBLIC_ACLS:
        yield _private_acl()
    elif code is CauseCode.INCONCLUSIVE:
        yield _diagnoser_read(decision)


def _allow(action: str, resource: str, **extra: Any) -> Json:
    name = re.sub(r"[^A-Za-z0-9]", "", action.partition(":")[2]) or "Access"
    return {"Sid": f"S3Doctor{name}", "Effect": "Allow", "Action": action, "Resource": resource,
            **extra}  # fmt: skip


def _with_statement(document: Json | None, statement: Json) -> Json:
    doc: Json = dict(document) if document else {"Version": "2012-10-17", "Statement": []}
    statements = doc.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    doc["Version"] = doc.get("Version", "2012-10-17")
    doc["Statement"] = [*statements, statement]
    return doc


def _iam_entity(request: AccessRequest, snapshot: Snapshot) -> tuple[str, str] | None:
    """(kind, name) of the IAM user or role whose identity policies apply."""
    if request.principal.type in (PrincipalType.ROOT, PrincipalType.ANONYMOUS):
        return None
    entity = principal_evidence(snapshot, request.principal).entity
    return (entity.kind, entity.name) if entity is not None else None


def _identity_grant(
    request: AccessRequest, snapshot: Snapshot, action: str, resource: str
) -> Iterator[Candidate]:
    entity = _iam_entity(request, snapshot)
    if entity is None:
        return
    kind, name = entity
    statement = _allow(action, resource)
    policy_id = f"inline:{kind}/{name}/s3doctor-{statement['Sid'].removeprefix('S3Doctor')}"
    yield Candidate(
        code=RemedyCode.ADD_IDENTITY_STATEMENT,
        target=request.principal.principal_arn,
        summary=f"Allow {action} on {resource} in a new inline policy of {kind} {name}: the "
        "grant stays with this principal and changes no shared bucket or key policy.",
        patch={"kind": "policy", "policy": policy_id, "document": _with_statement(None, statement)},
        new_statement=statement,
    )


def _fix_near_miss(
    request: AccessRequest, snapshot: Snapshot, miss: Miss, action: str, resource: str
) -> Iterator[Candidate]:
    """Correct the one element of the statement that nearly matched."""
    near = miss.near_miss
    document = policy_document(snapshot.document, near.policy)
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
        statement["Resource"] = [*_listed(statement.get("Resource")), resource]
        change = f"add Resource {resource}"
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
    statements = [*statements]
    statements[near.index] = statement
    patched = {**document, "Statement": statements}
    sid = f" {near.sid!r}" if near.sid else ""
    yield Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target=near.policy,
        summary=f"Correct statement{sid} #{near.index} of {near.policy}: {change}. It already "
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
    parsed = parse_arn(arn)
    region = (parsed.region if parsed else None) or snapshot.region or "us-east-1"
    statement = _allow(
        action,
        "*",
        Principal={"AWS": request.principal.principal_arn},
        Condition={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
    )
    yield Candidate(
        code=RemedyCode.ADD_KMS_KEY_POLICY_STATEMENT,
        target=arn,
        summary=f"Allow {action} to {request.principal.principal_arn} in the key policy, only "
        "through S3 (kms:ViaService): the key policy must allow it, IAM alone cannot.",
        patch={
            "kind": "policy",
            "policy": policy_id,
            "document": _with_statement(policy_document(snapshot.document, policy_id), statement),
        },
        new_statement=statement,
    )


def _extend_boundary(
    request: AccessRequest, snapshot: Snapshot, action: str, resource: str
) -> Iterator[Candidate]:
    boundary = principal_evidence(snapshot, request.principal).boundary
    if boundary is None or not boundary.policy_id.startswith("arn:"):
        return
    statement = _allow(action, resource)
    document = policy_document(snapshot.document, boundary.policy_id)
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
    statement = _allow(action, resource)
    yield Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target="session policy",
        summary=f"Pass a session policy that also allows {action} on {resource}: change the "
        "code or broker that creates the session.",
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
    statement = _allow(action, resource, Principal={"AWS": request.principal.principal_arn})
    yield Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target=endpoint_id,
        summary=f"Allow {action} on {resource} for {request.principal.principal_arn} in the "
        f"policy of VPC endpoint {endpoint_id}: every request through it must be allowed there.",
        patch={
            "kind": "policy",
            "policy": policy_id,
            "document": _with_statement(policy_document(snapshot.document, policy_id), statement),
        },
        new_statement=statement,
    )


def _enforce_owner(bucket: str) -> Candidate:
    return Candidate(
        code=RemedyCode.ENFORCE_BUCKET_OWNER,
        target=f"arn:aws:s3:::{bucket}",
        summary=f"Set Object Ownership of {bucket} to BucketOwnerEnforced: the bucket owner then "
        "owns every object and policies apply to it. Move any ACL grant still needed into the "
        "bucket policy first (S3 refuses the change while the bucket ACL grants other accounts).",
        patch={"kind": "ownership", "bucket": bucket, "object_ownership": "BucketOwnerEnforced"},
    )


def _private_acl() -> Candidate:
    return Candidate(
        code=RemedyCode.COMPLY_WITH_DENY,
        target="the request",
        summary="Upload without a public ACL (drop --acl public-read / x-amz-acl, or use "
        "bucket-owner-full-control); Block Public Access stays on. Change Block Public Access "
        "only if this object must really be public.",
        patch={
            "kind": "request",
            "context": {
                "s3:x-amz-acl": None,
                "s3:x-amz-grant-read": None,
                "s3:x-amz-grant-full-control": None,
            },
        },
    )


def _org_admin(cause: Cause, action: str) -> Candidate:
    policy = cause.statement.policy if cause.statement else "the SCPs of this account"
    return Candidate(
        code=RemedyCode.ASK_ORG_ADMIN,
        target=policy,
        summary=f"Ask the organization administrators: {policy} is managed in the management "
        f"account and governs {action} for every account below where it is attached.",
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
    return Candidate(
        code=RemedyCode.COMPLY_WITH_DENY,
        target=statement.policy,
        summary=f"The Deny{sid} (#{statement.index}) in {statement.policy} blocks {action} on "
        "purpose and has no condition to meet. If this request is legitimate, ask its owner for "
        "a narrow exception (an ArnNotLike aws:PrincipalArn condition) rather than removing it.",
    )


def _diagnoser_read(decision: Decision) -> Candidate:
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
    return Candidate(
        code=RemedyCode.GRANT_DIAGNOSER_READ,
        target="the diagnoser's role",
        summary=f"Let the diagnoser read {', '.join(layers) or 'the missing layer'} "
        f"({'; '.join(needs) or 'see unchecked'}) and diagnose again.",
    )


# --------------------------------------------------------------------------- complying


def _comply(
    request: AccessRequest, snapshot: Snapshot, statement: StatementRef | None, *, deny: bool
) -> Iterator[Candidate]:
    if statement is None or statement.failed_condition is None:
        return
    failure = statement.failed_condition
    value = _satisfying_value(failure, deny=deny)
    if value is _UNSET:
        return
    values = None if value is None else [str(value)]
    advice = ADVICE.get(failure.key.lower(), "send the request with {key} = {value}")
    text = advice.format(
        key=failure.key, value=values[0] if values else "(none)", expected=list(failure.expected)
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
    yield Candidate(
        code=RemedyCode.COMPLY_WITH_DENY,
        target="the request",
        summary=summary[0].upper() + summary[1:],
        patch={"kind": "request", "context": {failure.key: values}},
    )


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
    if deny and operator in _POSITIVE and failure.key.lower().startswith("s3:x-amz-"):
        return None  # drop the offending header
    return _UNSET


def _address_in(cidr: str) -> object:
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return _UNSET
    host = network.network_address + (1 if network.num_addresses > 2 else 0)
    return str(host)


def _via_service_exception(snapshot: Snapshot, statement: StatementRef) -> Iterator[Candidate]:
    document = policy_document(snapshot.document, statement.policy)
    if document is None:
        return
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or statement.index >= len(statements):
        return
    deny: Json = dict(statements[statement.index])
    condition = {k: dict(v) for k, v in (deny.get("Condition") or {}).items()}
    condition.setdefault("Bool", {})["aws:ViaAWSService"] = "false"
    deny["Condition"] = condition
    statements = [*statements]
    statements[statement.index] = deny
    yield Candidate(
        code=RemedyCode.FIX_STATEMENT,
        target=statement.policy,
        summary=f"Add an aws:ViaAWSService exception to Deny #{statement.index} of "
        f"{statement.policy}: S3 calls KMS with the requester's credentials from its own "
        "network, so network-pinned denies must exempt calls made through AWS services.",
        patch={"kind": "policy", "policy": statement.policy,
               "document": {**document, "Statement": statements}},
    )  # fmt: skip


# --------------------------------------------------------------------------- verification


def _check(
    candidate: Candidate, request: AccessRequest, snapshot: Snapshot, *, verify: bool
) -> Remedy | None:
    patch = candidate.patch
    cli = cli_for(patch, request) if patch is not None else None
    withheld = cli is None and patch is not None and argv_for(patch, request) is not None
    remedy = Remedy(
        code=candidate.code.value,
        target=candidate.target,
        summary=f"{candidate.summary} ({NO_COMMAND})" if withheld else candidate.summary,
        patch=patch,
        cli=cli,
    )
    if patch is None or not verify:
        return remedy
    if candidate.new_statement is not None and _too_broad(candidate.new_statement, patch):
        return None
    try:
        allowed, broader = _reevaluate(request, snapshot, patch)
    except DiagnoserError:
        return remedy
    if broader:
        return None
    return replace(
        remedy, verified=allowed and all(is_known_action(o.action) for o in request.operations)
    )


def _too_broad(statement: Mapping[str, Any], patch: Mapping[str, Any]) -> bool:
    """A wildcard principal, action or (outside a key policy) resource in what we add."""
    principal = statement.get("Principal")
    aws = principal.get("AWS") if isinstance(principal, Mapping) else principal
    if principal == "*" or "*" in _listed(aws):
        return True
    if any(a in ("*", "s3:*", "kms:*") for a in _listed(statement.get("Action"))):
        return True
    key_policy = str(patch.get("policy", "")).startswith("key-policy:")
    return not key_policy and "*" in _listed(statement.get("Resource"))


def _reevaluate(
    request: AccessRequest, snapshot: Snapshot, patch: Mapping[str, Any]
) -> tuple[bool, bool]:
    """(the request is allowed after the patch, the patch lets a probe through)."""
    if patch.get("kind") in REQUEST_KINDS:
        return evaluate(apply_to_request(request, patch), snapshot).allowed, False
    patched = load_snapshot(apply_patch(snapshot.document, patch))
    allowed = evaluate(request, patched).allowed
    broader = any(
        evaluate(probe, patched).allowed and not evaluate(probe, snapshot).allowed
        for probe in _probes(request)
    )
    return allowed, broader


def _probes(request: AccessRequest) -> list[AccessRequest]:
    """The same action on another bucket, and by another principal of the account."""
    op = request.operations[0]
    probes: list[AccessRequest] = []
    target = split_s3_arn(op.resource_arn)
    if target is not None:
        key = "probe" if target[1] is not None else None
        arn = f"arn:aws:s3:::{PROBE_BUCKET}" + (f"/{key}" if key else "")
        probe_op = Operation(action=op.action, resource_arn=arn, bucket=PROBE_BUCKET, key=key)
        probes.append(replace(request, operations=(probe_op,), kms_key_arn=None))
    account = request.principal.account_id
    other = f"arn:aws:iam::{account}:user/s3doctor-probe"
    stranger = Principal(
        type=PrincipalType.IAM_USER, requester_arn=other, principal_arn=other, account_id=account
    )
    context = tuple(
        ContextEntry(name=e.name, values=(other,), type=e.type, source=e.source)
        if e.name.lower() == "aws:principalarn"
        else e
        for e in request.context
        if e.name.lower() not in ("aws:userid", "aws:username")
    )
    probes.append(replace(request, principal=stranger, context=context))
    return probes
