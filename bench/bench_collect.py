"""The live collector on a moto server: AWS calls per diagnosis and collection wall time.

For one GetObject denial (an IAM user in a group, an SSE-KMS object, a VPC endpoint, account
BPA, and optionally the organization path through a read role), measures:

- AWS calls of a cold collection and of a warm one (same principal and bucket within the TTL);
- wall time with 20 ms added to every call (a botocore `before-send` hook sleeping), serial
  (one worker) versus concurrent;
- sequential round trips of a cold collection: the longest chain of calls that each waited
  for the previous one's answer. Target: at most 4 without the organization walk.

Run: `python -m bench.bench_collect [--latency-ms 20] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import time
import urllib.request
from collections import Counter
from typing import Any

from moto.server import ThreadedMotoServer

from chalicelib.collect.clients import Boto3Clients
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.model import AccessRequest
from chalicelib.request import request_from_runbook
from tests.functional.collect.conftest import (
    ACCOUNT,
    configure_for_moto,
    seed_account,
    seed_organization,
    session,
)


class Instrument:
    """Counts calls (`before-call`) and adds latency to each (`before-send`)."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls: Counter[str] = Counter()

    def on_client(self, service: str, client: Any) -> None:
        configure_for_moto(service, client)
        client.meta.events.register("before-call.*.*", self._count)
        client.meta.events.register("before-send.*.*", self._sleep)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def _sleep(self, **_: Any) -> None:
        if self.latency_s:
            time.sleep(self.latency_s)


def _source(url: str, instrument: Instrument, *, workers: int, org: bool) -> Boto3SnapshotSource:
    clients = Boto3Clients(
        session(), region_name="us-east-1", endpoint_url=url, on_client=instrument.on_client
    )
    role = f"arn:aws:iam::{ACCOUNT}:role/org-reader" if org else None
    return Boto3SnapshotSource(clients, max_workers=workers, org_read_role_arn=role)


def _cold_wall(
    url: str, request: AccessRequest, *, latency_s: float, workers: int, org: bool, repeat: int
) -> float:
    """Best-of-`repeat` wall time of a cold collection (new source: empty cache)."""
    best = float("inf")
    for _ in range(repeat):
        source = _source(url, Instrument(latency_s), workers=workers, org=org)
        source.snapshot_for(request)  # warm up clients (connections, endpoint resolution)
        source.clear_cache()
        started = time.perf_counter()
        source.snapshot_for(request)
        best = min(best, time.perf_counter() - started)
    return best


def _row(
    url: str, request: AccessRequest, *, org: bool, latency_s: float, repeat: int
) -> list[str]:
    counter = Instrument(0.0)
    source = _source(url, counter, workers=16, org=org)
    source.snapshot_for(request)
    cold = sum(counter.calls.values())
    trips = source.last_round_trips
    counter.calls.clear()
    source.snapshot_for(request)
    warm = sum(counter.calls.values())

    serial = _cold_wall(url, request, latency_s=latency_s, workers=1, org=org, repeat=repeat)
    concurrent = _cold_wall(url, request, latency_s=latency_s, workers=16, org=org, repeat=repeat)
    return [
        "with organization role" if org else "account only",
        str(cold),
        str(warm),
        f"{serial * 1000:.0f} ms",
        f"{concurrent * 1000:.0f} ms",
        str(trips),
    ]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    rule = "  ".join("-" * w for w in widths)
    head = "  ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True))
    return "\n".join([head, rule, *lines])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server._server.server_port}"
    try:
        reset = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
        urllib.request.urlopen(reset).close()
        seeded = seed_account(url)
        seed_organization(url)
        request = request_from_runbook(
            {
                "requester_arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
                "action": "s3:GetObject",
                "resource_arn": "arn:aws:s3:::reports-bucket/2026/q3.csv",
                "vpc_endpoint_id": seeded.vpc_endpoint_id,
            }
        )
        latency_s = args.latency_ms / 1000
        rows = [
            _row(url, request, org=org, latency_s=latency_s, repeat=args.repeat)
            for org in (False, True)
        ]
    finally:
        server.stop()

    print(f"Collection for one GetObject denial, {args.latency_ms:g} ms added per AWS call")
    print(
        _table(
            ["scenario", "calls cold", "calls warm", "serial", "concurrent", "round trips"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
