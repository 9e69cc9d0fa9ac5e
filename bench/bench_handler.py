"""The event handler on a moto server: events per second, and what a burst of denials costs.

Workloads, each through the real Chalice handler (`chalice.test.Client`), the real collector,
DynamoDB store and SNS publisher, all talking HTTP to a moto server on a loopback port:

- distinct: denials that each need a diagnosis (different user x bucket pairs);
- burst: 1,000 identical denials (same user, action, bucket, message; new event ids).

For each: wall time, events per second, and AWS API calls by operation. moto is much slower
than AWS per call (and its TransactWriteItems copies the table), so read the calls per event as
the portable figure and the rate as a floor.

Run: `python -m bench.bench_handler [--distinct N] [--burst N]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from chalice.test import Client
from moto.server import ThreadedMotoServer

from chalicelib import wiring
from chalicelib.demo.cloudtrail import user_get_object_denial
from chalicelib.publish.store import create_table

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"
KEY = "data/report.csv"


@contextmanager
def moto_stack() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server._server.server_port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_METRICS_DISABLED": "true",
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        yield os.environ["AWS_ENDPOINT_URL"]
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


class Calls:
    """AWS API calls by `service.Operation`, from a botocore hook on the given clients."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[f"{model.service_model.service_name}.{model.name}"] += 1


def event(event_id: str, *, user: str, bucket: str) -> dict[str, Any]:
    return user_get_object_denial(
        event_id=event_id,
        event_time="2025-03-01T10:00:00Z",
        account_id=ACCOUNT,
        region=REGION,
        user_name=user,
        user_id=f"AIDA{user}",
        bucket=bucket,
        key=KEY,
    )


def _load_app() -> Any:
    spec = importlib.util.spec_from_file_location("app", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def run(distinct: int, burst: int) -> list[tuple[str, int, float, Counter[str]]]:
    rows = []
    with moto_stack():
        session = boto3.Session(region_name=REGION)
        users = [f"user{n}" for n in range(max(1, distinct // 10))]
        buckets = [f"bucket-{n}" for n in range(10)]
        for user in users:
            session.client("iam").create_user(UserName=user)
        for bucket in buckets:
            session.client("s3").create_bucket(Bucket=bucket)
        create_table(session.client("dynamodb"), "findings")
        os.environ["FINDINGS_TABLE_NAME"] = "findings"
        os.environ["FINDINGS_TOPIC_ARN"] = session.client("sns").create_topic(Name="findings")[
            "TopicArn"
        ]
        wiring.reset()
        app = _load_app()
        handler = next(s.name for s in app.event_sources if getattr(s, "event_pattern", None))
        calls = Calls()
        for client in (wiring.dynamodb(), wiring.sns()):
            calls.attach(client)
        wiring.snapshot_source()  # built now, so its clients are counted from the first event
        with Client(app) as chalice:
            workloads = {
                "distinct": [
                    event(
                        f"d-{n}", user=users[n % len(users)], bucket=buckets[n // len(users) % 10]
                    )
                    for n in range(distinct)
                ],
                "burst": [event(f"b-{n}", user="burst", bucket="bucket-0") for n in range(burst)],
            }
            session.client("iam").create_user(UserName="burst")
            for name, events in workloads.items():
                calls.counts.clear()
                before = Counter(wiring.COLLECTION_CALLS.snapshot())
                started = time.perf_counter()
                for item in events:
                    chalice.lambda_.invoke(handler, item)
                elapsed = time.perf_counter() - started
                collected = Counter(wiring.COLLECTION_CALLS.snapshot())
                collected.subtract(before)
                rows.append((name, len(events), elapsed, calls.counts + collected))
    return rows


def render(rows: list[tuple[str, int, float, Counter[str]]]) -> str:
    lines = [f"{'workload':<10} {'events':>7} {'seconds':>8} {'events/s':>9} {'API calls':>10}"]
    for name, count, seconds, calls in rows:
        total = sum(calls.values())
        lines.append(f"{name:<10} {count:>7} {seconds:>8.2f} {count / seconds:>9.1f} {total:>10}")
    for name, count, _, calls in rows:
        lines.append(f"\n{name}: API calls by operation (per event)")
        for operation, n in sorted(calls.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {operation:<40} {n:>6}  ({n / count:.2f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distinct", type=int, default=100)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    rows = run(args.distinct, args.burst)
    if args.json:
        figures = [
            {"workload": n, "events": c, "seconds": round(s, 3), "calls": dict(k)}
            for n, c, s, k in rows
        ]
        print(json.dumps(figures, indent=2))
    else:
        print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
