"""iam-simulate's condition-operator and resource-matching tables, run through our engine.

The corpus (AGPL) is read from `../shared/conformance/iam-simulate/` at test time and never
copied. Skipped when the folder is missing, failed when env `CI` is set and it is missing.
Where iam-simulate encodes its own interpretation rather than AWS's documented behaviour, the
case is an expected difference, listed below by name with the AWS page that decides it; such
a case fails if it starts to agree (so the list never goes stale).

Counts (run `pytest -s` to see them printed) are also in the engine section of the report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from chalicelib.engine.conditions import compile_condition_block
from chalicelib.engine.context import RequestContext
from chalicelib.engine.policy import PolicyKind, compile_policy
from chalicelib.model import MalformedPolicyError
from tests.shared import CORPUS

RESOURCE_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html"
    "#reference_policies_elements_resource_wildcards"
)
DATE_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
    "reference_policies_elements_condition_operators.html#Conditions_Date"
)

# Case name -> why AWS's documentation decides otherwise.
CONDITION_DIFFERENCES: dict[str, str] = {
    "DateEquals::should match dates to epochs": (
        f"AWS date operators take epoch time in seconds (aws:EpochTime); iam-simulate reads "
        f"1704067200000 as milliseconds. {DATE_DOC}"
    ),
}

RESOURCE_DIFFERENCES: dict[str, str] = {
    "should not match a wildcard product": (
        f"'*' in the resource part matches any characters, '/' included: "
        f"'*/12345' matches 'instance/12345'. {RESOURCE_DOC}"
    ),
    "should not match a wildcard product with a colon separator": (
        f"A '*' that ends a segment may expand beyond the colon: '*:12345' matches "
        f"'instance:12345'. {RESOURCE_DOC}"
    ),
}

# Whole families of resource cases that encode iam-simulate features rather than AWS rules.
WILDCARD_REQUEST = (
    "the request resource contains wildcards (iam-simulate's discovery of wildcard-only "
    "actions and resource patterns); an S3 request always names one concrete resource"
)
SHORT_ARN = (
    "the policy ARN has fewer than six parts: AWS documents no expansion of short ARNs, so "
    f"they match as written (segment wildcards per {RESOURCE_DOC}); iam-simulate's "
    "per-policy-type expansion and rejection rules are its own"
)

_KINDS = {
    None: PolicyKind.IDENTITY,
    "identity": PolicyKind.IDENTITY,
    "session": PolicyKind.SESSION,
    "pb": PolicyKind.BOUNDARY,
    "resource": PolicyKind.RESOURCE,
    "scp": PolicyKind.SCP,
    "rcp": PolicyKind.RCP,
    "vpce": PolicyKind.ENDPOINT,
}

_counts: dict[str, int] = {"passed": 0}


def _corpus_dir(sub: str) -> Path:
    path = CORPUS / sub
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"conformance corpus missing at {path} (CI is set)")
        pytest.skip(f"conformance corpus missing at {path}")
    return path


def _condition_cases() -> list[Any]:
    folder = CORPUS / "conditionOperatorTests"
    if not folder.exists():
        return [pytest.param(None, None, id="corpus-missing")]
    out = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        for case in data["cases"]:
            out.append(
                pytest.param(data["operator"], case, id=f"{data['operator']}::{case['name']}")
            )
    return out


def _resource_cases() -> list[Any]:
    path = CORPUS / "unitTables" / "resourceMatching.json"
    if not path.exists():
        return [pytest.param(None, None, id="corpus-missing")]
    data = json.loads(path.read_text())
    out = []
    for group in ("resourceTests", "notResourceTests"):
        for case in data[group]:
            out.append(pytest.param(group, case, id=f"{group}::{case['name']}"))
    return out


def _context(raw: dict[str, Any] | None) -> RequestContext:
    entries = {k: v if isinstance(v, list) else [v] for k, v in (raw or {}).items()}
    return RequestContext(entries)


def _record(actual: bool, expected: bool, difference: str | None) -> None:
    if difference is None:
        assert actual == expected
        _counts["passed"] += 1
    else:
        assert actual != expected, (
            f"now agrees with iam-simulate; drop the difference: {difference}"
        )
        label = {WILDCARD_REQUEST: "differs: wildcard request", SHORT_ARN: "differs: short ARN"}
        key = label.get(difference, "differs: named")
        _counts[key] = _counts.get(key, 0) + 1


@pytest.mark.parametrize(("operator", "case"), _condition_cases())
def test_condition_operator_case(operator: str | None, case: dict[str, Any] | None) -> None:
    _corpus_dir("conditionOperatorTests")
    assert operator is not None and case is not None
    # GIVEN a statement-style block: the test value is the request's value of one key
    block = {operator: {"test:Key": case["policyValues"]}}
    ctx = _context(case.get("requestContext")).with_entries({"test:Key": [case["testValue"]]})
    # WHEN it is compiled and evaluated (a value IAM would refuse never matches anything)
    try:
        compiled = compile_condition_block(block, policy_id="case", variables=True)
        actual = compiled.evaluate(ctx).matched
    except MalformedPolicyError:
        actual = False
    # THEN it agrees with the table, or differs where AWS's docs say otherwise
    _record(actual, case["expected"], CONDITION_DIFFERENCES.get(f"{operator}::{case['name']}"))


def _is_short_arn(pattern: str) -> bool:
    return pattern.startswith("arn:") and pattern.count(":") < 5


@pytest.mark.parametrize(("group", "case"), _resource_cases())
def test_resource_matching_case(group: str | None, case: dict[str, Any] | None) -> None:
    _corpus_dir("unitTables")
    assert group is not None and case is not None
    negated = group == "notResourceTests"
    patterns = case["notResourceStatements" if negated else "resourceStatements"]
    resource = case["resource"]["resource"]
    kind = _KINDS[case.get("policyType")]
    statement: dict[str, Any] = {
        "Effect": case.get("effect", "Allow"),
        "Action": "test:Action",
        ("NotResource" if negated else "Resource"): patterns,
    }
    if kind in (PolicyKind.RESOURCE, PolicyKind.RCP, PolicyKind.ENDPOINT):
        statement["Principal"] = "*"
    document = {"Version": "2012-10-17", "Statement": [statement]}
    policy = compile_policy(document, policy_id="case", kind=kind)
    actual = policy.statements[0].matches_resource(resource, _context(case.get("context")))
    difference = RESOURCE_DIFFERENCES.get(case["name"])
    if difference is None and ("*" in resource or "?" in resource):
        difference = WILDCARD_REQUEST if actual != case["expectMatch"] else None
    if difference is None and any(_is_short_arn(p) for p in patterns):
        difference = SHORT_ARN if actual != case["expectMatch"] else None
    _record(actual, case["expectMatch"], difference)


def test_conformance_counts_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the tally of the cases above (run last in this module by pytest's order)."""
    _corpus_dir("conditionOperatorTests")
    with capsys.disabled():
        print(f"\niam-simulate conformance: {_counts}")
    assert _counts["passed"] > 0
