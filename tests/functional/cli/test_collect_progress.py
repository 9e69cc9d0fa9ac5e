"""`collect` progress: `Boto3SnapshotSource(on_progress=...)` is called per read answered, and the
console script draws count, rate and ETA on a terminal, nothing on a pipe (stdout unchanged)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.collect.base import ReadPlan
from chalicelib.collect.clients import Boto3Clients, adapt_to_endpoint
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.collect.source import CollectionScope

S3DOCTOR = Path(sys.executable).with_name("s3doctor")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
BUCKET = f"cli-progress-{uuid.uuid4().hex[:8]}"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/progress-alice"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto server with a bucket (a policy, an object) and a user with an inline policy."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    assert server._server is not None
    url = f"http://127.0.0.1:{server._server.server_port}"
    session = _session()
    s3 = session.client("s3", endpoint_url=url)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data.csv", Body=b"x")
    iam = session.client("iam", endpoint_url=url)
    iam.create_user(UserName="progress-alice")
    iam.put_user_policy(
        UserName="progress-alice",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    try:
        yield url
    finally:
        server.stop()


def _session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


def _source(url: str, **kwargs: Any) -> Boto3SnapshotSource:
    clients = Boto3Clients(
        _session(), region_name=REGION, endpoint_url=url, on_client=adapt_to_endpoint
    )
    return Boto3SnapshotSource(clients, ttl_seconds=0, **kwargs)


SCOPE = CollectionScope(principal_arns=(ALICE,), buckets=(BUCKET,))


def test_the_hook_is_called_per_read_and_ends_at_its_total(moto_url: str) -> None:
    calls: list[tuple[int, int]] = []
    reported = _source(moto_url, on_progress=lambda done, total: calls.append((done, total)))
    document = reported.collect(SCOPE)
    assert len(calls) > 5  # identity, the user's documents, the bucket's layers...
    assert [done for done, _ in calls] == list(range(1, len(calls) + 1))
    assert all(done <= total for done, total in calls)
    assert calls[-1][0] == calls[-1][1]  # every read known was answered
    # the same snapshot as without a hook
    plain = _source(moto_url).collect(SCOPE)
    assert {**document, "collected_at": ""} == {**plain, "collected_at": ""}


def test_without_a_hook_the_plan_is_the_plain_one(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Lambda path (no hook): the plan the function always used, nothing counted."""
    plans: list[type] = []
    original = ReadPlan.run

    def run(plan: ReadPlan) -> None:
        plans.append(type(plan))
        original(plan)

    monkeypatch.setattr(ReadPlan, "run", run)
    source = _source(moto_url)
    assert source.on_progress is None
    source.collect(SCOPE)
    assert plans == [ReadPlan]


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_ENDPOINT_URL=url,
        AWS_MAX_ATTEMPTS="2",
        COLUMNS="120",
    )
    return env


def _collect(url: str, *, tty: bool) -> tuple[bytes, bytes]:
    """The console script's stdout and stderr, stderr on a pseudo-terminal (tty) or a pipe."""
    argv = [str(S3DOCTOR), "collect", "--bucket", BUCKET, "--principal", ALICE, "--out", "-"]
    if not tty:
        done = subprocess.run(argv, capture_output=True, env=_env(url), timeout=60, check=True)
        return done.stdout, done.stderr
    leader, follower = pty.openpty()
    err = b""
    try:
        done = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=follower, env=_env(url), timeout=60, check=True
        )
        os.close(follower)
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(leader)
    return done.stdout, err


def test_collect_shows_reads_rate_and_eta_on_a_terminal_and_nothing_on_a_pipe(
    moto_url: str,
) -> None:
    if not S3DOCTOR.exists():
        pytest.skip(f"no console script at {S3DOCTOR}")
    out_tty, err_tty = _collect(moto_url, tty=True)
    out_pipe, err_pipe = _collect(moto_url, tty=False)
    assert b"collect" in err_tty and b"read/s" in err_tty  # the count's rate
    final = err_tty.decode().replace("\r", "\n").strip().splitlines()[-1]
    done, total = final.split("|")[-1].split()[0].split("/")  # tqdm's "n/total"
    assert done == total and int(total) > 5
    assert "<" in final  # tqdm's [elapsed<remaining] (the ETA)
    assert err_pipe == b""
    pipe, terminal = json.loads(out_pipe), json.loads(out_tty)
    assert {**pipe, "collected_at": ""} == {**terminal, "collected_at": ""}
