"""Every suggested patch lets the scenario's request through, and nothing more."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.diagnose.patches import apply_patch, apply_to_request, policy_document
from chalicelib.diagnose.remedies import owner_side_allows
from chalicelib.engine import evaluate
from chalicelib.model import AccessRequest, Operation, Principal, PrincipalType, Remedy
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.scenarios import Scenario, load_scenario, scenario_paths, with_gaps

WITH_REMEDY = [p for p in scenario_paths() if load_scenario(p).expected["remedy"]]


def _patched(scenario: Scenario, remedy: Remedy) -> tuple[AccessRequest, Any]:
    assert remedy.patch is not None
    if remedy.patch["kind"] in ("request", "session-policy"):
        return apply_to_request(scenario.request, remedy.patch), scenario.snapshot
    return scenario.request, load_snapshot(apply_patch(scenario.snapshot.document, remedy.patch))


def _patches(path: Path) -> list[tuple[Scenario, Remedy]]:
    scenario = load_scenario(path)
    return [(scenario, r) for r in scenario.finding().remedies if r.patch is not None]


VERIFIED_CASES = with_gaps(WITH_REMEDY, frozenset())


@pytest.mark.parametrize("path", VERIFIED_CASES)
def test_scenario_gets_a_verified_patch(path: Path) -> None:
    remedies = [r for _, r in _patches(path)]
    assert any(r.verified for r in remedies), [r.summary for r in remedies]
    for remedy in remedies:
        if remedy.patch and remedy.patch["kind"] != "request":
            # An IAM Identity Center role is AWS's to change: its permission set is named instead.
            assert remedy.cli or "permission set's inline policy" in remedy.summary, remedy


@pytest.mark.parametrize("path", WITH_REMEDY, ids=[p.name for p in WITH_REMEDY])
def test_applying_each_verified_patch_allows_the_request(path: Path) -> None:
    for scenario, remedy in _patches(path):
        if not remedy.verified:
            continue
        request, snapshot = _patched(scenario, remedy)
        assert owner_side_allows(request, evaluate(request, snapshot), snapshot), remedy.summary


def _stranger(request: AccessRequest) -> AccessRequest:
    arn = f"arn:aws:iam::{request.principal.account_id}:user/someone-else"
    who = Principal(
        type=PrincipalType.IAM_USER,
        requester_arn=arn,
        principal_arn=arn,
        account_id=request.principal.account_id,
    )
    context = tuple(e for e in request.context if not e.name.lower().startswith("aws:principal"))
    return replace(request, principal=who, context=context)


def _other_bucket(request: AccessRequest) -> AccessRequest:
    op = request.operations[0]
    key = "other/key" if op.key else None
    arn = "arn:aws:s3:::unrelated-bucket" + (f"/{key}" if key else "")
    other = Operation(action=op.action, resource_arn=arn, bucket="unrelated-bucket", key=key)
    return replace(request, operations=(other,), kms_key_arn=None)


@pytest.mark.parametrize("path", WITH_REMEDY, ids=[p.name for p in WITH_REMEDY])
def test_no_patch_opens_access_to_other_principals_or_buckets(path: Path) -> None:
    for scenario, remedy in _patches(path):
        request, snapshot = _patched(scenario, remedy)
        for probe in (_stranger(request), _other_bucket(request)):
            before = evaluate(probe, scenario.snapshot).allowed
            assert before or not evaluate(probe, snapshot).allowed, remedy.summary


def _statements(document: Any) -> list[Any]:
    if document is None:
        return []
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


@pytest.mark.parametrize("path", WITH_REMEDY, ids=[p.name for p in WITH_REMEDY])
def test_added_statements_name_no_wildcard_principal_action_or_resource(path: Path) -> None:
    for scenario, remedy in _patches(path):
        patch = remedy.patch
        assert patch is not None
        if patch["kind"] != "policy":
            continue
        before = _statements(policy_document(scenario.snapshot.document, patch["policy"]))
        added = [s for s in _statements(patch["document"]) if s not in before]
        assert added, "a policy patch changes at least one statement"
        # Narrowing a Deny grants nothing by itself; the probes above check its reach.
        for statement in (s for s in added if s.get("Effect") == "Allow"):
            # A corrected statement may keep a wildcard principal it already had.
            had = [b for b in before if b.get("Sid") == statement.get("Sid")]
            named = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn")
            if not any(b.get("Principal") == statement.get("Principal") for b in had):
                # "*" only with an exact aws:PrincipalArn (the form endpoint policies require)
                wildcard = statement.get("Principal") in ("*", {"AWS": "*"})
                assert not wildcard or (named and "*" not in str(named))
            assert statement.get("Action") not in ("*", "s3:*", ["*"], ["s3:*"])
            if not patch["policy"].startswith("key-policy:"):
                resources = statement.get("Resource", [])
                assert "*" not in (resources if isinstance(resources, list) else [resources])
