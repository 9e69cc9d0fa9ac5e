"""A moto server on a free loopback port, and boto3 clients that talk to it over HTTP."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.collect.clients import Boto3Clients

REGION = "us-east-1"
_HOST_PREFIX = re.compile(r"//\d{12}\.")


def strip_account_host_prefix(request: Any, **_: Any) -> None:
    """botocore prefixes S3 Control hosts with `<account>.`; a loopback moto server has none."""
    request.url = _HOST_PREFIX.sub("//", request.url, count=1)


def configure_for_moto(service: str, client: Any) -> None:
    if service == "s3control":
        client.meta.events.register("before-sign.s3-control.*", strip_account_host_prefix)


@pytest.fixture(scope="module")
def moto_url(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        yield patch


def session(access_key: str = "testing", secret_key: str = "testing") -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )


class CallCounter:
    """Counts the AWS calls the collector's clients make (a botocore `before-call` hook)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def on_client(self, service: str, client: Any) -> None:
        configure_for_moto(service, client)
        client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def moto_clients(
    url: str, *, counter: CallCounter | None = None, boto_session: boto3.Session | None = None
) -> Boto3Clients:
    return Boto3Clients(
        boto_session or session(),
        region_name=REGION,
        endpoint_url=url,
        on_client=counter.on_client if counter else configure_for_moto,
    )


def client(url: str, service: str, boto_session: boto3.Session | None = None) -> Any:
    """A seeding client (not the collector's)."""
    made = (boto_session or session()).client(service, region_name=REGION, endpoint_url=url)
    configure_for_moto(service, made)
    return made
