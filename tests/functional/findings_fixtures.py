"""Shared by the API and CLI tests: a moto server with the findings table, and stored findings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib import wiring
from chalicelib.model import (
    AccessRequest,
    Cause,
    Finding,
    Layer,
    Operation,
    Principal,
    PrincipalType,
    Verdict,
)
from chalicelib.publish.store import DynamoFindingStore, create_table

REGION = "us-east-1"
ACCOUNT = "111122223333"


def make_finding(
    finding_id: str,
    *,
    bucket: str,
    user: str,
    first_seen: str,
    decision: Verdict = Verdict.IMPLICIT_DENY,
    code: str = "NO_ALLOW_IDENTITY",
) -> Finding:
    principal_arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    request = AccessRequest(
        principal=Principal(
            type=PrincipalType.IAM_USER,
            requester_arn=principal_arn,
            principal_arn=principal_arn,
            account_id=ACCOUNT,
            user_name=user,
        ),
        operations=(
            Operation(
                action="s3:GetObject",
                resource_arn=f"arn:aws:s3:::{bucket}/data.csv",
                bucket=bucket,
                key="data.csv",
            ),
        ),
        event_id=finding_id,
        event_time=first_seen,
    )
    layer = Layer.BUCKET_POLICY if decision is Verdict.EXPLICIT_DENY else Layer.IDENTITY_POLICY
    return Finding(
        finding_id=finding_id,
        event_id=finding_id,
        event_time=first_seen,
        request=request,
        decision=decision,
        blocked_by=(layer,),
        evaluations=(),
        engine_version="test",
        causes=(Cause(code=code, layer=layer, message=f"{code} for {user}"),),
        first_seen=first_seen,
        last_seen=first_seen,
    )


# Newest first: the order every listing must return.
FINDINGS = (
    make_finding("f4", bucket="reports", user="carol", first_seen="2025-03-04T11:00:00Z",
                 decision=Verdict.EXPLICIT_DENY, code="EXPLICIT_DENY_BUCKET_POLICY"),
    make_finding("f3", bucket="reports", user="alice", first_seen="2025-03-04T10:00:00Z"),
    make_finding("f2", bucket="datalake", user="alice", first_seen="2025-03-03T10:00:00Z"),
    make_finding("f1", bucket="reports", user="bob", first_seen="2025-02-01T10:00:00Z"),
)  # fmt: skip


@pytest.fixture(scope="module")
def findings_table() -> Iterator[str]:
    """A moto server whose table holds FINDINGS; wiring points at it. Yields the table name."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    assert server._server is not None
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    table = f"findings-{uuid.uuid4().hex[:8]}"  # moto servers of one process share tables
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "FINDINGS_TABLE_NAME": table,
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        create_table(client, table)
        store = DynamoFindingStore(table, client)
        for finding in FINDINGS:
            store.create(
                finding,
                event_key=finding.finding_id,
                aggregate_keys=(),
                window_end="2025-03-04T12:00:00Z",
            )
            store.mark_published(finding.finding_id)
        wiring.reset()
        try:
            yield table
        finally:
            wiring.reset()
            server.stop()
