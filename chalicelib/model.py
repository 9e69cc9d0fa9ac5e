"""The data model shared by every part of s3-403-doctor.

Frozen, keyword-only dataclasses and StrEnum vocabularies; `to_dict()` / `from_dict()` are
written once here and used by every adapter (CLI JSON, SNS message, DynamoDB item, API
response, golden files). Pure: imports only the standard library.

Contracts (DESIGN.md 3.1 request, 3.3 finding) are rendered by `Finding.to_dict()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field, fields
from enum import StrEnum
from operator import attrgetter
from typing import Any, Final, TypeAlias

from .lean_dataclass import dataclass

Json: TypeAlias = dict[str, Any]


class DiagnoserError(Exception):
    """Base of every error this project raises on purpose."""


class InputError(DiagnoserError):
    """Bad input from a user or a file: reported as one line naming the field (exit 2)."""

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}" if field_path else message)
        self.field_path = field_path
        self.message = message


class MalformedPolicyError(DiagnoserError):
    """A policy document that IAM would reject (MalformedPolicyDocument)."""

    def __init__(self, policy_id: str, element: str, message: str) -> None:
        super().__init__(f"MalformedPolicyDocument in {policy_id}: {element}: {message}")
        self.policy_id = policy_id
        self.element = element
        self.message = message


class Layer(StrEnum):
    """Fixed vocabulary of the policy layers that take part in an S3 authorization."""

    SCP = "scp"
    RCP = "rcp"
    VPC_ENDPOINT_POLICY = "vpc-endpoint-policy"
    IDENTITY_POLICY = "identity-policy"
    PERMISSIONS_BOUNDARY = "permissions-boundary"
    SESSION_POLICY = "session-policy"
    BUCKET_POLICY = "bucket-policy"
    ACCESS_POINT_POLICY = "access-point-policy"
    BUCKET_ACL = "bucket-acl"
    OBJECT_ACL = "object-acl"
    OBJECT_OWNERSHIP = "object-ownership"
    BLOCK_PUBLIC_ACCESS = "block-public-access"
    KMS_KEY_POLICY = "kms-key-policy"
    # Extensions of DESIGN 3.3 (S3-native checks that are not policies).
    KMS_GRANT = "kms-grant"
    OBJECT_EXISTENCE = "object-existence"
    OBJECT_LOCK = "object-lock"
    REQUEST = "request"


class Outcome(StrEnum):
    """The verdict of one layer."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"
    NOT_APPLICABLE = "not-applicable"
    UNKNOWN = "unknown"


class Verdict(StrEnum):
    """The verdict of an evaluation or of the whole request."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"
    INCONCLUSIVE = "inconclusive"


class PrincipalType(StrEnum):
    """Who made the request, after reading `userIdentity` (or the runbook's requester ARN)."""

    IAM_USER = "IAMUser"
    ASSUMED_ROLE = "AssumedRole"
    ROLE = "Role"  # a role ARN given directly (runbook input): any session of it
    ROOT = "Root"
    FEDERATED_USER = "FederatedUser"
    AWS_SERVICE = "AWSService"
    AWS_ACCOUNT = "AWSAccount"  # another account, identity unknown (cross-account)
    ANONYMOUS = "Anonymous"
    UNKNOWN = "Unknown"


class Scope(StrEnum):
    """Whether the request is diagnosed in full."""

    SAME_ACCOUNT = "same-account"
    CROSS_ACCOUNT = "cross-account"
    ANONYMOUS = "anonymous"
    SERVICE = "service"
    OUT_OF_SCOPE = "out-of-scope"


# --------------------------------------------------------------------------- request


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextEntry:
    """One request-context key with its values and where they came from.

    `type` is IAM's ContextKeyType (string, stringList, numeric, numericList, boolean,
    booleanList, ip, ipList, binary, binaryList, date, dateList). `source` says where the value
    came from: "request" (given by the user), "event:<field>" (read from the CloudTrail
    record) or "derived:<what>" (computed, e.g. from the principal).
    """

    name: str
    values: tuple[str, ...]
    type: str = "string"
    source: str = "request"

    def request_json(self) -> Json:
        """The entry as a finding's `request.context` holds it, under its name."""
        return {"values": list(self.values), "type": self.type, "source": self.source}

    def to_dict(self) -> Json:
        return {
            "ContextKeyName": self.name,
            "ContextKeyValues": list(self.values),
            "ContextKeyType": self.type,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContextEntry:
        return cls(
            name=str(data["ContextKeyName"]),
            values=tuple(str(v) for v in data.get("ContextKeyValues", ())),
            type=str(data.get("ContextKeyType", "string")),
            source=str(data.get("source", "request")),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """The requester.

    `requester_arn` is the caller as logged (an assumed-role or federated-user session ARN for
    sessions); `principal_arn` is the IAM identity whose policies apply (the role ARN with its
    path for a role session, the parent user for a federated user, the root ARN for root).
    `aws:PrincipalArn` is `principal_arn`, except for federated users where it is the
    federated-user ARN.
    """

    type: PrincipalType
    requester_arn: str
    principal_arn: str
    account_id: str
    session_name: str | None = None
    user_id: str | None = None  # aws:userid (principalId)
    user_name: str | None = None  # aws:username (IAM users only)
    service: str | None = None  # service principal of an AWSService caller
    mfa_authenticated: bool | None = None  # None: long-term credentials, key absent

    def to_dict(self) -> Json:
        return {
            "type": self.type.value,
            "requester_arn": self.requester_arn,
            "principal_arn": self.principal_arn,
            "account_id": self.account_id,
            "session_name": self.session_name,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "service": self.service,
            "mfa_authenticated": self.mfa_authenticated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Principal:
        return cls(
            type=PrincipalType(data["type"]),
            requester_arn=data["requester_arn"],
            principal_arn=data["principal_arn"],
            account_id=data["account_id"],
            session_name=data.get("session_name"),
            user_id=data.get("user_id"),
            user_name=data.get("user_name"),
            service=data.get("service"),
            mfa_authenticated=data.get("mfa_authenticated"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One IAM authorization that S3 performs for the request.

    Most requests are one operation; CopyObject / UploadPartCopy are two (read the source,
    write the destination), DeleteObjects one per key. `role` names the part
    ("source", "destination", "" when alone). `kms_action` is the KMS action this
    operation needs when the object is SSE-KMS encrypted with a customer managed key.
    """

    action: str
    resource_arn: str
    bucket: str | None = None
    key: str | None = None
    version_id: str | None = None
    role: str = ""
    kms_actions: tuple[str, ...] = ()

    def to_dict(self) -> Json:
        return {
            "action": self.action,
            "resource_arn": self.resource_arn,
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "role": self.role,
            "kms_actions": list(self.kms_actions),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operation:
        return cls(
            action=data["action"],
            resource_arn=data["resource_arn"],
            bucket=data.get("bucket"),
            key=data.get("key"),
            version_id=data.get("version_id"),
            role=data.get("role", ""),
            kms_actions=tuple(data.get("kms_actions", ())),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DenialHint:
    """What the event's `errorMessage` says about the denial (spec 4.1)."""

    raw: str
    action: str | None = None
    resource: str | None = None
    policy_type: str | None = None  # one of the Layer values, or "block-public-access"...
    explicit: bool | None = None
    policy_arn: str | None = None

    def to_dict(self) -> Json:
        return {
            "raw": self.raw,
            "action": self.action,
            "resource": self.resource,
            "policy_type": self.policy_type,
            "explicit": self.explicit,
            "policy_arn": self.policy_arn,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DenialHint:
        return cls(
            raw=data.get("raw", ""),
            action=data.get("action"),
            resource=data.get("resource"),
            policy_type=data.get("policy_type"),
            explicit=data.get("explicit"),
            policy_arn=data.get("policy_arn"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRequest:
    """One denied (or to-be-checked) S3 request: the engine's input.

    Built from a CloudTrail record (`chalicelib.events`) or from the runbook's inputs
    (`chalicelib.request`). `operations[0]` is the primary operation.
    """

    principal: Principal
    operations: tuple[Operation, ...]
    context: tuple[ContextEntry, ...] = ()
    region: str | None = None
    kms_key_arn: str | None = None
    vpc_endpoint_id: str | None = None
    access_point_arn: str | None = None
    bucket_account: str | None = None
    session_policy: Json | None = None
    scp_policies: tuple[Json, ...] = ()
    # From an event (empty for runbook-style requests).
    event_id: str | None = None
    shared_event_id: str | None = None  # the same on both copies of a cross-account event
    event_time: str | None = None
    event_name: str | None = None
    scope: Scope = Scope.SAME_ACCOUNT
    scope_reason: str | None = None
    denial_hint: DenialHint | None = None
    notes: tuple[str, ...] = ()  # what could not be derived, and why
    proposed_policy: Json | None = None  # PutBucketPolicy / PutAccessPointPolicy body

    @property
    def action(self) -> str:
        return self.operations[0].action

    @property
    def resource_arn(self) -> str:
        return self.operations[0].resource_arn

    @property
    def bucket(self) -> str | None:
        return self.operations[0].bucket

    @property
    def key(self) -> str | None:
        return self.operations[0].key

    def with_context(self, context: tuple[ContextEntry, ...]) -> AccessRequest:
        """`dataclasses.replace(self, context=context)` in a fifth of its time (the engine
        completes every request's context: `engine.resolve`): each field put in its slot, as
        the generated `__init__` puts it (the request has no `__post_init__`)."""
        copy = _new_request(AccessRequest)
        for put, value in zip(_REQUEST_SLOTS, _request_fields(self), strict=True):
            put(copy, value)
        _put_context(copy, context)
        return copy

    def context_value(self, name: str) -> tuple[str, ...] | None:
        """Values of a context key (names compare case-insensitively), None when absent."""
        wanted = name.lower()
        for entry in self.context:
            if entry.name.lower() == wanted:
                return entry.values
        return None

    def to_dict(self) -> Json:
        """The `request` part of a finding (DESIGN 3.3)."""
        return {
            "requester_arn": self.principal.requester_arn,
            "principal_arn": self.principal.principal_arn,
            "principal_type": self.principal.type.value,
            "principal": self.principal.to_dict(),
            "action": self.action,
            "resource_arn": self.resource_arn,
            "bucket": self.bucket,
            "key": self.key,
            "operations": [op.to_dict() for op in self.operations],
            "context": {e.name: e.request_json() for e in self.context},
            "region": self.region,
            "kms_key_arn": self.kms_key_arn,
            "vpc_endpoint_id": self.vpc_endpoint_id,
            "access_point_arn": self.access_point_arn,
            "bucket_account": self.bucket_account,
            "session_policy": self.session_policy,
            "scp_policies": list(self.scp_policies),
            "event_id": self.event_id,
            "event_time": self.event_time,
            "event_name": self.event_name,
            "scope": self.scope.value,
            "scope_reason": self.scope_reason,
            "denial_hint": self.denial_hint.to_dict() if self.denial_hint else None,
            "notes": list(self.notes),
            "proposed_policy": self.proposed_policy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccessRequest:
        context = tuple(
            ContextEntry(
                name=name,
                values=tuple(spec.get("values", ())),
                type=spec.get("type", "string"),
                source=spec.get("source", "request"),
            )
            for name, spec in (data.get("context") or {}).items()
        )
        hint = data.get("denial_hint")
        return cls(
            principal=Principal.from_dict(data["principal"]),
            operations=tuple(Operation.from_dict(op) for op in data["operations"]),
            context=context,
            region=data.get("region"),
            kms_key_arn=data.get("kms_key_arn"),
            vpc_endpoint_id=data.get("vpc_endpoint_id"),
            access_point_arn=data.get("access_point_arn"),
            bucket_account=data.get("bucket_account"),
            session_policy=data.get("session_policy"),
            scp_policies=tuple(data.get("scp_policies") or ()),
            event_id=data.get("event_id"),
            event_time=data.get("event_time"),
            event_name=data.get("event_name"),
            scope=Scope(data.get("scope", Scope.SAME_ACCOUNT.value)),
            scope_reason=data.get("scope_reason"),
            denial_hint=DenialHint.from_dict(hint) if hint else None,
            notes=tuple(data.get("notes") or ()),
            proposed_policy=data.get("proposed_policy"),
        )


# --------------------------------------------------------------------------- decision


_REQUEST_FIELDS: Final = tuple(f.name for f in fields(AccessRequest))
_request_fields: Final = attrgetter(*_REQUEST_FIELDS)
_REQUEST_SLOTS: Final = tuple(getattr(AccessRequest, name).__set__ for name in _REQUEST_FIELDS)
_put_context: Final = _REQUEST_SLOTS[_REQUEST_FIELDS.index("context")]
_new_request: Final = object.__new__


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionFailure:
    """The condition that decided a statement: its key, operator, and both sides.

    `actual` is None when the key was absent from the request context.
    """

    key: str
    operator: str
    expected: tuple[str, ...]
    actual: tuple[str, ...] | None

    def to_dict(self) -> Json:
        return {
            "key": self.key,
            "operator": self.operator,
            "expected": list(self.expected),
            "actual": None if self.actual is None else list(self.actual),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConditionFailure:
        actual = data.get("actual")
        return cls(
            key=data["key"],
            operator=data["operator"],
            expected=tuple(data.get("expected", ())),
            actual=None if actual is None else tuple(actual),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementRef:
    """A statement that matched or decided, pointed at by policy id and index.

    `policy` is a policy ARN, or an id such as "bucket-policy:<bucket>",
    "inline:user/<name>/<policy>", "key-policy:<key-arn>", "acl:<bucket>".
    `failed_condition` is set when the statement was decided by a condition (a Deny whose
    condition matched, or an Allow whose condition failed).
    """

    policy: str
    index: int
    sid: str | None = None
    effect: str | None = None
    failed_condition: ConditionFailure | None = None
    note: str | None = None

    def to_dict(self) -> Json:
        out: Json = {"policy": self.policy, "sid": self.sid, "index": self.index}
        if self.effect is not None:
            out["effect"] = self.effect
        if self.failed_condition is not None:
            out["failed_condition"] = self.failed_condition.to_dict()
        if self.note is not None:
            out["note"] = self.note
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StatementRef:
        fc = data.get("failed_condition")
        return cls(
            policy=data["policy"],
            index=int(data.get("index", 0)),
            sid=data.get("sid"),
            effect=data.get("effect"),
            failed_condition=ConditionFailure.from_dict(fc) if fc else None,
            note=data.get("note"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Unchecked:
    """A layer that could not be read, with what would make it visible."""

    layer: Layer
    reason: str
    needs: str | None = None

    def to_dict(self) -> Json:
        return {"layer": self.layer.value, "reason": self.reason, "needs": self.needs}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Unchecked:
        return cls(layer=Layer(data["layer"]), reason=data["reason"], needs=data.get("needs"))


@dataclass(frozen=True, slots=True, kw_only=True)
class LayerResult:
    """One layer's verdict for one evaluation, with the statements behind it."""

    layer: Layer
    outcome: Outcome
    statements: tuple[StatementRef, ...] = ()
    detail: str | None = None  # one human sentence: why this outcome
    # The level of the organization path that `detail` names (an SCP or RCP layer's: the root,
    # OU or account id where none allows). Kept for the fixes, not in the JSON form, and not
    # compared: it is said in `detail`, which is.
    level: str | None = field(default=None, compare=False)

    def to_dict(self) -> Json:
        out: Json = {
            "layer": self.layer.value,
            "outcome": self.outcome.value,
            "statements": [s.to_dict() for s in self.statements],
        }
        if self.detail is not None:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayerResult:
        return cls(
            layer=Layer(data["layer"]),
            outcome=Outcome(data["outcome"]),
            statements=tuple(StatementRef.from_dict(s) for s in data.get("statements", ())),
            detail=data.get("detail"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """The evaluation of one IAM action on one resource (an S3 operation or its KMS leg)."""

    action: str
    resource_arn: str
    decision: Verdict
    blocked_by: tuple[Layer, ...] = ()
    layers: tuple[LayerResult, ...] = ()

    def layer(self, layer: Layer) -> LayerResult | None:
        for result in self.layers:
            if result.layer is layer:
                return result
        return None

    def to_dict(self) -> Json:
        return {
            "action": self.action,
            "resource_arn": self.resource_arn,
            "decision": self.decision.value,
            "blocked_by": [b.value for b in self.blocked_by],
            "layers": [lr.to_dict() for lr in self.layers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Evaluation:
        return cls(
            action=data["action"],
            resource_arn=data["resource_arn"],
            decision=Verdict(data["decision"]),
            blocked_by=tuple(Layer(b) for b in data.get("blocked_by", ())),
            layers=tuple(LayerResult.from_dict(lr) for lr in data.get("layers", ())),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The engine's answer: the combined verdict and one Evaluation per authorization."""

    decision: Verdict
    blocked_by: tuple[Layer, ...]
    evaluations: tuple[Evaluation, ...]
    unchecked: tuple[Unchecked, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision is Verdict.ALLOWED


# --------------------------------------------------------------------------- finding


@dataclass(frozen=True, slots=True, kw_only=True)
class Cause:
    """Why the request was denied, with a stable code from the cause catalog."""

    code: str
    layer: Layer | None
    message: str
    statement: StatementRef | None = None
    confidence: str = "definite"  # definite | possible

    def to_dict(self) -> Json:
        out: Json = {
            "code": self.code,
            "layer": self.layer.value if self.layer else None,
            "message": self.message,
            "confidence": self.confidence,
        }
        if self.statement is not None:
            out["statement"] = self.statement.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Cause:
        st = data.get("statement")
        layer = data.get("layer")
        return cls(
            code=data["code"],
            layer=Layer(layer) if layer else None,
            message=data["message"],
            statement=StatementRef.from_dict(st) if st else None,
            confidence=data.get("confidence", "definite"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NearMiss:
    """A statement that would have applied but for one element."""

    policy: str
    index: int
    why: str
    sid: str | None = None
    layer: Layer | None = None
    element: str | None = None  # Action, Resource, Principal, Condition, Version...

    def to_dict(self) -> Json:
        return {
            "policy": self.policy,
            "index": self.index,
            "sid": self.sid,
            "layer": self.layer.value if self.layer else None,
            "element": self.element,
            "why": self.why,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NearMiss:
        layer = data.get("layer")
        return cls(
            policy=data["policy"],
            index=int(data.get("index", 0)),
            why=data["why"],
            sid=data.get("sid"),
            layer=Layer(layer) if layer else None,
            element=data.get("element"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Remedy:
    """The smallest change that makes the request pass, as a patch and a CLI command."""

    code: str
    target: str
    summary: str
    patch: Json | None = None
    cli: str | None = None
    verified: bool = False  # re-running the engine on the patched snapshot allows the request

    def to_dict(self) -> Json:
        return {
            "code": self.code,
            "target": self.target,
            "summary": self.summary,
            "patch": self.patch,
            "cli": self.cli,
            "verified": self.verified,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Remedy:
        return cls(
            code=data["code"],
            target=data["target"],
            summary=data["summary"],
            patch=data.get("patch"),
            cli=data.get("cli"),
            verified=bool(data.get("verified", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WhatIf:
    """A runbook request evaluated again with one condition key it did not give (⚓ extension),
    or an event's with a key S3 evaluates and CloudTrail does not log, whose value changes the
    verdict (the event's verdict is then inconclusive).

    `assumed_values` come from the policy conditions that test `key`; `decision` and
    `blocked_by` are the engine's verdict under them (diagnose/whatif.py).
    """

    key: str
    assumed_values: tuple[str, ...]
    decision: Verdict
    blocked_by: tuple[Layer, ...] = ()

    def to_dict(self) -> Json:
        return {
            "key": self.key,
            "assumed_values": list(self.assumed_values),
            "decision": self.decision.value,
            "blocked_by": [b.value for b in self.blocked_by],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WhatIf:
        return cls(
            key=str(data["key"]),
            assumed_values=tuple(str(v) for v in data.get("assumed_values", ())),
            decision=Verdict(data["decision"]),
            blocked_by=tuple(Layer(b) for b in data.get("blocked_by", ())),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """The product: one diagnosed denial (DESIGN 3.3)."""

    finding_id: str
    request: AccessRequest
    decision: Verdict
    blocked_by: tuple[Layer, ...]
    evaluations: tuple[Evaluation, ...]
    engine_version: str
    event_id: str | None = None
    event_time: str | None = None
    causes: tuple[Cause, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()
    remedies: tuple[Remedy, ...] = ()
    unchecked: tuple[Unchecked, ...] = ()
    notes: tuple[str, ...] = ()
    occurrences: int = 1
    first_seen: str | None = None
    last_seen: str | None = None
    what_if: tuple[WhatIf, ...] = ()  # runbook requests only; in the JSON when not empty
    extra: Mapping[str, Any] = field(default_factory=dict)  # forward-compatible keys

    def to_dict(self, *, with_request: bool = True) -> Json:
        """The finding's JSON (DESIGN 3.3); `with_request=False` leaves out the `request` part
        for a writer that has its text already (`finding_text`)."""
        out: Json = {
            "finding_id": self.finding_id,
            "event_id": self.event_id,
            "event_time": self.event_time,
            "engine_version": self.engine_version,
        }
        if with_request:
            out["request"] = self.request.to_dict()
        out |= {
            "decision": self.decision.value,
            "blocked_by": [b.value for b in self.blocked_by],
            "evaluations": [e.to_dict() for e in self.evaluations],
            "causes": [c.to_dict() for c in self.causes],
            "near_misses": [n.to_dict() for n in self.near_misses],
            "remedies": [r.to_dict() for r in self.remedies],
            "unchecked": [u.to_dict() for u in self.unchecked],
            "notes": list(self.notes),
            "occurrences": self.occurrences,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }
        if self.what_if:
            out["what_if"] = [w.to_dict() for w in self.what_if]
        for k, v in self.extra.items():
            out.setdefault(k, v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        known = {
            "finding_id", "event_id", "event_time", "engine_version", "request", "decision",
            "blocked_by", "evaluations", "causes", "near_misses", "remedies", "unchecked",
            "notes", "occurrences", "first_seen", "last_seen", "what_if",
        }  # fmt: skip
        return cls(
            finding_id=data["finding_id"],
            event_id=data.get("event_id"),
            event_time=data.get("event_time"),
            engine_version=data.get("engine_version", ""),
            request=AccessRequest.from_dict(_request_dict(data["request"])),
            decision=Verdict(data["decision"]),
            blocked_by=tuple(Layer(b) for b in data.get("blocked_by", ())),
            evaluations=tuple(Evaluation.from_dict(e) for e in data.get("evaluations", ())),
            causes=tuple(Cause.from_dict(c) for c in data.get("causes", ())),
            near_misses=tuple(NearMiss.from_dict(n) for n in data.get("near_misses", ())),
            remedies=tuple(Remedy.from_dict(r) for r in data.get("remedies", ())),
            unchecked=tuple(Unchecked.from_dict(u) for u in data.get("unchecked", ())),
            notes=tuple(data.get("notes", ())),
            occurrences=int(data.get("occurrences", 1)),
            first_seen=data.get("first_seen"),
            last_seen=data.get("last_seen"),
            what_if=tuple(WhatIf.from_dict(w) for w in data.get("what_if") or ()),
            extra={k: v for k, v in data.items() if k not in known},
        )


def _request_dict(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept the finding's `request` part, which flattens the principal and operation."""
    if "principal" in data and "operations" in data:
        return data
    principal = {
        "type": data.get("principal_type", PrincipalType.UNKNOWN.value),
        "requester_arn": data.get("requester_arn", ""),
        "principal_arn": data.get("principal_arn", ""),
        "account_id": data.get("bucket_account") or "",
    }
    operation = {
        "action": data.get("action", ""),
        "resource_arn": data.get("resource_arn", ""),
        "bucket": data.get("bucket"),
        "key": data.get("key"),
    }
    return {**data, "principal": principal, "operations": [operation]}
