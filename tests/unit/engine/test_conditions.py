"""Condition operators: truth tables from the IAM condition-operator docs, missing keys,
IfExists, set qualifiers, typed values and malformed blocks.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.engine.conditions import OPERATORS, compile_condition_block, split_operator
from chalicelib.engine.context import RequestContext
from chalicelib.model import MalformedPolicyError

KEY = "test:Key"


def holds(operator: str, policy: Any, actual: list[str] | None, **extra: list[str]) -> bool:
    """Evaluate `{operator: {KEY: policy}}` against a request where KEY has `actual`."""
    entries: dict[str, list[str]] = dict(extra)
    if actual is not None:
        entries[KEY] = actual
    block = compile_condition_block({operator: {KEY: policy}}, policy_id="p", variables=True)
    return block.evaluate(RequestContext(entries)).matched


# (operator, policy values, request values or None when absent, expected)
TRUTH_TABLE: list[tuple[str, Any, list[str] | None, bool]] = [
    # strings
    ("StringEquals", "prod", ["prod"], True),
    ("StringEquals", "prod", ["Prod"], False),
    ("StringEquals", "pro*", ["prod"], False),  # no wildcards in Equals
    ("StringEquals", ["a", "b"], ["b"], True),  # several policy values: OR
    ("StringNotEquals", "prod", ["dev"], True),
    ("StringNotEquals", ["a", "b"], ["b"], False),  # "none of them"
    ("StringNotEquals", ["a", "b"], ["c"], True),
    ("StringEqualsIgnoreCase", "PROD", ["prod"], True),
    ("StringEqualsIgnoreCase", "prod", ["dev"], False),
    ("StringNotEqualsIgnoreCase", "PROD", ["prod"], False),
    ("StringNotEqualsIgnoreCase", "PROD", ["dev"], True),
    ("StringLike", "home/*", ["home/alice/x"], True),
    ("StringLike", "home/?", ["home/ab"], False),
    ("StringLike", "Home/*", ["home/a"], False),  # case-sensitive
    ("StringNotLike", ["a*", "b*"], ["apple"], False),
    ("StringNotLike", ["a*", "b*"], ["cherry"], True),
    # numbers
    ("NumericEquals", "10", ["10.0"], True),
    ("NumericEquals", 10, ["11"], False),  # JSON number in the policy
    ("NumericNotEquals", ["10", "20"], ["10"], False),
    ("NumericNotEquals", "10", ["11"], True),
    ("NumericLessThan", "10", ["9.5"], True),
    ("NumericLessThan", "10", ["10"], False),
    ("NumericLessThanEquals", "10", ["10"], True),
    ("NumericLessThanEquals", "10", ["11"], False),
    ("NumericGreaterThan", "1000", ["1001"], True),
    ("NumericGreaterThan", "1000", ["1000"], False),
    ("NumericGreaterThanEquals", "1000", ["1000"], True),
    ("NumericGreaterThanEquals", "1000", ["999"], False),
    ("NumericEquals", "10", ["ten"], False),  # request value of the wrong type
    ("NumericNotEquals", "10", ["ten"], False),  # ... fails both ways
    # dates: ISO 8601 (UTC unless stated) and epoch seconds
    ("DateEquals", "2024-01-01", ["2024-01-01T00:00:00Z"], True),
    ("DateEquals", "2024-01-01T00:00:00Z", ["1704067200"], True),
    ("DateEquals", "2024-01-01T01:00:00+01:00", ["2024-01-01T00:00:00Z"], True),
    ("DateEquals", "2024-01-01", ["2024-01-01T00:00:01Z"], False),
    ("DateNotEquals", "2024-01-01", ["2024-01-02"], True),
    ("DateNotEquals", "2024-01-01", ["2024-01-01T00:00:00Z"], False),
    ("DateLessThan", "2024-06-01T00:00:00Z", ["2024-05-31T23:59:59Z"], True),
    ("DateLessThan", "2024-06-01T00:00:00Z", ["2024-06-01T00:00:00Z"], False),
    ("DateLessThanEquals", "2024-06-01T00:00:00Z", ["2024-06-01T00:00:00Z"], True),
    ("DateLessThanEquals", "2024-06-01T00:00:00Z", ["2024-06-01T00:00:01Z"], False),
    ("DateGreaterThan", "2024-06-01T00:00:00Z", ["2024-06-01T00:00:01Z"], True),
    ("DateGreaterThan", "2024-06-01T00:00:00Z", ["2024-06-01T00:00:00Z"], False),
    ("DateGreaterThanEquals", "2024-06-01", ["2024-06-01T00:00:00Z"], True),
    ("DateGreaterThanEquals", "2024-06-01", ["2024-05-31"], False),
    ("DateLessThan", "2024-06-01", ["yesterday"], False),
    # booleans: JSON true is "true", case-insensitive
    ("Bool", True, ["true"], True),
    ("Bool", "false", ["FALSE"], True),
    ("Bool", "false", ["true"], False),
    ("Bool", "true", ["yes"], False),
    # binary (base64)
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", ["QmluYXJ5VmFsdWU="], True),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", ["T3RoZXI="], False),
    # IP addresses, IPv4 and IPv6
    ("IpAddress", "203.0.113.0/24", ["203.0.113.7"], True),
    ("IpAddress", "203.0.113.0/24", ["198.51.100.1"], False),
    ("IpAddress", "203.0.113.7", ["203.0.113.7"], True),  # a bare address is a /32
    ("IpAddress", "2001:db8::/32", ["2001:db8:85a3::8a2e:370:7334"], True),
    ("IpAddress", "2001:db8::/32", ["2001:db9::1"], False),
    ("IpAddress", "203.0.113.0/24", ["2001:db8::1"], False),  # other family never matches
    ("IpAddress", "203.0.113.0/24", ["not-an-ip"], False),
    ("NotIpAddress", "203.0.113.0/24", ["198.51.100.1"], True),
    ("NotIpAddress", ["203.0.113.0/24", "2001:db8::/32"], ["2001:db8::1"], False),
    ("NotIpAddress", "203.0.113.0/24", ["2001:db8::1"], True),
    ("NotIpAddress", "203.0.113.0/24", ["not-an-ip"], False),
    # ARNs: six parts compared separately, wildcards allowed in both operators
    (
        "ArnEquals",
        "arn:aws:iam::111122223333:role/app/*",
        ["arn:aws:iam::111122223333:role/app/R"],
        True,
    ),
    (
        "ArnEquals",
        "arn:aws:iam::111122223333:role/R",
        ["arn:aws:iam::111122223333:role/app/R"],
        False,
    ),
    ("ArnLike", "arn:aws:iam::*:role/R", ["arn:aws:iam::444455556666:role/R"], True),
    ("ArnLike", "arn:aws:iam::111122223333:role/r", ["arn:aws:iam::111122223333:role/R"], False),
    ("ArnLike", "arn:aws:s3:::b", ["not-an-arn"], False),
    ("ArnNotEquals", "arn:aws:iam::111122223333:root", ["arn:aws:iam::111122223333:root"], False),
    ("ArnNotEquals", "arn:aws:iam::111122223333:root", ["arn:aws:iam::444455556666:root"], True),
    ("ArnNotLike", "arn:aws:iam::111122223333:*", ["arn:aws:iam::111122223333:user/a"], False),
    ("ArnNotLike", "arn:aws:iam::111122223333:*", ["arn:aws:iam::444455556666:user/a"], True),
    ("ArnNotLike", "arn:aws:s3:::b", ["not-an-arn"], False),
    # Null: "true" means the key must be absent
    ("Null", "true", None, True),
    ("Null", "true", ["x"], False),
    ("Null", False, ["x"], True),
    ("Null", "false", None, False),
    ("Null", "true", [], True),  # a key with no value counts as absent
]


@pytest.mark.parametrize(("operator", "policy", "actual", "expected"), TRUTH_TABLE)
def test_operator_truth_table(operator: str, policy: Any, actual: Any, expected: bool) -> None:
    assert holds(operator, policy, actual) is expected


def test_every_registered_operator_has_truth_table_cases() -> None:
    # GIVEN the operators in the registry
    covered = {row[0] for row in TRUTH_TABLE}
    # THEN each has positive and negative rows
    assert covered == set(OPERATORS)
    for name in OPERATORS:
        outcomes = {row[3] for row in TRUTH_TABLE if row[0] == name}
        assert outcomes == {True, False}, name


# --------------------------------------------------------------------------- missing keys

POSITIVE = [n for n, op in OPERATORS.items() if not op.negated and n != "Null"]
NEGATED = [n for n, op in OPERATORS.items() if op.negated]
SAMPLE = {
    "String": "x",
    "Numeric": "1",
    "Date": "2024-01-01",
    "Bool": "true",
    "Binary": "eA==",
    "IpAddress": "10.0.0.0/8",
    "NotIpAddress": "10.0.0.0/8",
    "Arn": "arn:aws:s3:::b",
}


def _sample(operator: str) -> str:
    return next(v for prefix, v in SAMPLE.items() if operator.startswith(prefix))


@pytest.mark.parametrize("operator", POSITIVE)
def test_absent_key_makes_a_positive_operator_false(operator: str) -> None:
    assert holds(operator, _sample(operator), None) is False


@pytest.mark.parametrize("operator", NEGATED)
def test_absent_key_makes_a_negated_operator_true(operator: str) -> None:
    assert holds(operator, _sample(operator), None) is True


@pytest.mark.parametrize("operator", POSITIVE + NEGATED)
def test_absent_key_makes_ifexists_true(operator: str) -> None:
    assert holds(operator + "IfExists", _sample(operator), None) is True


def test_ifexists_still_checks_a_present_key() -> None:
    assert holds("StringEqualsIfExists", "a", ["b"]) is False
    assert holds("StringEqualsIfExists", "a", ["a"]) is True


def test_bool_false_does_not_match_long_term_credentials_without_the_key() -> None:
    # aws:MultiFactorAuthPresent is absent for access keys: Bool false does not deny them,
    # BoolIfExists false does (the classic MFA-policy trap).
    assert holds("Bool", "false", None) is False
    assert holds("BoolIfExists", "false", None) is True


def test_not_ip_address_deny_catches_requests_through_a_vpc_endpoint() -> None:
    # aws:SourceIp is absent via a VPC endpoint, so NotIpAddress is true.
    assert holds("NotIpAddress", "203.0.113.0/24", None) is True


# --------------------------------------------------------------------------- set operators


@pytest.mark.parametrize(
    ("operator", "policy", "actual", "expected"),
    [
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
        ("ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False),
        ("ForAllValues:StringEquals", ["a"], None, True),  # absent: true
        ("ForAllValues:StringEquals", ["a"], [], True),  # empty: true
        ("ForAnyValue:StringEquals", ["a", "b"], ["c", "b"], True),
        ("ForAnyValue:StringEquals", ["a", "b"], ["c", "d"], False),
        ("ForAnyValue:StringEquals", ["a"], None, False),  # absent: false
        ("ForAllValues:StringNotLike", "key1*", ["key1:legal"], False),
        ("ForAllValues:StringNotLike", "key1*", ["key2:audit"], True),
        ("ForAllValues:StringNotLike", "key1*", ["key2:a", "key1:b"], False),
        ("ForAnyValue:StringNotEquals", ["a"], ["a", "b"], True),
        ("ForAnyValue:StringNotEquals", ["a"], ["a"], False),
        ("ForAnyValue:StringLikeIfExists", ["a*"], None, True),
        ("forallvalues:stringequals", ["a"], ["a"], True),  # operator names ignore case
    ],
)
def test_set_operators(operator: str, policy: Any, actual: Any, expected: bool) -> None:
    assert holds(operator, policy, actual) is expected


def test_multi_valued_key_without_qualifier_matches_any_value() -> None:
    assert holds("StringEquals", "b", ["a", "b"]) is True
    assert holds("StringNotEquals", "b", ["a", "b"]) is False
    assert holds("StringNotEquals", "c", ["a", "b"]) is True


# --------------------------------------------------------------------------- blocks


def test_keys_under_one_operator_are_anded() -> None:
    block = compile_condition_block(
        {"StringEquals": {"a:x": "1", "a:y": "2"}}, policy_id="p", variables=True
    )
    assert block.evaluate(RequestContext({"a:x": ["1"], "a:y": ["2"]})).matched
    result = block.evaluate(RequestContext({"a:x": ["1"], "a:y": ["3"]}))
    assert not result.matched
    assert result.decisive is not None and result.decisive.key == "a:y"


def test_operators_are_anded_and_the_first_failure_is_decisive() -> None:
    # GIVEN two operators, the second one failing
    block = compile_condition_block(
        {"Bool": {"aws:SecureTransport": "true"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        policy_id="p",
        variables=True,
    )
    # WHEN the request comes from outside 10/8
    result = block.evaluate(
        RequestContext({"aws:SecureTransport": ["true"], "aws:SourceIp": ["192.0.2.1"]})
    )
    # THEN the IP condition is reported with both sides
    assert not result.matched
    assert result.decisive is not None
    assert result.decisive.to_dict() == {
        "key": "aws:SourceIp",
        "operator": "IpAddress",
        "expected": ["10.0.0.0/8"],
        "actual": ["192.0.2.1"],
    }


def test_matched_block_reports_its_first_condition_for_deny_explanations() -> None:
    block = compile_condition_block(
        {"Bool": {"aws:SecureTransport": False}}, policy_id="p", variables=True
    )
    result = block.evaluate(RequestContext({"AWS:SecureTransport": ["false"]}))
    assert result.matched
    assert result.decisive is not None
    assert (result.decisive.key, result.decisive.expected, result.decisive.actual) == (
        "aws:SecureTransport",
        ("false",),
        ("false",),
    )


def test_absent_key_is_reported_as_none() -> None:
    block = compile_condition_block(
        {"StringEquals": {"aws:PrincipalTag/team": "data"}}, policy_id="p", variables=True
    )
    result = block.evaluate(RequestContext({}))
    assert result.decisive is not None and result.decisive.actual is None


def test_condition_key_names_ignore_case() -> None:
    assert holds("StringEquals", "x", None, **{"TEST:KEY": ["x"]}) is True


# --------------------------------------------------------------------------- variables


def test_string_condition_substitutes_variables() -> None:
    assert (
        holds(
            "StringLike", "home/${aws:username}/*", ["home/alice/a"], **{"aws:username": ["alice"]}
        )
        is True
    )


def test_substituted_text_is_literal_in_like_patterns() -> None:
    assert (
        holds("StringLike", "x${aws:username}", ["xBobTwo"], **{"aws:username": ["Bob*"]}) is False
    )
    assert holds("StringLike", "x${*}", ["x*"]) is True
    assert holds("StringLike", "x${*}", ["xy"]) is False


def test_unresolvable_variable_matches_nothing_either_way() -> None:
    assert holds("StringEquals", "${aws:username}", ["a"]) is False
    assert holds("StringNotEquals", "${aws:username}", ["a"]) is False


def test_numeric_operators_take_variables_literally_so_they_are_malformed() -> None:
    with pytest.raises(MalformedPolicyError):
        holds("NumericLessThan", "${s3:max-keys}", ["1"])


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "block",
    [
        {"StringEqualz": {"k": "v"}},
        {"ForSomeValues:StringEquals": {"k": "v"}},
        {"NullIfExists": {"k": "true"}},
        {"ForAllValues:Null": {"k": "true"}},
        {"StringEquals": {}},
        {"StringEquals": {"k": []}},
        {"StringEquals": {"k": {"nested": 1}}},
        {"StringEquals": "v"},
        {"NumericEquals": {"k": "ten"}},
        {"DateLessThan": {"k": "last tuesday"}},
        {"Bool": {"k": "yes"}},
        {"IpAddress": {"k": "10.0.0.300/8"}},
        {"BinaryEquals": {"k": "!!!"}},
        {"ArnLike": {"k": "not-an-arn"}},
        {"Null": {"k": "maybe"}},
        ["StringEquals"],
    ],
)
def test_malformed_blocks_name_the_condition_element(block: Any) -> None:
    with pytest.raises(MalformedPolicyError) as info:
        compile_condition_block(block, policy_id="pol-1", variables=True)
    assert info.value.element == "Condition"
    assert info.value.policy_id == "pol-1"


def test_split_operator_reads_qualifier_and_ifexists() -> None:
    assert split_operator("ForAnyValue:StringLikeIfExists") == ("ForAnyValue", "StringLike", True)
    assert split_operator("Null") == ("", "Null", False)


# --------------------------------------------------------------------------- properties

_TEXT = st.text(alphabet="ab*?", min_size=0, max_size=4)


@given(policy=st.lists(_TEXT, min_size=1, max_size=3), actual=_TEXT)
def test_negated_string_operators_are_the_negation_of_their_twin(
    policy: list[str], actual: str
) -> None:
    for positive, negated in [
        ("StringEquals", "StringNotEquals"),
        ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
        ("StringLike", "StringNotLike"),
    ]:
        assert holds(negated, policy, [actual]) is not holds(positive, policy, [actual])


@given(value=st.integers(min_value=-(10**6), max_value=10**6), bound=st.integers(-50, 50))
def test_numeric_comparisons_agree_with_python(value: int, bound: int) -> None:
    assert holds("NumericLessThan", str(bound), [str(value)]) is (value < bound)
    assert holds("NumericGreaterThanEquals", bound, [str(value)]) is (value >= bound)
