"""The batch path's shortcuts in validating context entries give the schema's own verdicts."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from chalicelib.request import (
    _VALUES_ONLY_TYPED,
    _entry_key,
    _known_entry_conforms,
    _one_entry_conforms,
    _value_problem,
)

ENTRIES: list[Any] = [
    {"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": kind}
    for name in ("aws:SourceIp", "aws:PrincipalTag/team", "bad name", "nocolon", "", 7)
    for values in ([], ["10.0.0.1"], ["a", "b"], [1], ["a", None], [["x"]], [True])
    for kind in ("ip", "string", "stringList", "dateList", "arn", 3)
]


def test_the_schema_constrains_context_values_by_type_alone() -> None:
    assert _VALUES_ONLY_TYPED  # else every value is validated with its entry (still right)


@pytest.mark.parametrize("entry", ENTRIES)
def test_an_entry_verdict_is_the_schema_verdict(entry: Any) -> None:
    key = _entry_key(entry)
    if key is not None:
        assert _known_entry_conforms(key) == _one_entry_conforms(entry)


@pytest.mark.parametrize(
    "value",
    ["10.0.0.1", "::1", "fe80::1%eth0", "::ffff:1.2.3.4", "10.0.0.0/8", "10.0.0.1/8",
     "2001:db8::/32", "01.2.3.4", "10.0.0.256", "", "x", " 10.0.0.1", "1.2.3.4/33"],
)  # fmt: skip
def test_an_ip_value_is_accepted_exactly_when_it_is_an_address_or_a_block(value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
        valid = True
    except ValueError:
        valid = False
    assert (_value_problem("ip", value) is None) == valid
