"""What the event function's warm containers share, so a burst across many accounts does not
multiply reads by the number of containers: a DynamoDB collection cache, and a bound on
concurrent reads per account.

`SharedReadCache` keeps each read's answer (one API call with its parameters: a part, such as
`s3:GetBucketPolicy` of one bucket) under its account and partition for a short TTL (default
60 s). A read consults it first and fills it after a miss. What it keeps:

- `Present` and `Absent` answers of the IAM, S3, KMS, EC2 and Organizations reads, compressed
  (zlib over JSON); one that would not fit in a DynamoDB item is not kept (counted `too_large`);
- the organization's account ids (`organizations:ListAccounts`, collect/membership.py), for
  that module's own TTL (5 minutes);
- never an `Unreadable` answer: it depends on the reader's permissions, which is what an admin
  fixes after the "could not check" finding, so the next denial must read again; nor any STS
  answer (credentials are never written anywhere).

DynamoDB returns an expired item until its TTL sweep deletes it (up to days later), so the
expiry is checked on every read. Any failure of the table (throttled, denied, missing) makes the
read a direct one, counted in `errors`, and the table is left alone for `cooldown` seconds:
the cache can slow nothing down by more than one failed call, and never fails a diagnosis.

Two containers missing the same part at the same moment both read it (no lock: a lock would cost
a write per read); the duplicates are bounded by the number of containers per part per TTL.

`ReadLimiter` bounds the reads in flight per account inside a container (a semaphore per
account), on top of botocore's adaptive retry mode (collect/base.py `read_retry_config`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..lean_dataclass import dataclass
from .base import Absent, Continuation, Fetched, Present, Read, ReadCache, ReadPlan, jsonable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SHARED_SERVICES = ("iam:", "s3:", "kms:", "ec2:", "organizations:")
"""Reads whose answers are kept (keys start with the IAM action): never `sts:` (credentials)."""

MAX_VALUE_BYTES = 380_000
"""A compressed answer above this is not kept: a DynamoDB item is at most 400 KB, key and
attribute names included."""

CACHE_TABLE_DEFINITION: dict[str, Any] = {
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
}
CACHE_TTL_ATTRIBUTE = "expires_at"

DEFAULT_TTL_SECONDS = 60
DEFAULT_READS_PER_ACCOUNT = 8
DEFAULT_COOLDOWN_SECONDS = 30.0


class CacheStats:
    """What the cache did, by outcome (thread-safe): hit, miss, stale, write, too_large,
    errors, bypassed (table left alone after a failure)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._taken: Counter[str] = Counter()

    def add(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts since the container started."""
        with self._lock:
            return dict(self._counts)

    def take(self) -> dict[str, int]:
        """The counts since the last `take` (an invocation's, for its metrics)."""
        with self._lock:
            since = self._counts - self._taken
            self._taken = self._counts.copy()
        return dict(since)


def create_cache_table(client: DynamoDBClient, table_name: str) -> None:
    """Create the cache table as the stack does, TTL on `expires_at` (tests, benchmarks)."""
    client.create_table(TableName=table_name, **CACHE_TABLE_DEFINITION)
    client.get_waiter("table_exists").wait(TableName=table_name)
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"AttributeName": CACHE_TTL_ATTRIBUTE, "Enabled": True},
    )


def item_key(account: str, partition: str, key: Hashable) -> str:
    """The table key of one part: `<partition>:<account>:<sha256 of the read's key>` (a read
    key holds untrusted names of any length; the digest keeps the item key short)."""
    canonical = json.dumps(jsonable(key), separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{partition}:{account}:{digest}"


def encode(result: Fetched) -> bytes | None:
    """The stored form of a `Present` or `Absent` answer; None for anything else."""
    match result:
        case Present(value=value):
            document: dict[str, Any] = {"present": jsonable(value)}
        case Absent(code=code):
            document = {"absent": code}
        case _:
            return None
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)


def decode(blob: bytes) -> Fetched:
    document = json.loads(zlib.decompress(blob))
    if "absent" in document:
        return Absent(code=str(document["absent"]))
    return Present(value=document["present"])


def shareable(key: Hashable) -> bool:
    return isinstance(key, tuple) and bool(key) and str(key[0]).startswith(SHARED_SERVICES)


class SharedReadCache:
    """The collection cache table (module docstring), through an injected DynamoDB client."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], datetime],
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        stats: CacheStats | None = None,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._cooldown = cooldown_seconds
        self._monotonic = monotonic
        self._resume_at = 0.0
        self.stats = stats or CacheStats()

    def get(self, account: str, partition: str, key: Hashable) -> Fetched | None:
        """The kept answer, or None (absent, expired, from another account, or table failing)."""
        if not self._available():
            return None
        try:
            item = self._client.get_item(
                TableName=self.table_name, Key={"pk": {"S": item_key(account, partition, key)}}
            ).get("Item")
        except (ClientError, BotoCoreError):
            self._failed()
            return None
        if item is None or item.get("account", {}).get("S") != account:
            self.stats.add("miss")
            return None
        try:
            if float(item[CACHE_TTL_ATTRIBUTE]["N"]) <= self._clock().timestamp():
                self.stats.add("stale")  # not yet swept by TTL
                return None
            result = decode(item["value"]["B"])
        except (KeyError, TypeError, ValueError, zlib.error):
            self.stats.add("miss")  # not an item of ours: read again, overwrite it
            return None
        self.stats.add("hit")
        return result

    def put(
        self,
        account: str,
        partition: str,
        key: Hashable,
        result: Fetched,
        *,
        ttl_seconds: float | None = None,
    ) -> None:
        """Keep `result` for the table's TTL, or `ttl_seconds` (the organization's accounts)."""
        blob = encode(result)
        if blob is None or not self._available():
            return
        if len(blob) > MAX_VALUE_BYTES:
            self.stats.add("too_large")
            return
        expires_at = int(self._clock().timestamp() + (ttl_seconds or self._ttl))
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": item_key(account, partition, key)},
                    "account": {"S": account},
                    "part": {"S": str(key[0]) if isinstance(key, tuple) else ""},
                    "value": {"B": blob},
                    CACHE_TTL_ATTRIBUTE: {"N": str(expires_at)},
                },
            )
        except (ClientError, BotoCoreError):
            self._failed()
            return
        self.stats.add("write")

    def _available(self) -> bool:
        if self._monotonic() < self._resume_at:
            self.stats.add("bypassed")
            return False
        return True

    def _failed(self) -> None:
        self.stats.add("errors")
        self._resume_at = self._monotonic() + self._cooldown


class ReadLimiter:
    """At most `per_account` reads in flight per account in this container."""

    def __init__(self, per_account: int = DEFAULT_READS_PER_ACCOUNT) -> None:
        self.per_account = per_account
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def slot(self, account: str) -> threading.BoundedSemaphore:
        with self._lock:
            slot = self._slots.get(account)
            if slot is None:
                slot = self._slots[account] = threading.BoundedSemaphore(self.per_account)
            return slot


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadSharing:
    """What a container's collectors share: the cache table (None: off) and the limiter."""

    cache: SharedReadCache | None
    limiter: ReadLimiter

    def run(self, read: Read, account: str, partition: str) -> Fetched:
        """The kept answer of `read`, else its AWS read (bounded per account), then kept."""
        kept = self.cache is not None and shareable(read.key)
        if kept and self.cache is not None:
            cached = self.cache.get(account, partition, read.key)
            if cached is not None:
                return cached
        with self.limiter.slot(account):
            result = Read.run(read)
        if kept and self.cache is not None:
            self.cache.put(account, partition, read.key, result)
        return result


@dataclass(frozen=True, slots=True, kw_only=True)
class _SharedRead(Read):
    sharing: ReadSharing
    account: str
    partition: str

    def run(self) -> Fetched:
        return self.sharing.run(self, self.account, self.partition)


class SharedPlan(ReadPlan):
    """A `ReadPlan` whose reads go through `sharing` as reads of `account` (None: unknown yet,
    e.g. before the first GetCallerIdentity: bounded, not kept)."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        cache: ReadCache,
        sharing: ReadSharing,
        account: str | None,
        partition: str,
    ) -> None:
        super().__init__(pool, cache)
        self._sharing = sharing if account else ReadSharing(cache=None, limiter=sharing.limiter)
        self._account = account or ""
        self._partition = partition

    def read(self, read: Read, then: Continuation) -> None:
        shared = _SharedRead(
            key=read.key,
            call=read.call,
            needs=read.needs,
            what=read.what,
            sharing=self._sharing,
            account=self._account,
            partition=self._partition,
        )
        super().read(shared, then)
