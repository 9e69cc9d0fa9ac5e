"""Engine cases as data: a compact request form turned into an AccessRequest.

A case request names the principal by ARN (or "anonymous") and gives context keys verbatim
(nothing is derived, as in IAM's simulator): {"principal": ARN, "action": "s3:GetObject",
"resource": ARN, "context": {"aws:SecureTransport": ["false"]}, "kms_actions": [...],
"vpc_endpoint_id": ..., "session_policy": {...}, "scp_policies": [...],
"proposed_policy": {...}, "region": ...}.

`{"runbook": {...}}` instead gives the runbook's inputs (DESIGN 3.1) and builds the request as
the CLI does (`chalicelib.request.request_from_runbook`): principal keys are derived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.arn import parse_arn, split_s3_arn
from chalicelib.events.identity import ANONYMOUS_ARN, ANONYMOUS_PRINCIPAL
from chalicelib.model import (
    AccessRequest,
    ContextEntry,
    Operation,
    Principal,
    PrincipalType,
)
from chalicelib.request import request_from_runbook


def principal_from_arn(arn: str, *, issuer: str | None = None) -> Principal:
    if arn == ANONYMOUS_ARN:  # as the event parser names an unauthenticated caller
        return ANONYMOUS_PRINCIPAL
    parsed = parse_arn(arn)
    assert parsed is not None, arn
    resource = parsed.resource
    if resource == "root":
        kind, principal_arn, session = PrincipalType.ROOT, arn, None
    elif resource.startswith("user/"):
        kind, principal_arn, session = PrincipalType.IAM_USER, arn, None
    elif resource.startswith("role/"):
        kind, principal_arn, session = PrincipalType.ROLE, arn, None
    elif resource.startswith("assumed-role/"):
        _, role, session = resource.split("/", 2)
        kind = PrincipalType.ASSUMED_ROLE
        principal_arn = issuer or f"arn:{parsed.partition}:iam::{parsed.account}:role/{role}"
    elif resource.startswith("federated-user/"):
        kind, session = PrincipalType.FEDERATED_USER, resource.split("/", 1)[1]
        principal_arn = issuer or arn
    else:
        raise ValueError(f"unsupported principal {arn}")
    return Principal(
        type=kind,
        requester_arn=arn,
        principal_arn=principal_arn,
        account_id=parsed.account,
        session_name=session,
    )


def request_from_case(data: Mapping[str, Any]) -> AccessRequest:
    if "runbook" in data:
        return request_from_runbook(data["runbook"])
    resources = data["resource"] if isinstance(data["resource"], list) else [data["resource"]]
    actions = data["action"] if isinstance(data["action"], list) else [data["action"]]
    operations = []
    for action, resource in zip(actions, resources, strict=True):
        bucket, key = split_s3_arn(resource) or (None, None)
        operations.append(
            Operation(
                action=action,
                resource_arn=resource,
                bucket=bucket,
                key=key,
                version_id=data.get("version_id"),
                kms_actions=tuple(data.get("kms_actions", ())),
            )
        )
    context = tuple(
        ContextEntry(name=name, values=tuple(values if isinstance(values, list) else [values]))
        for name, values in (data.get("context") or {}).items()
    )
    return AccessRequest(
        principal=principal_from_arn(data["principal"], issuer=data.get("role_arn")),
        operations=tuple(operations),
        context=context,
        region=data.get("region", "us-east-1"),
        kms_key_arn=data.get("kms_key_arn"),
        vpc_endpoint_id=data.get("vpc_endpoint_id"),
        access_point_arn=data.get("access_point_arn"),
        session_policy=data.get("session_policy"),
        scp_policies=tuple(data.get("scp_policies", ())),
        proposed_policy=data.get("proposed_policy"),
    )
