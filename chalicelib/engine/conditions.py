"""Condition operators and the evaluation of a statement's Condition block.

Pure: standard library only. Operators live in `OPERATORS`, filled by the `@operator`
decorator: one comparison function per positive operator (one request value against one
policy value), registered with its negated twin. `...IfExists` and the `ForAllValues:` /
`ForAnyValue:` set qualifiers are modifiers parsed from the operator name.

AWS rules implemented here
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):
- Several operators in a block, and several keys under one operator, are ANDed; several
  values for one key are ORed. A negated operator is the negation of its positive twin, so
  `StringNotEquals` with several values means "none of them".
- A key absent from the request (or present with no value): positive operators are false,
  negated operators true, `...IfExists` true, `ForAllValues:` true, `ForAnyValue:` false;
  `Null` tests presence (`true`: the key must be absent).
- A key with several values and no set qualifier matches when any value matches (negated:
  when none does).
- Policy values may be JSON strings, numbers or booleans (`true` is `"true"`). A value that is
  not valid for its operator's type is a MalformedPolicyDocument at compile time; a request
  value, or a value substituted from a variable, that is not valid for the type makes the
  comparison fail both ways (neither the operator nor its negation matches).
- Policy variables are substituted in String, Bool and Arn operators only (the docs list
  them as not supported in Numeric, Date, Binary and IP operators).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..arn import parse_arn
from ..lean_dataclass import dataclass
from ..model import ConditionFailure, MalformedPolicyError
from .context import RequestContext, normalise_key
from .matching import arn_regex, glob_regex, has_wildcard
from .variables import Piece, Template, literal, parse_template

FOR_ALL_VALUES = "ForAllValues"
FOR_ANY_VALUE = "ForAnyValue"
IF_EXISTS = "IfExists"


class InvalidValue(ValueError):
    """A value that is not valid for an operator's type."""


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class ValueType:
    """How the values of one operator family are read.

    `policy` turns resolved policy-value pieces into the compared form, `request` does the
    same for a request value; both raise InvalidValue.
    """

    name: str
    policy: Callable[[tuple[Piece, ...]], object]
    request: Callable[[str], object]
    variables: bool


def _text(pieces: tuple[Piece, ...]) -> str:
    return "".join(p.text for p in pieces)


def _number(text: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidValue(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise InvalidValue(f"{text!r} is not a finite number")
    return number


_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


def _date(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 date/time (UTC unless stated) or epoch seconds."""
    text = text.strip()
    if _EPOCH.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{text!r} is not an ISO 8601 date or epoch seconds") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low not in ("true", "false"):
        raise InvalidValue(f"{text!r} is not true or false")
    return low == "true"


def _binary(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue(f"{text!r} is not base64") from None


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _network(text: str) -> _Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise InvalidValue(f"{text!r} is not an IP address or CIDR block") from None


def _address(text: str) -> _Address:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise InvalidValue(f"{text!r} is not an IP address") from None


def _arn_pattern(pieces: tuple[Piece, ...]) -> re.Pattern[str]:
    text = _text(pieces)
    if (
        text != "*"
        and parse_arn(text) is None
        and not (text.startswith("arn:") and has_wildcard(pieces))
    ):
        raise InvalidValue(f"{text!r} is not an ARN")
    return arn_regex(pieces)


def _arn(text: str) -> str:
    if parse_arn(text) is None:
        raise InvalidValue(f"{text!r} is not an ARN")
    return text


STRING = ValueType("string", _text, str, variables=True)
STRING_IGNORE_CASE = ValueType(
    "string", lambda p: _text(p).casefold(), lambda t: t.casefold(), variables=True
)
STRING_PATTERN = ValueType("string", glob_regex, str, variables=True)
NUMBER = ValueType("numeric", lambda p: _number(_text(p)), _number, variables=False)
DATE = ValueType("date", lambda p: _date(_text(p)), _date, variables=False)
BOOLEAN = ValueType("boolean", lambda p: _bool(_text(p)), _bool, variables=True)
BINARY = ValueType("binary", lambda p: _binary(_text(p)), _binary, variables=False)
IP = ValueType("ip", lambda p: _network(_text(p)), _address, variables=False)
ARN = ValueType("arn", _arn_pattern, _arn, variables=True)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True, slots=True)
class Operator:
    """A base operator (no qualifier, no IfExists): its type and comparison."""

    name: str
    value_type: ValueType
    compare: Callable[[Any, Any], bool]  # (request value, policy value), both parsed
    negated: bool = False


OPERATORS: dict[str, Operator] = {}
NULL = "Null"


def operator(
    name: str, *, value_type: ValueType, negation: str | None = None
) -> Callable[[Callable[[Any, Any], bool]], Callable[[Any, Any], bool]]:
    """Register `name` (and its `negation`) with the decorated comparison function."""

    def register(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
        OPERATORS[name] = Operator(name, value_type, compare)
        if negation is not None:
            OPERATORS[negation] = Operator(negation, value_type, compare, negated=True)
        return compare

    return register


@operator("StringEquals", value_type=STRING, negation="StringNotEquals")
@operator(
    "StringEqualsIgnoreCase", value_type=STRING_IGNORE_CASE, negation="StringNotEqualsIgnoreCase"
)
@operator("NumericEquals", value_type=NUMBER, negation="NumericNotEquals")
@operator("DateEquals", value_type=DATE, negation="DateNotEquals")
@operator("Bool", value_type=BOOLEAN)
@operator("BinaryEquals", value_type=BINARY)
def _equals(actual: object, expected: object) -> bool:
    return actual == expected


@operator("StringLike", value_type=STRING_PATTERN, negation="StringNotLike")
@operator("ArnLike", value_type=ARN, negation="ArnNotLike")
@operator("ArnEquals", value_type=ARN, negation="ArnNotEquals")  # same as ArnLike per the docs
def _like(actual: str, expected: re.Pattern[str]) -> bool:
    return expected.fullmatch(actual) is not None


@operator("NumericLessThan", value_type=NUMBER)
@operator("DateLessThan", value_type=DATE)
def _less_than(actual: Any, expected: Any) -> bool:
    return bool(actual < expected)


@operator("NumericLessThanEquals", value_type=NUMBER)
@operator("DateLessThanEquals", value_type=DATE)
def _less_than_equals(actual: Any, expected: Any) -> bool:
    return bool(actual <= expected)


@operator("NumericGreaterThan", value_type=NUMBER)
@operator("DateGreaterThan", value_type=DATE)
def _greater_than(actual: Any, expected: Any) -> bool:
    return bool(actual > expected)


@operator("NumericGreaterThanEquals", value_type=NUMBER)
@operator("DateGreaterThanEquals", value_type=DATE)
def _greater_than_equals(actual: Any, expected: Any) -> bool:
    return bool(actual >= expected)


@operator("IpAddress", value_type=IP, negation="NotIpAddress")
def _in_network(actual: _Address, expected: _Network) -> bool:
    return actual.version == expected.version and actual in expected


@operator(NULL, value_type=ValueType("boolean", BOOLEAN.policy, _bool, variables=False))
def _null(actual: bool, expected: bool) -> bool:
    """`actual` is True when the key is absent; evaluated specially, see `Condition`."""
    return actual == expected


# --------------------------------------------------------------------------- compiled conditions

_UNPARSED = object()  # a policy value with variables: parsed after substitution
MAX_ANSWERS = 256  # answers remembered per condition (a key read with many values: the first)


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """Whether a Condition block matched, and the condition that decided it.

    `decisive` is the first condition that failed when not matched, the first condition of
    the block when matched, and None when the statement has no Condition.
    """

    matched: bool
    decisive: ConditionFailure | None = None


NO_CONDITION = ConditionResult(matched=True)


@dataclass(frozen=True, slots=True)
class Condition:
    """One (operator, key) pair of a Condition block, compiled."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    key: str  # as written
    lookup: str  # normalised key
    base: Operator
    qualifier: str  # "", FOR_ALL_VALUES or FOR_ANY_VALUE
    if_exists: bool
    values: tuple[Template, ...]
    parsed: tuple[object, ...]
    # Answers by the values of `lookup`, when no policy value has a variable (the answer is then
    # a function of those values alone); None: not remembered.
    answers: dict[tuple[str, ...] | None, bool] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def expected(self) -> tuple[str, ...]:
        return tuple(t.source for t in self.values)

    @property
    def reads(self) -> frozenset[str]:
        """The (normalised) context keys whose values can change the answer."""
        return frozenset((self.lookup, *(v.lookup for t in self.values for v in t.variables)))

    def failure(self, ctx: RequestContext) -> ConditionFailure:
        """The condition as an explanation reports it, with the request's values.

        The values only go into the explanation, never into a decision: they are read past a
        recording context (`hits.TracingContext`), so a remembered explanation is not tied to
        them (`explanations.explain` puts the next request's values in).
        """
        return ConditionFailure(
            key=self.key,
            operator=self.operator,
            expected=self.expected,
            actual=RequestContext.lookup(ctx, self.lookup),
        )

    def evaluate(self, ctx: RequestContext) -> bool:
        if ctx.traced:  # a decision being recorded: its answer, not the raw context, is kept
            return ctx.traced_answer(self, self.answer)
        return self.answer(ctx)

    def answer(self, ctx: RequestContext) -> bool:
        """Whether the condition holds: a function of the context alone."""
        actual = ctx.lookup(self.lookup)
        answers = self.answers
        if answers is None:
            return self._answer(actual, ctx)
        found = answers.get(actual)
        if found is None:
            found = self._answer(actual, ctx)
            if len(answers) < MAX_ANSWERS:
                answers[actual] = found
        return found

    def _answer(self, actual: tuple[str, ...] | None, ctx: RequestContext) -> bool:
        absent = not actual
        if self.base.name == NULL:
            return any(expected == absent for expected in self.parsed)  # "true": must be absent
        if absent:
            if self.if_exists or self.qualifier == FOR_ALL_VALUES:
                return True
            if self.qualifier == FOR_ANY_VALUE:
                return False
            return self.base.negated
        assert actual is not None
        expected, complete = self._expected(ctx)
        results = [self._one(value, expected, complete) for value in actual]
        if self.qualifier == FOR_ALL_VALUES or (not self.qualifier and self.base.negated):
            return all(results)
        return any(results)

    def _expected(self, ctx: RequestContext) -> tuple[list[object], bool]:
        """The parsed policy values; `complete` is False when one could not be used."""
        out: list[object] = []
        complete = True
        for template, parsed in zip(self.values, self.parsed, strict=True):
            if parsed is not _UNPARSED:
                out.append(parsed)
                continue
            pieces = template.resolve(ctx)
            if pieces is None:
                complete = False
                continue
            try:
                out.append(self.base.value_type.policy(pieces))
            except InvalidValue:
                complete = False
        return out, complete

    def _one(self, value: str, expected: list[object], complete: bool) -> bool:
        """Whether one request value satisfies the operator (negation included)."""
        try:
            parsed = self.base.value_type.request(value)
        except InvalidValue:
            return False
        hit = any(self.base.compare(parsed, e) for e in expected)
        if self.base.negated:
            return not hit and complete
        return hit


@dataclass(frozen=True, slots=True)
class ConditionBlock:
    """A statement's whole Condition element, compiled."""

    conditions: tuple[Condition, ...]

    def evaluate(self, ctx: RequestContext) -> ConditionResult:
        if not self.conditions:
            return NO_CONDITION
        for condition in self.conditions:
            if not condition.evaluate(ctx):
                return ConditionResult(matched=False, decisive=condition.failure(ctx))
        return ConditionResult(matched=True, decisive=self.conditions[0].failure(ctx))

    def holds(self, ctx: RequestContext) -> bool:
        """Whether every condition holds (the verdict alone, without the explanation)."""
        if not self.conditions:
            return True
        return all(condition.evaluate(ctx) for condition in self.conditions)

    def failures(self, ctx: RequestContext) -> tuple[ConditionFailure, ...]:
        """Every condition that does not hold (for explanations)."""
        return tuple(c.failure(ctx) for c in self.conditions if not c.evaluate(ctx))


EMPTY_BLOCK = ConditionBlock(())


def split_operator(name: str) -> tuple[str, str, bool]:
    """(qualifier, base operator, if_exists) of an operator name; raises KeyError if unknown."""
    qualifier = ""
    rest = name
    head, sep, tail = name.partition(":")
    if sep:
        qualifier = {
            FOR_ALL_VALUES.lower(): FOR_ALL_VALUES,
            FOR_ANY_VALUE.lower(): FOR_ANY_VALUE,
        }[head.lower()]
        rest = tail
    if_exists = rest.lower().endswith(IF_EXISTS.lower()) and rest.lower() != "ifexists"
    if if_exists:
        rest = rest[: -len(IF_EXISTS)]
    by_lower = {k.lower(): k for k in OPERATORS}
    base = by_lower[rest.lower()]
    if base == NULL and (qualifier or if_exists):
        raise KeyError(name)
    return qualifier, base, if_exists


def compile_condition_block(block: Any, *, policy_id: str, variables: bool) -> ConditionBlock:
    """Compile a Condition element; MalformedPolicyError names what is wrong."""

    def malformed(message: str) -> MalformedPolicyError:
        return MalformedPolicyError(policy_id, "Condition", message)

    if not isinstance(block, Mapping):
        raise malformed("must be an object of operator -> {key: values}")
    conditions: list[Condition] = []
    for op_name, keys in block.items():
        if not isinstance(op_name, str):
            raise malformed(f"operator {op_name!r} is not a string")
        try:
            qualifier, base_name, if_exists = split_operator(op_name)
        except KeyError:
            raise malformed(f"unknown condition operator {op_name!r}") from None
        if not isinstance(keys, Mapping) or not keys:
            raise malformed(f"{op_name} must map at least one condition key to values")
        base = OPERATORS[base_name]
        for key, raw in keys.items():
            if not isinstance(key, str) or not key:
                raise malformed(f"{op_name} has an empty or non-string condition key")
            conditions.append(
                _compile_condition(
                    op_name, qualifier, base, if_exists, key, raw, malformed, variables
                )
            )
    return ConditionBlock(tuple(conditions))


def _compile_condition(
    op_name: str,
    qualifier: str,
    base: Operator,
    if_exists: bool,
    key: str,
    raw: Any,
    malformed: Callable[[str], MalformedPolicyError],
    variables: bool,
) -> Condition:
    texts = [_value_text(v) for v in (raw if isinstance(raw, list) else [raw])]
    if not texts:
        raise malformed(f"{op_name} {key}: no values")
    if any(t is None for t in texts):
        raise malformed(f"{op_name} {key}: values must be strings, numbers or booleans")
    use_variables = variables and base.value_type.variables
    templates = tuple(
        parse_template(t, variables=use_variables) if use_variables else literal(t)
        for t in texts
        if t is not None
    )
    parsed: list[object] = []
    for template in templates:
        if template.has_variables:
            parsed.append(_UNPARSED)
            continue
        try:
            parsed.append(base.value_type.policy(template.parts))  # type: ignore[arg-type]
        except InvalidValue as exc:
            raise malformed(f"{op_name} {key}: {exc} ({base.value_type.name} expected)") from None
    return Condition(
        operator=op_name,
        key=key,
        lookup=normalise_key(key),
        base=base,
        qualifier=qualifier,
        if_exists=if_exists,
        values=templates,
        parsed=tuple(parsed),
        answers=None if any(t.has_variables for t in templates) else {},
    )


def _value_text(value: Any) -> str | None:
    """A JSON condition value as the text IAM compares (`true` -> "true", 10 -> "10")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None
