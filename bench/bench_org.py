"""Organization scale (issue 14.5): distinct denials across member accounts, drained by
concurrent Lambda containers, with and without the shared collection cache.

A moto server (a process of its own for each run) holds a central account (moto's default)
with the stack's tables and topic, and `--accounts` member accounts, each with
`--principals / --accounts` IAM users (an inline policy each, a group with a managed policy)
and enough buckets (5 at the default size) that each of the `--denials` GetObject denials is
its own principal x bucket, with its own key, source IP and time: none is a repeat of another,
each needs a diagnosis. They go on a queue; `--containers` processes, each a cold Lambda
container (its own `wiring`, clients, in-memory caches and credentials), take them off the
queue through the real Chalice handler in organization mode (MEMBER_ROLE_NAME: each event is
read in its account as the member role) until it is drained. Then a second batch of `--warm`
new distinct denials goes through the same, now warm, containers.

Twice: without the shared cache (each container reads for itself), then with it
(COLLECTION_CACHE_TABLE_NAME; an empty table, new containers, a new findings table). Both run
with the default TTLs (60 s in memory and in the table).

Figures, counted by the server (so nothing a container does is missed): AWS read calls (IAM, S3,
S3 Control, KMS, EC2, Organizations; the account from each call's credentials) in total, per
denial and per account (min / median / max); STS calls (AssumeRole into the member roles); the
cache table's GetItem/PutItem; the time to drain each batch (wall) and the CPU time of the
containers and of the server. moto answers far slower than AWS (its CPU is most of the total),
so the wall times are a ceiling and the calls are the portable figure.

Run: `python -m bench.bench_org [--quick] [--denials N] [--accounts N] [--principals N]
[--containers N] [--warm N] [--json]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import logging
import multiprocessing
import os
import queue
import re
import statistics
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.iam.models import get_account_id_from
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
CENTRAL = "123456789012"  # moto's default account
ROLE_NAME = "s3-403-doctor-member-read"
CACHE_TABLE = "collection-cache"
READ_SERVICES = ("iam", "s3", "s3control", "kms", "ec2", "organizations")
COUNTS_PATH = "/_bench/counts"
MAX_SERVER_RSS = 8 * 1024**3  # moto's memory grows with the findings; stop before the machine
_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/")

ALLOW_OTHER = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
}


# ------------------------------------------------------------------ the server and its counts


class ServerCounts:
    """Requests by (service, account), and the DynamoDB calls by table (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()
        self.tables: Counter[str] = Counter()

    def record(self, environ: dict[str, Any], body: bytes) -> None:
        match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if match is None:
            return
        access_key, service = match.groups()
        with self._lock:
            self.calls[(service, get_account_id_from(access_key))] += 1
            if service == "dynamodb":
                table = json.loads(body or b"{}").get("TableName", "")
                operation = environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
                self.tables[f"{table}:{operation}"] += 1

    def take(self) -> bytes:
        """The counts since the last take, and the server's CPU time, as JSON."""
        with self._lock:
            calls, tables = self.calls, self.tables
            self.calls, self.tables = Counter(), Counter()
        document = {
            "calls": [[service, account, n] for (service, account), n in calls.items()],
            "tables": tables,
            "cpu": time.process_time(),
        }
        return json.dumps(document).encode()


class _Counting:
    """WSGI: count each request, then moto; DynamoDB one request at a time (moto's conditional
    writes and transactions are not atomic across threads, DynamoDB's are)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], counts: ServerCounts) -> None:
        self._app = app
        self._counts = counts
        self._dynamodb = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if environ.get("PATH_INFO") == COUNTS_PATH:
            answer = self._counts.take()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [answer]
        self._counts.record(environ, body)
        if "/dynamodb/" in environ.get("HTTP_AUTHORIZATION", ""):
            with self._dynamodb:
                return list(self._app(environ, start_response))
        return list(self._app(environ, start_response))


class CountingMotoServer(ThreadedMotoServer):
    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.counts = ServerCounts()

    def _server_entry(self) -> None:
        app = _Counting(DomainDispatcherApplication(create_backend_app), self.counts)
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


def _item_backups(transact: Callable[..., None]) -> Callable[..., None]:
    """moto's TransactWriteItems deep-copies the whole table to roll back a cancelled
    transaction: the store's transactions then cost O(findings) each, and the run O(n^2) in time
    and memory. This one keeps a copy of the items it touches instead (DynamoDB's outcome)."""
    from moto.dynamodb import models

    class _NoTableCopy:
        @staticmethod
        def deepcopy(table: Any) -> Any:
            return table

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        backups = []
        for item in transact_items:
            op = next(iter(item.values()))
            try:
                table = backend.get_table(op["TableName"])
            except Exception:  # the transaction itself reports it
                continue
            attrs = op.get("Item", {})
            names = (table.hash_key_attr, table.range_key_attr)
            key = op.get("Key") or {n: attrs[n] for n in names if n and n in attrs}
            current = backend.get_item(op["TableName"], key) if key else None
            old = current.to_json()["Attributes"] if current else None
            backups.append((op["TableName"], key, json.loads(json.dumps(old))))
        saved, models.copy = models.copy, _NoTableCopy  # type: ignore[assignment]
        try:
            transact(backend, transact_items)
        except Exception:
            for table_name, key, old in reversed(backups):
                if old is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, old)
            raise
        finally:
            models.copy = saved

    return transact_write_items


def serve(port: Any) -> None:
    """The moto server's process (one per run, so that one run's state and memory are gone
    before the next): reports its port, then serves until terminated."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = _item_backups(original)  # type: ignore[method-assign]
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = CountingMotoServer()
    server.start()
    port.put(server._server.server_port)  # type: ignore[union-attr]
    threading.Event().wait()


class Server:
    """A `serve` process, its counts, and a guard that ends it above MAX_SERVER_RSS."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        port = context.Queue()
        self._process = context.Process(target=serve, args=(port,), daemon=True)
        self._process.start()
        self.url = f"http://127.0.0.1:{port.get(timeout=120)}"
        self.largest_rss = 0
        threading.Thread(target=self._guard, daemon=True).start()

    def take(self) -> tuple[Counter[tuple[str, str]], Counter[str], float]:
        with urllib.request.urlopen(self.url + COUNTS_PATH) as response:
            document = json.loads(response.read())
        calls = Counter({(s, a): n for s, a, n in document["calls"]})
        return calls, Counter(document["tables"]), float(document["cpu"])

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(timeout=30)

    def _guard(self) -> None:
        status = Path(f"/proc/{self._process.pid}/status")
        while self._process.is_alive():
            try:
                line = next(x for x in status.read_text().splitlines() if x.startswith("VmRSS"))
            except (OSError, StopIteration):
                return
            rss = int(line.split()[1]) * 1024
            self.largest_rss = max(self.largest_rss, rss)
            if rss > MAX_SERVER_RSS:
                print(f"moto server above {MAX_SERVER_RSS >> 30} GB: stopped", file=sys.stderr)
                self._process.kill()
                return
            time.sleep(1)


# ------------------------------------------------------------------ the organization


@dataclass(frozen=True)
class Shape:
    denials: int
    accounts: int
    principals: int
    containers: int
    warm: int

    @property
    def member_accounts(self) -> list[str]:
        return [f"{200000000000 + n * 1111:012d}" for n in range(self.accounts)]

    def users(self, account_index: int) -> list[str]:
        per_account = max(1, self.principals // self.accounts)
        return [f"user-{account_index:02d}-{n:02d}" for n in range(per_account)]

    def buckets(self, account: str) -> list[str]:
        """Enough buckets per account that every denial is its own (principal, bucket)."""
        per_account = max(1, self.principals // self.accounts)
        count = -(-self.denials // (self.accounts * per_account))
        return [f"org-{account}-data-{n}" for n in range(count)]


def _session_in(account: str) -> boto3.Session:
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/seed", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def seed(shape: Shape) -> None:
    """Users with an inline policy and a group with a managed policy, three buckets, per member
    account (none allows the GetObject that is denied)."""
    for index, account in enumerate(shape.member_accounts):
        session = _session_in(account)
        iam, s3 = session.client("iam"), session.client("s3")
        policy_arn = iam.create_policy(
            PolicyName="ListData", PolicyDocument=json.dumps(ALLOW_OTHER)
        )["Policy"]["Arn"]
        iam.create_group(GroupName="analysts")
        iam.attach_group_policy(GroupName="analysts", PolicyArn=policy_arn)
        for user in shape.users(index):
            iam.create_user(UserName=user)
            iam.add_user_to_group(UserName=user, GroupName="analysts")
            iam.put_user_policy(
                UserName=user, PolicyName="list", PolicyDocument=json.dumps(ALLOW_OTHER)
            )
        for bucket in shape.buckets(account):
            s3.create_bucket(Bucket=bucket)


def denials(shape: Shape, batch: str, count: int, hour: int) -> list[dict[str, Any]]:
    """`count` distinct denials: each its own principal x bucket (so none is a repeat of
    another: each needs a diagnosis), key and source IP, at `hour` (a later batch is past the
    aggregation window of an earlier one)."""
    from chalicelib.demo.cloudtrail import user_get_object_denial

    events = []
    accounts = shape.member_accounts
    for n in range(count):
        index = n % len(accounts)
        account = accounts[index]
        users = shape.users(index)
        user = users[(n // len(accounts)) % len(users)]
        buckets = shape.buckets(account)
        bucket = buckets[(n // (len(accounts) * len(users))) % len(buckets)]
        minute, second = divmod(n % 3600, 60)
        event = user_get_object_denial(
            event_id=f"{batch}-{n}",
            event_time=f"2026-03-01T{hour:02d}:{minute:02d}:{second:02d}Z",
            account_id=account,
            region=REGION,
            user_name=user,
            user_id=f"AIDA{user.upper().replace('-', '')}",
            bucket=bucket,
            key=f"{batch}/reports/{n:05d}.csv",
        )
        event["detail"]["sourceIPAddress"] = f"10.{n % 200}.{n // 200 % 250}.{n % 7 + 1}"
        events.append(event)
    return events


# ------------------------------------------------------------------ one container (a process)


def _load_app() -> Any:
    spec = importlib.util.spec_from_file_location("app", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def container(env: dict[str, str], work: Any, go: Any, ready: Any, done: Any, results: Any) -> None:
    """A Lambda container: builds the app, then invokes the handler on each queued event."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from chalice.test import Client

    from chalicelib import wiring

    wiring.reset()
    app = _load_app()
    handler = next(s.name for s in app.event_sources if getattr(s, "event_pattern", None))
    errors: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    with Client(app) as chalice:
        for batch in ("cold", "warm"):
            ready.put(os.getpid())
            go.wait()
            handled, started = 0, time.process_time()
            while True:
                try:
                    event = work.get(timeout=0.5)
                except queue.Empty:
                    break
                if event is None:
                    break
                try:
                    statuses[chalice.lambda_.invoke(handler, event).payload["status"]] += 1
                except Exception as error:  # counted and shown, the run goes on
                    errors[type(error).__name__] += 1
                handled += 1
            sharing = wiring.read_sharing()
            stats = sharing.cache.stats.snapshot() if sharing.cache else {}
            results.put(
                {
                    "batch": batch,
                    "handled": handled,
                    "cpu": time.process_time() - started,
                    "errors": dict(errors),
                    "statuses": dict(statuses),
                    "cache": stats,
                }
            )
            errors.clear()
            statuses.clear()
            done.wait()


# ------------------------------------------------------------------ one run


@dataclass
class Batch:
    denials: int
    wall: float
    containers_cpu: float
    server_cpu: float
    reads: Counter[str] = field(default_factory=Counter)  # by account
    sts: int = 0
    cache_calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    cache_stats: Counter[str] = field(default_factory=Counter)

    @property
    def total_reads(self) -> int:
        return sum(self.reads.values())


def run(shape: Shape, server: Server, *, shared: bool) -> dict[str, Batch]:
    session = boto3.Session(region_name=REGION)
    findings = f"findings-{'shared' if shared else 'alone'}"
    from chalicelib.publish.store import create_table

    create_table(session.client("dynamodb"), findings)
    env = {
        "FINDINGS_TABLE_NAME": findings,
        "FINDINGS_TOPIC_ARN": session.client("sns").create_topic(Name=findings)["TopicArn"],
        "MEMBER_ROLE_NAME": ROLE_NAME,
        "COLLECTION_CACHE_TABLE_NAME": CACHE_TABLE if shared else "",
    }
    context = multiprocessing.get_context("spawn")
    work, ready, results = context.Queue(), context.Queue(), context.Queue()
    go, done = context.Event(), context.Event()
    processes = [
        context.Process(target=container, args=(env_for(env), work, go, ready, done, results))
        for _ in range(shape.containers)
    ]
    for process in processes:
        process.start()
    batches: dict[str, Batch] = {}
    for batch in ("cold", "warm"):
        count = shape.denials if batch == "cold" else shape.warm
        hour = 10 if batch == "cold" else 12
        for event in denials(shape, f"{'s' if shared else 'a'}-{batch}", count, hour):
            work.put(event)
        for _ in processes:
            ready.get(timeout=300)
        _, _, server_cpu = server.take()
        done.clear()
        started = time.perf_counter()
        go.set()
        reports = [results.get(timeout=3600) for _ in processes]
        wall = time.perf_counter() - started
        go.clear()
        calls, tables, cpu = server.take()
        result = Batch(
            denials=sum(r["handled"] for r in reports),
            wall=wall,
            containers_cpu=sum(r["cpu"] for r in reports),
            server_cpu=cpu - server_cpu,
        )
        for (service, account), n in calls.items():
            if service in READ_SERVICES:
                result.reads[account] += n
            elif service == "sts":
                result.sts += n
        result.cache_calls = Counter({k: v for k, v in tables.items() if k.startswith(CACHE_TABLE)})
        for report in reports:
            result.errors.update(report["errors"])
            result.statuses.update(report["statuses"])
            result.cache_stats.update(report["cache"])
        batches[batch] = result
        done.set()
    for process in processes:
        process.join(timeout=60)
    return batches


def env_for(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra, "PYTHONPATH": str(ROOT)}


def measure(shape: Shape) -> dict[str, dict[str, Batch]]:
    """Both runs, each on its own moto server process (seeded the same way)."""
    runs = {}
    for name, shared in (("without the shared cache", False), ("with the shared cache", True)):
        server = Server()
        saved = dict(os.environ)
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": server.url,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "POWERTOOLS_METRICS_DISABLED": "true",
                "LOG_LEVEL": "ERROR",
            }
        )
        try:
            seed(shape)
            from chalicelib.collect.shared_cache import create_cache_table

            create_cache_table(boto3.client("dynamodb", region_name=REGION), CACHE_TABLE)
            runs[name] = run(shape, server, shared=shared)
            print(f"{name}: moto server peak {server.largest_rss >> 20} MB", file=sys.stderr)
        finally:
            os.environ.clear()
            os.environ.update(saved)
            server.stop()
    return runs


# ------------------------------------------------------------------ output


def _spread(batch: Batch, accounts: list[str]) -> str:
    per = [batch.reads.get(a, 0) for a in accounts]
    return f"{min(per)}/{statistics.median(per):g}/{max(per)}"


def render(shape: Shape, runs: dict[str, dict[str, Batch]]) -> str:
    accounts = shape.member_accounts
    lines = [
        f"{shape.accounts} member accounts, {shape.principals} principals, "
        f"{shape.containers} containers (processes); cold: {shape.denials} distinct denials "
        f"(new containers, empty table), then warm: {shape.warm} new distinct denials "
        "(same containers, right after)",
        "",
        f"{'run':<26} {'batch':<5} {'reads':>6} {'/denial':>8} {'per account min/med/max':>24} "
        f"{'sts':>5} {'cache get/put':>14} {'drain s':>8} {'cpu s (containers+server)':>26}",
    ]
    for name, batches in runs.items():
        for label, b in batches.items():
            gets = sum(v for k, v in b.cache_calls.items() if k.endswith("GetItem"))
            puts = sum(v for k, v in b.cache_calls.items() if k.endswith("PutItem"))
            cpu = f"{b.containers_cpu:.0f}+{b.server_cpu:.0f}"
            lines.append(
                f"{name:<26} {label:<5} {b.total_reads:>6} {b.total_reads / b.denials:>8.2f} "
                f"{_spread(b, accounts):>24} {b.sts:>5} {f'{gets}/{puts}':>14} "
                f"{b.wall:>8.1f} {cpu:>26}"
            )
            if b.errors or set(b.statuses) != {"new"}:
                lines.append(f"  outcomes: {dict(b.statuses)}, errors: {dict(b.errors)}")
    alone = sum(b.total_reads for b in runs["without the shared cache"].values())
    shared = sum(b.total_reads for b in runs["with the shared cache"].values())
    lines += ["", f"AWS reads with the shared cache: {shared} of {alone} ({shared / alone:.0%})"]
    stats = Counter[str]()
    for b in runs["with the shared cache"].values():
        stats.update(b.cache_stats)
    lines.append(f"cache outcomes (both batches): {dict(sorted(stats.items()))}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 100 denials, 4x20")
    parser.add_argument("--denials", type=int, default=1000)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--principals", type=int, default=200)
    parser.add_argument("--containers", type=int, default=8)
    parser.add_argument("--warm", type=int, default=200, help="denials of the warm batch")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    shape = (
        Shape(denials=100, accounts=4, principals=20, containers=4, warm=40)
        if args.quick
        else Shape(args.denials, args.accounts, args.principals, args.containers, args.warm)
    )
    runs = measure(shape)
    if args.json:
        figures = {
            name: {
                label: {
                    "denials": b.denials,
                    "reads": b.total_reads,
                    "reads_by_account": dict(b.reads),
                    "sts": b.sts,
                    "cache_calls": dict(b.cache_calls),
                    "wall_seconds": round(b.wall, 2),
                    "containers_cpu_seconds": round(b.containers_cpu, 2),
                    "server_cpu_seconds": round(b.server_cpu, 2),
                    "errors": dict(b.errors),
                    "statuses": dict(b.statuses),
                }
                for label, b in batches.items()
            }
            for name, batches in runs.items()
        }
        print(json.dumps(figures, indent=2))
    else:
        print(render(shape, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
