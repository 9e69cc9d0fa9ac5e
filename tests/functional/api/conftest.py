"""The API on a moto server: an empty findings table per module, and callers as API Gateway
names them after SigV4 authentication (`requestContext.identity.userArn`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from chalice.local import LambdaEventConverter
from moto.server import ThreadedMotoServer

from chalicelib import wiring
from chalicelib.publish.store import DynamoFindingStore, create_table

REGION = "us-east-1"
CALLER_HEADER = "x-test-caller-arn"
"""Test requests name their caller in this header; the local gateway moves it to the context."""


@dataclass(frozen=True)
class Table:
    endpoint: str
    name: str
    client: Any

    def store(self) -> DynamoFindingStore:
        return DynamoFindingStore(self.name, self.client)


@pytest.fixture(scope="module")
def moto_table() -> Iterator[Table]:
    """A moto server with an empty findings table; the environment and wiring point at it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    assert server._server is not None
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    name = f"findings-{uuid.uuid4().hex[:8]}"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,
            "FINDINGS_TABLE_NAME": name,
        }.items():
            patch.setenv(key, value)
        for key in ("AWS_PROFILE", "FULL_DETAIL_PRINCIPALS", "DIAGNOSE_API", "DIAGNOSE_ROLE_ARN"):
            patch.delenv(key, raising=False)
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
        create_table(client, name)
        wiring.reset()
        try:
            yield Table(endpoint=endpoint, name=name, client=client)
        finally:
            wiring.reset()
            server.stop()


@pytest.fixture(autouse=True)
def callers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test name the authenticated caller with the CALLER_HEADER header."""
    original = LambdaEventConverter.create_lambda_event

    def with_caller(self: Any, method: str, path: str, headers: dict[str, str], body: Any = None):
        event = original(self, method, path, headers, body)
        caller = {k.lower(): v for k, v in headers.items()}.get(CALLER_HEADER)
        if caller:
            event["requestContext"]["identity"]["userArn"] = caller
        return event

    monkeypatch.setattr(LambdaEventConverter, "create_lambda_event", with_caller)


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set API variables for one test (wiring re-reads them); all are forgotten afterwards."""

    def set_variables(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        wiring.reset()

    yield set_variables
    monkeypatch.undo()
    wiring.reset()
