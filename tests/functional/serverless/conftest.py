"""The deployed shape on a moto server: table, topic, an SQS subscriber with a filter policy,
a seeded account, and the real Chalice app invoked through `chalice.test.Client`.

Each test gets its own table, topic and queue; the server and the seeded account are shared by the
session (moto keeps one state per process, whatever the server).

The server answers one request at a time (`SerialMotoServer`): moto serves requests on threads
but its conditional writes and transactions are not atomic across them (a cancelled transaction
even restores a copy of the whole table taken before it), where DynamoDB's are. Tests with
concurrent threads then see DynamoDB's guarantees, not moto's races. `moto_faults` makes the
server answer some requests with the errors DynamoDB gives under contention.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from chalicelib import wiring
from chalicelib.api import api
from chalicelib.demo.cloudtrail import user_get_object_denial
from chalicelib.publish.store import create_table

PROJECT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "serverless-reports"
OTHER_BUCKET = "serverless-other"  # excluded by the subscriber's filter policy
USER = "serverless-alice"
KEY = "2025/03/ledger.csv"
EVENT_TIME = "2025-03-01T10:00:00Z"


class MotoFaults:
    """Errors the server gives instead of moto's answer, as DynamoDB does under contention."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conflict_first_attempts = False
        self._seen: set[str] = set()
        self.conflicts = 0

    def conflict_first_attempts(self, enabled: bool = True) -> None:
        """Cancel the first attempt of every distinct TransactWriteItems request with a
        `TransactionConflict` (a retry of the same request goes through)."""
        with self._lock:
            self._conflict_first_attempts = enabled
            self._seen.clear()
            self.conflicts = 0

    def answer(self, target: str, body: bytes) -> bytes | None:
        if not target.endswith(".TransactWriteItems"):
            return None
        with self._lock:
            if not self._conflict_first_attempts:
                return None
            # the items, not the body: botocore adds a fresh ClientRequestToken to each call
            items = json.loads(body).get("TransactItems", [])
            digest = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
            if digest in self._seen:
                return None
            self._seen.add(digest)
            self.conflicts += 1
        reasons = [{"Code": "TransactionConflict", "Message": "Transaction is ongoing"}]
        reasons += [{"Code": "None"}] * (len(items) - 1)
        return json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message": "Transaction cancelled, please refer cancellation reasons for "
                "specific reasons [TransactionConflict]",
                "CancellationReasons": reasons,
            }
        ).encode()


class _Serial:
    """WSGI: one request at a time through moto, faults first."""

    def __init__(self, app: Callable[..., Iterable[bytes]], faults: MotoFaults) -> None:
        self._app = app
        self._faults = faults
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        fault = self._faults.answer(environ.get("HTTP_X_AMZ_TARGET", ""), body)
        if fault is not None:
            start_response(
                "400 Bad Request",
                [
                    ("Content-Type", "application/x-amz-json-1.0"),
                    ("Content-Length", str(len(fault))),
                ],
            )
            return [fault]
        with self._lock:
            return list(self._app(environ, start_response))


class SerialMotoServer(ThreadedMotoServer):
    """A moto server on a free loopback port that handles one request at a time."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.faults = MotoFaults()

    def _server_entry(self) -> None:
        app = _Serial(DomainDispatcherApplication(create_backend_app), self.faults)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[SerialMotoServer]:
    server = SerialMotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto_faults(moto_server: SerialMotoServer) -> Iterator[MotoFaults]:
    """The server's faults, all off again after the test."""
    yield moto_server.faults
    moto_server.faults.conflict_first_attempts(False)


@pytest.fixture(scope="session")
def moto_env(moto_server: SerialMotoServer) -> Iterator[pytest.MonkeyPatch]:
    server = moto_server
    assert server._server is not None
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server._server.server_port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        _seed_account(boto3.Session(region_name=REGION))
        try:
            yield patch
        finally:
            wiring.reset()


def _seed_account(session: boto3.Session) -> None:
    """A user with no identity policy, and two buckets with one object each."""
    session.client("iam").create_user(UserName=USER)
    s3 = session.client("s3")
    for bucket in (BUCKET, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=KEY, Body=b"ledger\n")


@dataclass
class Deployment:
    """One stack: its clients, names, and the Chalice test client of `app.py`."""

    dynamodb: Any
    sns: Any
    sqs: Any
    table: str
    topic_arn: str
    queue_url: str
    client: Client
    handler: str

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.client.lambda_.invoke(self.handler, event).payload  # type: ignore[no-any-return]

    def received(self) -> list[dict[str, Any]]:
        """Every SNS notification the subscriber has received so far (drained)."""
        out = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def _load_app() -> Any:
    spec = importlib.util.spec_from_file_location("app", PROJECT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


@contextmanager
def central_stack(
    session: boto3.Session, env: pytest.MonkeyPatch, *, filter_policy: Any = None
) -> Iterator[Deployment]:
    """The stack's table, topic and an SQS subscriber in `session`'s account, and the Chalice
    app told about them (through `env`)."""
    suffix = uuid.uuid4().hex[:8]
    dynamodb, sns, sqs = session.client("dynamodb"), session.client("sns"), session.client("sqs")
    table = f"findings-{suffix}"
    create_table(dynamodb, table)
    topic_arn = sns.create_topic(Name=f"findings-{suffix}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"subscriber-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
    env.setenv("FINDINGS_TABLE_NAME", table)
    env.setenv("FINDINGS_TOPIC_ARN", topic_arn)
    wiring.reset()
    app = _load_app()
    handler = next(s.name for s in app.event_sources if getattr(s, "event_pattern", None))
    try:
        with Client(app) as client:
            yield Deployment(
                dynamodb=dynamodb,
                sns=sns,
                sqs=sqs,
                table=table,
                topic_arn=topic_arn,
                queue_url=queue_url,
                client=client,
                handler=handler,
            )
    finally:
        wiring.reset()
        _rebind_api()


def _rebind_api() -> None:
    """Loading app.py again registered the module-level API blueprint on the fresh app, and a
    blueprint answers `current_request` from the app it was registered on last: give it back
    to the app that `from app import app` gives later tests (else their API calls fail with
    an AttributeError, depending on which tests ran before)."""
    module = sys.modules.get("app")
    if module is not None:
        api._current_app = module.app


@pytest.fixture
def deployment(moto_env: pytest.MonkeyPatch) -> Iterator[Deployment]:
    session = boto3.Session(region_name=REGION)
    policy = {"bucket": [{"anything-but": [OTHER_BUCKET]}]}
    with central_stack(session, moto_env, filter_policy=policy) as deployed:
        yield deployed


def denied_event(
    event_id: str, *, bucket: str = BUCKET, event_time: str = EVENT_TIME
) -> dict[str, Any]:
    """The EventBridge event of alice's GetObject, denied for lack of an identity policy."""
    return user_get_object_denial(
        event_id=event_id,
        event_time=event_time,
        account_id=ACCOUNT,
        region=REGION,
        user_name=USER,
        user_id="AIDAALICE",
        bucket=bucket,
        key=KEY,
    )
