"""Every fix offered on a golden scenario: applied to the snapshot, it lets the request through,
opens nothing to other principals (also ones that already hold IAM grants), and, for a
policy-only fix, a second evaluator (the iam-simulate oracle) agrees with our engine.

The oracle is a Node process outside the project (/work/shared/tools/iam-simulate-oracle, AGPL:
run as a separate process, nothing copied). Tests that need it skip, saying why, when it cannot
start: CI never depends on it. Documented differences between iam-simulate and AWS are listed in
/work/shared/conformance/iam-simulate/README.md; `KNOWN_DIFFERENCES` names the ones met here.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.diagnose.patches import apply_patch, apply_to_request, policy_document
from chalicelib.diagnose.remedies import owner_side_allows
from chalicelib.engine import evaluate
from chalicelib.engine.evidence import principal_evidence
from chalicelib.model import AccessRequest, Principal, PrincipalType, Remedy, Verdict
from chalicelib.snapshot import Snapshot, load_snapshot
from tests.unit.diagnose.scenarios import Scenario, load_scenario, scenario_paths

PATHS = scenario_paths()
PROBE = "property-probe"
ORACLE_DIR = Path(
    os.environ.get("S3DOCTOR_ORACLE_DIR", "/work/shared/tools/iam-simulate-oracle")
).resolve()
# (scenario, remedy code) -> the documented difference (conformance README, list item) that
# explains a disagreement. Empty: none met on the golden scenarios.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}


def _offered(path: Path) -> Iterator[tuple[Scenario, Remedy]]:
    scenario = load_scenario(path)
    for remedy in scenario.finding().remedies:
        if remedy.patch is not None:
            yield scenario, remedy


CASES = [
    pytest.param(s, r, id=f"{s.name}:{i}:{r.code}")
    for path in PATHS
    for i, (s, r) in enumerate(_offered(path))
]


def _apply(scenario: Scenario, remedy: Remedy) -> tuple[AccessRequest, Snapshot, dict[str, Any]]:
    patch = remedy.patch
    assert patch is not None
    if patch["kind"] in ("request", "session-policy"):
        document = dict(scenario.snapshot.document)
        return apply_to_request(scenario.request, patch), scenario.snapshot, document
    document = apply_patch(scenario.snapshot.document, patch)
    return scenario.request, load_snapshot(document), document


def _granted_probe(scenario: Scenario) -> tuple[AccessRequest, list[dict[str, Any]]] | None:
    """Another IAM user of the account whose identity policy allows every action of the request."""
    request = scenario.request
    if request.principal.type is PrincipalType.ANONYMOUS or not request.principal.account_id:
        return None
    account = request.principal.account_id
    arn = f"arn:aws:iam::{account}:user/{PROBE}"
    who = Principal(
        type=PrincipalType.IAM_USER,
        requester_arn=arn,
        principal_arn=arn,
        account_id=account,
        user_name=PROBE,
    )
    context = tuple(
        replace(e, values=(arn,))
        if e.name.lower() == "aws:principalarn"
        else replace(e, values=("User",))
        if e.name.lower() == "aws:principaltype"
        else e
        for e in request.context
        if e.name.lower() not in ("aws:userid", "aws:username")
    )
    decision = evaluate(request, scenario.snapshot)
    statements = [
        {"Effect": "Allow", "Action": e.action, "Resource": e.resource_arn}
        for e in decision.evaluations
    ]
    return replace(request, principal=who, context=context, session_policy=None), statements


def _with_user(document: dict[str, Any], statements: list[dict[str, Any]]) -> Snapshot | None:
    out = copy.deepcopy(document)
    iam = out.get("iam")
    if iam is None:
        iam = out["iam"] = {}
    if not isinstance(iam, dict) or "$unreadable" in iam:
        return None
    iam.setdefault("UserDetailList", []).append(
        {
            "UserName": PROBE,
            "UserId": "AIDAPROPERTYPROBE001",
            "Arn": f"arn:aws:iam::{out.get('account_id')}:user/{PROBE}",
            "Path": "/",
            "GroupList": [],
            "AttachedManagedPolicies": [],
            "UserPolicyList": [
                {
                    "PolicyName": "probe",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
                }
            ],
        }
    )
    return load_snapshot(out)


@pytest.mark.parametrize(("scenario", "remedy"), CASES)
def test_a_verified_fix_allows_the_request(scenario: Scenario, remedy: Remedy) -> None:
    if not remedy.verified:
        pytest.skip("not verified: offered as advice")
    request, snapshot, _ = _apply(scenario, remedy)
    assert owner_side_allows(request, evaluate(request, snapshot), snapshot), remedy.summary


@pytest.mark.parametrize(("scenario", "remedy"), CASES)
def test_no_fix_opens_the_action_to_a_principal_that_holds_iam_grants(
    scenario: Scenario, remedy: Remedy
) -> None:
    assert remedy.patch is not None
    if remedy.patch["kind"] != "policy":
        pytest.skip("request-side or ownership change: grants no principal anything")
    probe = _granted_probe(scenario)
    if probe is None:
        pytest.skip("anonymous request: no principal to probe")
    request, statements = probe
    before = _with_user(dict(scenario.snapshot.document), statements)
    after = _with_user(_apply(scenario, remedy)[2], statements)
    if before is None or after is None:
        pytest.skip("IAM unreadable in the snapshot")
    was = evaluate(request, before).allowed
    assert was or not evaluate(request, after).allowed, remedy.summary


# --------------------------------------------------------------------------- the oracle


def _oracle_input(request: AccessRequest, snapshot: Snapshot) -> dict[str, Any] | None:
    """The oracle's simulation for a request decided by policies only; None when out of reach."""
    document = snapshot.document
    if (
        request.kms_key_arn
        or request.vpc_endpoint_id
        or (document.get("organization") or {}).get("levels")
        or request.bucket is None
        or request.principal.type in (PrincipalType.ANONYMOUS, PrincipalType.AWS_SERVICE)
        or request.principal.account_id != document.get("account_id")
    ):
        return None
    if request.session_policy is not None and request.principal.type is PrincipalType.IAM_USER:
        return None  # the oracle takes a session policy only with a session principal
    evidence = principal_evidence(snapshot, request.principal)
    if evidence.problems:
        return None
    identity = []
    for source in evidence.identity:
        policy = policy_document(document, source.policy_id)
        if policy is None:
            return None
        identity.append({"name": source.policy_id, "policy": policy})
    simulation: dict[str, Any] = {
        "request": {
            "principal": request.principal.requester_arn,
            "action": request.operations[0].action,
            "resource": {
                "resource": request.operations[0].resource_arn,
                "accountId": document.get("account_id"),
            },
            "contextVariables": {
                e.name: e.values[0] if len(e.values) == 1 else list(e.values)
                for e in request.context
            },
        },
        "identityPolicies": identity,
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
    }
    if evidence.boundary is not None:
        boundary = policy_document(document, evidence.boundary.policy_id)
        if boundary is None:
            return None
        simulation["permissionBoundaryPolicies"] = [
            {"name": evidence.boundary.policy_id, "policy": boundary}
        ]
    bucket_policy = policy_document(document, f"bucket-policy:{request.bucket}")
    if bucket_policy is not None:
        simulation["resourcePolicy"] = bucket_policy
    if request.session_policy is not None:
        simulation["sessionPolicy"] = request.session_policy
    return simulation


def _policy_only(scenario: Scenario, remedy: Remedy) -> bool:
    """The request is decided by policies alone, before and after the fix (no ACL, BPA, KMS...)."""
    patch = remedy.patch
    if patch is None or patch["kind"] not in ("policy", "session-policy"):
        return False
    if str(patch.get("policy", "")).startswith(("key-policy:", "vpce-policy:")):
        return False
    grant_layers = {"identity-policy", "permissions-boundary", "session-policy", "bucket-policy"}
    finding = scenario.finding()
    return all(layer in grant_layers for layer in finding.blocked_by) and not any(
        u.layer.value not in grant_layers for u in finding.unchecked
    )


@pytest.fixture(scope="module")
def oracle() -> Iterator[Any]:
    if not (ORACLE_DIR / "oracle_client.py").exists():
        pytest.skip(f"iam-simulate oracle not found at {ORACLE_DIR}")
    sys.path.insert(0, str(ORACLE_DIR))
    try:
        from oracle_client import Oracle  # type: ignore[import-not-found]
    except ImportError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"iam-simulate oracle client not importable: {error}")
    try:
        instance = Oracle()
        instance.__enter__()
    except Exception as error:  # any failure to start means "no second opinion"
        pytest.skip(
            f"iam-simulate oracle cannot start (needs node, npm and an npm install): {error}"
        )
    try:
        yield instance
    finally:
        instance.__exit__(None, None, None)
        sys.path.remove(str(ORACLE_DIR))


POLICY_ONLY = [p for p in CASES if _policy_only(*p.values)]  # type: ignore[arg-type]


def test_some_fixes_are_policy_only() -> None:
    assert len(POLICY_ONLY) >= 10


@pytest.mark.parametrize(("scenario", "remedy"), POLICY_ONLY)
def test_policy_only_fix_agrees_with_the_second_evaluator(
    scenario: Scenario, remedy: Remedy, oracle: Any
) -> None:
    known = KNOWN_DIFFERENCES.get((scenario.name, remedy.code))
    request, snapshot, document = _apply(scenario, remedy)
    checks: list[tuple[str, AccessRequest, Snapshot]] = [("request", request, snapshot)]
    probe = _granted_probe(scenario)
    if probe is not None and remedy.patch is not None and remedy.patch["kind"] == "policy":
        granted = _with_user(document, probe[1])
        if granted is not None:
            checks.append(("probe holding IAM grants", probe[0], granted))
    compared = 0
    for what, req, snap in checks:
        simulation = _oracle_input(req, snap)
        if simulation is None:
            continue
        answer = oracle.evaluate(simulation)
        assert answer.get("resultType") != "exception", answer
        if answer.get("ignoredContextKeys"):
            continue  # documented difference 5: it drops context keys it thinks do not apply
        decision = evaluate(req, snap)
        if decision.decision is Verdict.INCONCLUSIVE:
            continue  # a layer we could not check (malformed, unreadable): nothing to compare
        ours = decision.allowed
        theirs = answer.get("overallResult") == "Allowed"
        compared += 1
        if ours != theirs and known is None:
            pytest.fail(
                f"{what}: our engine says {'allowed' if ours else 'denied'}, iam-simulate says "
                f"{answer.get('overallResult')} for fix {remedy.summary!r}: {answer}"
            )
    if not compared:
        pytest.skip("outside what the oracle can evaluate")
