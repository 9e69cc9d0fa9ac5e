"""iam-simulate's core engine cases, same-account S3 subset, run through our engine.

The corpus (AGPL) is read at test time from `shared/conformance/iam-simulate/` and never copied.
Each Strict case whose principal and resource are in the same account and whose action is an S3
action on an S3 ARN is converted to a snapshot document + AccessRequest. Where iam-simulate's
answer differs from AWS's documentation, the case is listed in EXPECTED_DIFFERENCES with the doc.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from chalicelib.arn import parse_arn, split_s3_arn
from chalicelib.engine import evaluate
from chalicelib.model import Verdict
from chalicelib.snapshot import load_snapshot
from tests.shared import CORPUS, require
from tests.unit.engine.casefile import request_from_case

RESPONSES = {
    "Allowed": Verdict.ALLOWED,
    "ImplicitlyDenied": Verdict.IMPLICIT_DENY,
    "ExplicitlyDenied": Verdict.EXPLICIT_DENY,
}
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
RCP_FULL_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
}

GRAMMAR = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html"
# case name -> why AWS's documentation gives another answer than iam-simulate.
EXPECTED_DIFFERENCES: Mapping[str, str] = {
    "Statement without Principal never matches (Allow)": (
        "S3 rejects a bucket policy statement without Principal (MalformedPolicy), so the engine "
        f"reports the document as malformed (could not check) instead of skipping it: {GRAMMAR}"
    ),
    "Statement without Principal is skipped; sibling statement still applies": (
        "same as above: a resource policy statement needs a Principal, " + GRAMMAR
    ),
    "Statement without Principal does not deny when identity allows": (
        "same as above: the malformed bucket policy cannot be checked, and it could hold an "
        "explicit deny, so the engine answers inconclusive"
    ),
    "Implicit deny in session policy denies even if session ARN in resource policy": (
        "AWS: a resource-based policy naming the role-session ARN grants permissions that the "
        "session policy does not limit: https://docs.aws.amazon.com/IAM/latest/UserGuide/"
        "access_policies.html#policies_session (iam-simulate README, difference 2)"
    ),
}


def _cases() -> Iterator[Any]:
    root = CORPUS / "coreEngineTests"
    if not root.exists():
        yield pytest.param(None, id="corpus-missing")
        return
    for path in sorted(root.rglob("*.json")):
        for case in json.loads(path.read_text()):
            if _in_scope(case):
                name = f"{path.relative_to(root)}::{case['name']}"
                marks = []
                if case["name"] in EXPECTED_DIFFERENCES:
                    marks.append(
                        pytest.mark.xfail(strict=True, reason=EXPECTED_DIFFERENCES[case["name"]])
                    )
                yield pytest.param(case, id=name, marks=marks)


def _in_scope(case: Mapping[str, Any]) -> bool:
    if (case.get("simulation") or {}).get("mode") == "Discovery":
        return False
    request = case["request"]
    resource = request.get("resource")
    if not isinstance(resource, Mapping) or not str(request.get("action", "")).lower().startswith(
        "s3:"
    ):
        return False
    principal = parse_arn(str(request.get("principal", "")))
    if principal is None or principal.account != resource.get("accountId"):
        return False
    if split_s3_arn(str(resource.get("resource", ""))) is None:
        return False
    if (
        len(case.get("permissionBoundaries") or ()) > 1
        or len(case.get("endpointPolicies") or ()) > 1
    ):
        return False
    return "resourcePolicies" not in case


def _doc(entry: Any) -> Any:
    """Corpus policies are documents, or {name, policy} wrappers."""
    if isinstance(entry, Mapping) and "policy" in entry and "Statement" not in entry:
        return entry["policy"]
    return entry


def _endpoint_policy(policy: Any) -> Any:
    """AWS requires a Principal in endpoint policies (vpc-endpoints-access.html); the corpus
    leaves it out, meaning everyone: add `"Principal": "*"`, which is what it means there."""
    if not isinstance(policy, Mapping):
        return policy
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    fixed = [
        st if "Principal" in st or "NotPrincipal" in st else {**st, "Principal": "*"}
        for st in statements or ()
    ]
    return {**policy, "Statement": fixed}


def _principal_maps(policy: Any) -> Any:
    """The grammar allows only "*" or a map as Principal; the corpus sometimes writes a bare
    ARN string, which it reads as {"AWS": ARN}: convert it so the case still checks the rest."""
    if not isinstance(policy, Mapping):
        return policy
    statements = policy.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    fixed = []
    for st in statements or ():
        for element in ("Principal", "NotPrincipal"):
            value = st.get(element)
            if isinstance(value, str) and value != "*":
                st = {**st, element: {"AWS": value}}
        fixed.append(st)
    return {**policy, "Statement": fixed}


def _snapshot(case: Mapping[str, Any]) -> dict[str, Any]:
    request = case["request"]
    account = request["resource"]["accountId"]
    principal = parse_arn(request["principal"])
    assert principal is not None
    bucket, _ = split_s3_arn(request["resource"]["resource"]) or ("", None)
    inline = [
        {"PolicyName": f"identity-{i}", "PolicyDocument": _doc(p)}
        for i, p in enumerate(case.get("identityPolicies") or ())
    ]
    entity: dict[str, Any] = {"Arn": "", "AttachedManagedPolicies": []}
    policies = []
    for boundary in case.get("permissionBoundaries") or ():
        arn = f"arn:aws:iam::{account}:policy/boundary"
        policies.append(
            {
                "Arn": arn,
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {"VersionId": "v1", "IsDefaultVersion": True, "Document": _doc(boundary)}
                ],
            }
        )
        entity["PermissionsBoundary"] = {"PermissionsBoundaryArn": arn}
    iam: dict[str, Any] = {"Policies": policies}
    kind = principal.resource.split("/", 1)[0]
    if kind == "user":
        iam["UserDetailList"] = [
            {
                **entity,
                "UserName": principal.resource_name,
                "Arn": request["principal"],
                "UserPolicyList": inline,
            }
        ]
    else:
        role = principal.resource.split("/")[1]
        iam["RoleDetailList"] = [
            {
                **entity,
                "RoleName": role,
                "Arn": f"arn:aws:iam::{account}:role/{role}",
                "RolePolicyList": inline,
            }
        ]
    doc: dict[str, Any] = {
        "account_id": account,
        "iam": iam,
        "s3": {"buckets": {bucket: {"owner": {"ID": "owner-canonical-id"}}}},
    }
    if case.get("resourcePolicy") is not None:
        doc["s3"]["buckets"][bucket]["policy"] = _principal_maps(case["resourcePolicy"])
    scps = case.get("serviceControlPolicies")
    rcps = case.get("resourceControlPolicies")
    if scps or rcps:
        depth = max(len(scps or ()), len(rcps or ()))
        levels = []
        for i in range(depth):
            level: dict[str, Any] = {"target_id": f"level-{i}"}
            if scps:
                level["scps"] = (
                    [
                        {"Id": f"scp-{i}-{j}", "Content": _doc(p)}
                        for j, p in enumerate(scps[i]["policies"])
                    ]
                    if i < len(scps)
                    else [{"Id": "full", "Content": ALLOW_ALL}]
                )
            if rcps:
                extra = (
                    [
                        {"Id": f"rcp-{i}-{j}", "Content": _doc(p)}
                        for j, p in enumerate(rcps[i]["policies"])
                    ]
                    if i < len(rcps)
                    else []
                )
                level["rcps"] = [{"Id": "RCPFullAWSAccess", "Content": RCP_FULL_ACCESS}, *extra]
            levels.append(level)
        doc["organization"] = {"management_account_id": "999988887777", "levels": levels}
    if case.get("endpointPolicies"):
        doc["vpc_endpoints"] = {
            "vpce-conformance": {
                "PolicyDocument": _endpoint_policy(_doc(case["endpointPolicies"][0]))
            }
        }
    return doc


@pytest.mark.parametrize("case", list(_cases()))
def test_core_case_same_account_s3(case: Mapping[str, Any] | None) -> None:
    require(CORPUS / "coreEngineTests")
    assert case is not None
    request = case["request"]
    spec = {
        "principal": request["principal"],
        "action": request["action"],
        "resource": request["resource"]["resource"],
        "context": request.get("context") or {},
        "session_policy": case.get("sessionPolicy"),
    }
    if case.get("endpointPolicies"):
        spec["vpc_endpoint_id"] = "vpce-conformance"
    decision = evaluate(request_from_case(spec), load_snapshot(_snapshot(case)))
    assert decision.decision is RESPONSES[case["expected"]["response"]], decision
