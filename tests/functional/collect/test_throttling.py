"""Issue 14.5: throttled reads are retried (botocore's adaptive mode on every collector client),
and reads in flight are bounded per account.

moto cannot throttle, so the collector talks to a small HTTP proxy in front of the moto server
that answers the first IAM GetUser calls with `Throttling`, as IAM does above its rate, and
measures how many requests are in flight at once.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib import service
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.shared_cache import ReadLimiter, ReadSharing
from tests.functional.collect.conftest import ACCOUNT, REGION, Seeded, moto_clients
from tests.functional.collect.test_shared_cache import Clock, denial

THROTTLED = (
    b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
    b"<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>throttled</RequestId></ErrorResponse>"
)


class Proxy:
    """Forwards every request to moto, except the first `throttle` GetUser calls."""

    def __init__(self, moto_url: str) -> None:
        target = urlsplit(moto_url)
        self.host, self.port = target.hostname or "127.0.0.1", target.port or 80
        self.throttle = 0
        self.delay = 0.0
        self.get_user_calls = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def reset(self, *, throttle: int = 0, delay: float = 0.0) -> None:
        with self._lock:
            self.throttle, self.delay = throttle, delay
            self.get_user_calls = self.in_flight = self.most_in_flight = 0

    def answer(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any, bytes]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            if b"Action=GetUser&" in body + b"&":
                self.get_user_calls += 1
                if self.throttle > 0:
                    self.throttle -= 1
                    self.in_flight -= 1
                    return 400, [("Content-Type", "text/xml")], THROTTLED
        try:
            time.sleep(self.delay)
            connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            forwarded = {k: v for k, v in headers.items() if k.lower() != "host"}
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            answer = response.read()
            kept = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in ("transfer-encoding", "connection", "content-length")
            ]
            connection.close()
            return response.status, kept, answer
        finally:
            with self._lock:
                self.in_flight -= 1


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, answer = proxy.answer(self.command, self.path, self.headers, body)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _forward

        def log_message(self, *_: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def proxy(moto_url: str, seeded: Seeded) -> Iterator[tuple[Proxy, str]]:
    state = Proxy(moto_url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _source(url: str, per_account: int = 8) -> Boto3SnapshotSource:
    return Boto3SnapshotSource(
        moto_clients(url),
        account_id=ACCOUNT,
        sharing=ReadSharing(cache=None, limiter=ReadLimiter(per_account)),
    )


def test_every_collector_client_retries_throttling_adaptively(moto_url: str) -> None:
    clients = moto_clients(moto_url)
    made = [clients.iam(), clients.s3(), clients.s3control(), clients.kms(REGION)]
    made += [clients.ec2(), clients.organizations(), clients.sts()]

    assert {c.meta.config.retries["mode"] for c in made} == {"adaptive"}
    assert min(c.meta.config.retries["total_max_attempts"] for c in made) >= 4


def test_a_throttled_read_is_retried_and_the_diagnosis_is_the_same(
    proxy: tuple[Proxy, str], moto_url: str
) -> None:
    state, url = proxy
    clock = Clock()
    expected = service.diagnose_request(denial(), source=_source(moto_url), clock=clock)

    state.reset(throttle=2)
    finding = service.diagnose_request(denial(), source=_source(url), clock=clock)

    assert state.get_user_calls == 3  # two throttled, the third answered
    assert finding.to_dict() == expected.to_dict()
    assert not finding.unchecked or finding.unchecked == expected.unchecked


def test_reads_in_flight_are_bounded_per_account(proxy: tuple[Proxy, str]) -> None:
    state, url = proxy
    state.reset(delay=0.05)
    _source(url, per_account=2).snapshot_for(denial())
    bounded = state.most_in_flight

    state.reset(delay=0.05)
    _source(url, per_account=16).snapshot_for(denial())

    assert bounded == 2
    assert state.most_in_flight > 2
