"""Builders of requests, decisions and small snapshots for diagnosis tests (keyword defaults)."""

from __future__ import annotations

from typing import Any

from chalicelib.diagnose.patches import apply_patch, apply_patch_shared
from chalicelib.model import (
    AccessRequest,
    ConditionFailure,
    Decision,
    DenialHint,
    Evaluation,
    Json,
    Layer,
    LayerResult,
    Operation,
    Outcome,
    Principal,
    PrincipalType,
    Scope,
    StatementRef,
    Unchecked,
    Verdict,
)
from chalicelib.snapshot import Snapshot, load_snapshot

ACCT = "111122223333"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
OBJECT = "arn:aws:s3:::example-bucket/data/report.csv"


def principal(
    arn: str = ALICE, *, kind: PrincipalType = PrincipalType.IAM_USER, requester: str | None = None
) -> Principal:
    return Principal(type=kind, requester_arn=requester or arn, principal_arn=arn, account_id=ACCT)


def request(
    *,
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    who: Principal | None = None,
    scope: Scope = Scope.SAME_ACCOUNT,
    hint: DenialHint | None = None,
    event_time: str | None = None,
) -> AccessRequest:
    bucket, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
    return AccessRequest(
        principal=who or principal(),
        operations=(
            Operation(action=action, resource_arn=resource, bucket=bucket, key=key or None),
        ),
        scope=scope,
        denial_hint=hint,
        event_time=event_time,
    )


def statement(
    policy: str = "bucket-policy:example-bucket",
    index: int = 0,
    *,
    sid: str | None = "DenyInsecure",
    effect: str = "Deny",
    key: str | None = None,
    expected: tuple[str, ...] = (),
    actual: tuple[str, ...] | None = None,
) -> StatementRef:
    failed = (
        ConditionFailure(key=key, operator="Bool", expected=expected, actual=actual)
        if key
        else None
    )
    return StatementRef(policy=policy, index=index, sid=sid, effect=effect, failed_condition=failed)


def decision(
    *layers: LayerResult,
    verdict: Verdict = Verdict.IMPLICIT_DENY,
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    blocked_by: tuple[Layer, ...] | None = None,
    unchecked: tuple[Unchecked, ...] = (),
) -> Decision:
    blocked = (
        blocked_by
        if blocked_by is not None
        else tuple(
            lr.layer
            for lr in layers
            if lr.outcome in (Outcome.EXPLICIT_DENY, Outcome.IMPLICIT_DENY)
        )
    )
    evaluation = Evaluation(
        action=action, resource_arn=resource, decision=verdict, blocked_by=blocked, layers=layers
    )
    return Decision(
        decision=verdict, blocked_by=blocked, evaluations=(evaluation,), unchecked=unchecked
    )


def layer(
    which: Layer, outcome: Outcome, *statements: StatementRef, detail: str | None = None
) -> LayerResult:
    return LayerResult(layer=which, outcome=outcome, statements=statements, detail=detail)


def patched_both_ways(document: Any, patch: Any) -> tuple[Any, Any]:
    """(`apply_patch`, `apply_patch_shared`) of `patch` on `document`: each the patched
    document, or the type of the error it raised."""
    out = []
    for apply in (apply_patch, apply_patch_shared):
        try:
            out.append(apply(document, patch))
        except Exception as error:
            out.append(type(error))
    return out[0], out[1]


def iam_user(name: str, *statements: Json, account: str = ACCT) -> Json:
    """An IAM user of `get-account-authorization-details`, with one inline policy of
    `statements` (none: no policy)."""
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return {
        "UserName": name,
        "UserId": f"AIDA{name.upper():0<16}",
        "Path": "/",
        "Arn": f"arn:aws:iam::{account}:user/{name}",
        "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": document}] if statements else [],
        "AttachedManagedPolicies": [],
        "GroupList": [],
    }


def account_snapshot(
    *users: Json, buckets: Json, region: str = "us-east-1", **more: Any
) -> Snapshot:
    """A snapshot of account ACCT with `users`, `buckets` (s3.buckets) and `more` top-level
    parts (vpc_endpoints, account_public_access_block…)."""
    return load_snapshot(
        {
            "account_id": ACCT,
            "partition": "aws",
            "region": region,
            "iam": {"UserDetailList": list(users), "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": buckets},
            **more,
        }
    )
