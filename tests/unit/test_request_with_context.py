"""`AccessRequest.with_context` (the engine completes each request's context with it, faster than
`dataclasses.replace`) keeps every other field: a field added to the request later is kept
too, or this test fails."""

from __future__ import annotations

from dataclasses import fields, replace

from chalicelib.model import (
    AccessRequest,
    ContextEntry,
    DenialHint,
    Operation,
    Principal,
    PrincipalType,
    Scope,
)


def test_with_context_changes_the_context_alone() -> None:
    principal = Principal(
        type=PrincipalType.ASSUMED_ROLE,
        requester_arn="arn:aws:sts::111122223333:assumed-role/r/s",
        principal_arn="arn:aws:iam::111122223333:role/r",
        account_id="111122223333",
        session_name="s",
    )
    request = AccessRequest(
        principal=principal,
        operations=(
            Operation(action="s3:GetObject", resource_arn="arn:aws:s3:::b/k", bucket="b", key="k"),
        ),
        context=(ContextEntry(name="aws:SourceIp", values=("10.0.0.1",), type="ip"),),
        region="eu-west-1",
        kms_key_arn="arn:aws:kms:eu-west-1:111122223333:key/k",
        vpc_endpoint_id="vpce-1",
        access_point_arn="arn:aws:s3:eu-west-1:111122223333:accesspoint/ap",
        bucket_account="222233334444",
        session_policy={"Version": "2012-10-17", "Statement": []},
        scp_policies=({"Version": "2012-10-17", "Statement": []},),
        event_id="e",
        shared_event_id="s",
        event_time="2025-01-01T00:00:00Z",
        event_name="GetObject",
        scope=Scope.CROSS_ACCOUNT,
        scope_reason="why",
        denial_hint=DenialHint.from_dict({"raw": "denied", "layer": None}),
        notes=("n",),
        proposed_policy={"Version": "2012-10-17", "Statement": []},
    )
    defaults = {f.name for f in fields(AccessRequest) if getattr(request, f.name) == f.default}
    assert defaults <= {"context"}, defaults  # every field set, so each copy is seen
    added = (*request.context, ContextEntry(name="aws:ResourceAccount", values=("222233334444",)))

    assert request.with_context(added) == replace(request, context=added)
    assert request.with_context(added).context is added
    copy = request.with_context(added)
    assert not hasattr(AccessRequest, "__post_init__")  # `with_context` fills the slots itself
    assert repr(copy) == repr(replace(request, context=added))
