"""Policy documents compiled once into statements that answer, per request, "do I apply?".

Pure: standard library only. `compile_policy` parses a document (a dict, the JSON string the
APIs return, or IAM's URL-encoded JSON), checks it like IAM's MalformedPolicyDocument, and
returns a `CompiledPolicy` whose statements match actions, resources, principals and
conditions with precompiled matchers. `statements_for_action` is memoised per action, and
resource answers are memoised per ARN for statements without policy variables, so a batch
of requests never re-parses or re-scans a policy.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html ·
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from ..arn import split_s3_arn
from ..lean_dataclass import dataclass
from ..model import ConditionFailure, MalformedPolicyError
from .conditions import (
    EMPTY_BLOCK,
    ConditionBlock,
    ConditionResult,
    compile_condition_block,
)
from .context import RequestContext
from .matching import ActionMatcher, ResourceMatcher
from .principals import (
    PrincipalElement,
    PrincipalForm,
    PrincipalIdentity,
    compile_principal,
)
from .variables import VERSION_2008, VERSION_2012, parse_template


class PolicyKind(StrEnum):
    """What a policy is attached to; decides whether Principal is required or forbidden."""

    IDENTITY = "identity"
    RESOURCE = "resource"
    SCP = "scp"
    RCP = "rcp"
    BOUNDARY = "boundary"
    SESSION = "session"
    ENDPOINT = "endpoint"
    KEY_POLICY = "key-policy"


_PRINCIPAL_REQUIRED = frozenset(
    {PolicyKind.RESOURCE, PolicyKind.RCP, PolicyKind.ENDPOINT, PolicyKind.KEY_POLICY}
)
_PRINCIPAL_FORBIDDEN = frozenset(
    {PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION, PolicyKind.SCP}
)
_DOCUMENT_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)
_EFFECTS = ("Allow", "Deny")


# --------------------------------------------------------------------------- explanations


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementCheck:
    """Whether one element of a statement matched the request, and why not."""

    element: str  # Action, NotAction, Resource, NotResource, Principal, NotPrincipal, Condition
    matched: bool
    reason: str
    values: tuple[str, ...] = ()  # the element's values as written
    hint: str | None = None  # a likely near miss, e.g. a bucket ARN without "/*"


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementExplanation:
    """Element by element, whether a statement applies to a request."""

    policy_id: str
    index: int
    sid: str | None
    effect: str
    checks: tuple[ElementCheck, ...]
    condition: ConditionResult
    condition_failures: tuple[ConditionFailure, ...] = ()

    @property
    def applies(self) -> bool:
        return all(check.matched for check in self.checks)

    @property
    def failed(self) -> tuple[ElementCheck, ...]:
        return tuple(check for check in self.checks if not check.matched)


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledStatement:
    """One statement with its matchers; `index` is its position in the policy (from 0)."""

    index: int
    sid: str | None
    effect: str
    policy_id: str
    actions: ActionMatcher
    actions_negated: bool
    resources: ResourceMatcher
    resources_negated: bool
    principal: PrincipalElement | None
    conditions: ConditionBlock
    raw: Mapping[str, Any]

    @property
    def has_condition(self) -> bool:
        return bool(self.conditions.conditions)

    def matches_action(self, action: str) -> bool:
        return self.actions.matches(action) != self.actions_negated

    @property
    def matches_every_resource(self) -> bool:
        """`Resource: "*"`: the resource never changes whether the statement applies."""
        return self.resources.matches_everything and not self.resources_negated

    def matches_resource(self, resource_arn: str, ctx: RequestContext) -> bool:
        """Resource / NotResource match; a NotResource variable left unfilled matches nothing.

        AWS: a variable it cannot resolve "might cause the entire statement to be invalid"
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
        """
        if not self.resources_negated:
            return self.resources.matches(resource_arn, ctx)
        if self.resources.has_variables and self.resources.unresolvable(ctx):
            return False
        return not self.resources.matches(resource_arn, ctx)

    def principal_match(self, identity: PrincipalIdentity) -> PrincipalForm | None:
        """How the statement names the requester; None when it does not (or has no Principal)."""
        return None if self.principal is None else self.principal.match(identity)

    def evaluate_conditions(self, ctx: RequestContext) -> ConditionResult:
        return self.conditions.evaluate(ctx)

    def applies_to(
        self,
        action: str,
        resource_arn: str,
        ctx: RequestContext,
        identity: PrincipalIdentity | None = None,
    ) -> bool:
        """Action, resource, principal (when the statement has one) and conditions all match."""
        if not (self.matches_action(action) and self.matches_resource(resource_arn, ctx)):
            return False
        if self.principal is not None and (
            identity is None or self.principal_match(identity) is None
        ):
            return False
        return self.evaluate_conditions(ctx).matched

    def explain(
        self,
        action: str,
        resource_arn: str,
        identity: PrincipalIdentity | None,
        ctx: RequestContext,
    ) -> StatementExplanation:
        """Element by element, whether this statement applies to the request and why not."""
        checks = [self._explain_action(action), self._explain_resource(resource_arn, ctx)]
        if self.principal is not None:
            checks.append(self._explain_principal(identity))
        condition = self.evaluate_conditions(ctx)
        failures = self.conditions.failures(ctx)
        if self.has_condition:
            checks.append(_condition_check(condition, failures))
        return StatementExplanation(
            policy_id=self.policy_id,
            index=self.index,
            sid=self.sid,
            effect=self.effect,
            checks=tuple(checks),
            condition=condition,
            condition_failures=failures,
        )

    def _explain_action(self, action: str) -> ElementCheck:
        element = "NotAction" if self.actions_negated else "Action"
        matched = self.matches_action(action)
        values = self.actions.patterns
        if matched:
            reason = f"{action} is not listed" if self.actions_negated else f"{action} matches"
        elif self.actions_negated:
            reason = f"{action} is excluded by {element} {list(values)}"
        else:
            reason = f"{action} matches none of {list(values)}"
        return ElementCheck(element=element, matched=matched, reason=reason, values=values)

    def _explain_resource(self, resource_arn: str, ctx: RequestContext) -> ElementCheck:
        element = "NotResource" if self.resources_negated else "Resource"
        matched = self.matches_resource(resource_arn, ctx)
        values = tuple(t.source for t in self.resources.templates)
        hint = None
        if matched:
            reason = f"{resource_arn} is not listed" if self.resources_negated else "matches"
        elif self.resources_negated:
            listed = self.resources.matching(resource_arn, ctx)
            reason = f"{resource_arn} is excluded by {element} {list(listed)}"
        else:
            reason = f"{resource_arn} matches none of {list(values)}"
            hint = _resource_hint(resource_arn, values, self.resources, ctx)
        return ElementCheck(
            element=element, matched=matched, reason=reason, values=values, hint=hint
        )

    def _explain_principal(self, identity: PrincipalIdentity | None) -> ElementCheck:
        assert self.principal is not None
        element = "NotPrincipal" if self.principal.negated else "Principal"
        values = tuple(e.source for e in self.principal.entries)
        form = None if identity is None else self.principal_match(identity)
        if form is not None:
            reason = (
                "the requester is not listed"
                if self.principal.negated
                else f"names the requester ({form.value})"
            )
            return ElementCheck(element=element, matched=True, reason=reason, values=values)
        if self.principal.negated:
            reason = "the requester is listed, so the statement does not apply to it"
            return ElementCheck(element=element, matched=False, reason=reason, values=values)
        return ElementCheck(
            element=element,
            matched=False,
            reason=f"names none of the requester's principals {list(values)}",
            values=values,
            hint=_principal_hint(values, identity),
        )


def _condition_check(
    result: ConditionResult, failures: tuple[ConditionFailure, ...]
) -> ElementCheck:
    if result.matched:
        return ElementCheck(element="Condition", matched=True, reason="every condition holds")
    failed = failures[0] if failures else result.decisive
    assert failed is not None
    actual = "absent" if failed.actual is None else list(failed.actual)
    reason = f"{failed.key} {failed.operator} expected {list(failed.expected)}, actual {actual}"
    return ElementCheck(
        element="Condition",
        matched=False,
        reason=reason,
        values=tuple(f"{f.operator} {f.key}" for f in failures),
    )


def _resource_hint(
    resource_arn: str, values: tuple[str, ...], matcher: ResourceMatcher, ctx: RequestContext
) -> str | None:
    """A likely near miss: a bucket ARN for an object, `/*` for a bucket, or letter case."""
    parts = split_s3_arn(resource_arn)
    if parts is not None:
        bucket, key = parts
        bucket_arn = resource_arn.split("/", 1)[0]
        if key is not None and bucket_arn in values:
            return f"Resource {bucket_arn} lacks /* for object actions"
        if key is None and any(v.startswith(bucket_arn + "/") for v in values):
            return f"Resource names objects in {bucket} ({bucket_arn}/...) but not the bucket"
    lowered = resource_arn.lower()
    for template in matcher.templates:
        rendered = template.render(ctx)
        if rendered is not None and rendered.lower() == lowered:
            return f"Resource {template.source} differs from {resource_arn} only in letter case"
        if rendered is None and template.has_variables:
            names = ", ".join(v.key for v in template.variables)
            return f"Resource {template.source} uses {names}, which the request does not have"
    return None


def _principal_hint(values: tuple[str, ...], identity: PrincipalIdentity | None) -> str | None:
    """A likely near miss: a role ARN without its path, or a deleted principal's unique id."""
    if identity is None:
        return None
    for role in identity.values(PrincipalForm.ROLE):
        name = role.rsplit("/", 1)[-1]
        prefix = role.split(":role/", 1)[0]
        for value in values:
            if value != role and value == f"{prefix}:role/{name}":
                return f"Principal {value} lacks the role path of {role}"
    if any(v.startswith(("AROA", "AIDA")) for v in values):
        return "Principal shows a unique id: the named user or role was deleted (and recreated?)"
    return None


# --------------------------------------------------------------------------- policies


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledPolicy:
    """A policy document, compiled; `raw` is the parsed document (for remedies to patch)."""

    policy_id: str
    kind: PolicyKind
    version: str | None
    statements: tuple[CompiledStatement, ...]
    raw: Mapping[str, Any]
    _by_action: dict[str, tuple[CompiledStatement, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def statements_for_action(self, action: str) -> tuple[CompiledStatement, ...]:
        """The statements whose Action/NotAction covers `action` (memoised per action)."""
        key = action.lower()
        found = self._by_action.get(key)
        if found is None:
            found = tuple(s for s in self.statements if s.matches_action(action))
            self._by_action[key] = found
        return found


def compile_policy(document: Any, *, policy_id: str, kind: PolicyKind) -> CompiledPolicy:
    """Parse and compile a policy; any problem is a MalformedPolicyError naming the element."""
    doc = _load(document, policy_id)
    unknown = sorted(str(k) for k in doc if k not in _DOCUMENT_KEYS)
    if unknown:
        raise MalformedPolicyError(policy_id, unknown[0], "unknown policy element")
    version = doc.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        raise MalformedPolicyError(
            policy_id, "Version", f"{version!r} is not {VERSION_2012} or {VERSION_2008}"
        )
    if "Statement" not in doc:
        raise MalformedPolicyError(policy_id, "Statement", "missing")
    raw_statements = doc["Statement"]
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise MalformedPolicyError(policy_id, "Statement", "must be an object or a list")
    variables = version == VERSION_2012
    statements = tuple(
        _compile_statement(raw, index, policy_id=policy_id, kind=kind, variables=variables)
        for index, raw in enumerate(raw_statements)
    )
    return CompiledPolicy(
        policy_id=policy_id, kind=kind, version=version, statements=statements, raw=doc
    )


def _load(document: Any, policy_id: str) -> Mapping[str, Any]:
    if isinstance(document, bytes | bytearray):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPolicyError(policy_id, "Document", "not UTF-8 text") from None
    if isinstance(document, str):
        document = _parse_json(document, policy_id)
    if not isinstance(document, Mapping):
        raise MalformedPolicyError(policy_id, "Document", "must be a JSON object")
    return document


def _parse_json(text: str, policy_id: str) -> Any:
    """JSON text, or the URL-encoded JSON that IAM's GetPolicyVersion returns."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")) and "%" in stripped:
        stripped = unquote(stripped)
    try:
        return json.loads(stripped)
    except ValueError as error:
        raise MalformedPolicyError(policy_id, "Document", f"not valid JSON ({error})") from None


def _strings(raw: Any, policy_id: str, element: str) -> tuple[str, ...]:
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise MalformedPolicyError(policy_id, element, "must not be empty")
    if not all(isinstance(v, str) and v for v in values):
        raise MalformedPolicyError(policy_id, element, "values must be non-empty strings")
    return tuple(values)


def _one_of(raw: Mapping[str, Any], names: tuple[str, str], policy_id: str) -> str:
    present = [n for n in names if n in raw]
    if len(present) == 2:
        raise MalformedPolicyError(policy_id, names[0], f"both {names[0]} and {names[1]}")
    if not present:
        raise MalformedPolicyError(policy_id, names[0], f"missing {names[0]} or {names[1]}")
    return present[0]


def _compile_statement(
    raw: Any, index: int, *, policy_id: str, kind: PolicyKind, variables: bool
) -> CompiledStatement:
    if not isinstance(raw, Mapping):
        raise MalformedPolicyError(policy_id, "Statement", f"statement {index} is not an object")
    unknown = sorted(str(k) for k in raw if k not in _STATEMENT_KEYS)
    if unknown:
        raise MalformedPolicyError(policy_id, unknown[0], f"unknown element in statement {index}")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicyError(policy_id, "Sid", f"statement {index}: must be a string")
    effect = raw.get("Effect")
    if effect not in _EFFECTS:
        raise MalformedPolicyError(
            policy_id, "Effect", f"statement {index}: {effect!r} is not Allow or Deny"
        )
    action_key = _one_of(raw, ("Action", "NotAction"), policy_id)
    actions = _strings(raw[action_key], policy_id, action_key)
    for action in actions:
        if action != "*" and ":" not in action:
            raise MalformedPolicyError(
                policy_id, action_key, f"{action!r} lacks a service prefix (e.g. s3:)"
            )
    resource_key = _one_of(raw, ("Resource", "NotResource"), policy_id)
    resources = _strings(raw[resource_key], policy_id, resource_key)
    principal = _compile_principal_element(raw, index, policy_id=policy_id, kind=kind)
    condition = raw.get("Condition")
    conditions = (
        EMPTY_BLOCK
        if condition is None
        else compile_condition_block(condition, policy_id=policy_id, variables=variables)
    )
    return CompiledStatement(
        index=index,
        sid=sid,
        effect=effect,
        policy_id=policy_id,
        actions=ActionMatcher.compile(actions),
        actions_negated=action_key == "NotAction",
        resources=_resource_matcher(resources, variables=variables),
        resources_negated=resource_key == "NotResource",
        principal=principal,
        conditions=conditions,
        raw=raw,
    )


def _resource_matcher(resources: tuple[str, ...], *, variables: bool) -> ResourceMatcher:
    return ResourceMatcher.compile(parse_template(r, variables=variables) for r in resources)


def with_resource(
    statement: CompiledStatement, raw: Mapping[str, Any], *, version: str | None
) -> CompiledStatement:
    """`statement` with the Resource or NotResource element of `raw`, compiled as
    `compile_policy` compiles it in a document of `version`: for a statement whose other
    elements are `statement`'s (a MalformedPolicyError as compile_policy's for that element)."""
    key = _one_of(raw, ("Resource", "NotResource"), statement.policy_id)
    resources = _strings(raw[key], statement.policy_id, key)
    matcher = _resource_matcher(resources, variables=version == VERSION_2012)
    return CompiledStatement(  # not dataclasses.replace: this is on fix verification's path
        index=statement.index,
        sid=statement.sid,
        effect=statement.effect,
        policy_id=statement.policy_id,
        actions=statement.actions,
        actions_negated=statement.actions_negated,
        resources=matcher,
        resources_negated=key == "NotResource",
        principal=statement.principal,
        conditions=statement.conditions,
        raw=raw,
    )


def _compile_principal_element(
    raw: Mapping[str, Any], index: int, *, policy_id: str, kind: PolicyKind
) -> PrincipalElement | None:
    present = [n for n in ("Principal", "NotPrincipal") if n in raw]
    if len(present) == 2:
        raise MalformedPolicyError(policy_id, "Principal", "both Principal and NotPrincipal")
    if present and kind in _PRINCIPAL_FORBIDDEN:
        raise MalformedPolicyError(
            policy_id, present[0], f"statement {index}: not allowed in a {kind.value} policy"
        )
    if not present:
        if kind in _PRINCIPAL_REQUIRED:
            raise MalformedPolicyError(
                policy_id, "Principal", f"statement {index}: required in a {kind.value} policy"
            )
        return None
    return compile_principal(raw[present[0]], policy_id=policy_id, element_name=present[0])
