"""Tri-state reads: the one place where AWS error codes are interpreted.

A read is `Present` (the API answered), `Absent` (the API says the thing does not exist or is not
configured: a fact) or `Unreadable` (we were refused, or the API keeps failing on this target:
the layer stays unknown). Unreadable never turns into absent. Transient errors (throttling, 5xx)
are retried by botocore (`read_retry_config`) and, if they persist, raised as a `CollectError`
so that Lambda retries the event; any other error (a 400 such as HeadObject on an SSE-C object,
an unexpected `NoSuch...`) would fail every retry the same way, so it is `Unreadable` with the
error's code.

`ReadPlan` runs reads concurrently in a thread pool and calls each read's continuation on the
calling thread, so the snapshot document is assembled without locks and a continuation can
schedule the reads that depend on it (no worker ever waits for another). `ReadCache` keeps
results per warm container for a TTL.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from botocore.exceptions import ClientError

from ..lean_dataclass import dataclass
from ..model import DiagnoserError, Json

if TYPE_CHECKING:
    from botocore.config import Config


@functools.cache
def read_retry_config() -> Config:
    """The collectors' clients: adaptive retries, a pool for their threads. Made when a client
    is (botocore.config costs 0.1 s to import: an offline replay never needs it)."""
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "max_attempts": 8}, max_pool_connections=32)


ABSENT_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NoSuchBucketPolicy",
        "NoSuchPublicAccessBlockConfiguration",
        "OwnershipControlsNotFoundError",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchEntity",
        "NoSuchKey",
        "NoSuchVersion",
        "NoSuchAccessPoint",
        "NoSuchAccessPointPolicy",
        "NotFoundException",
        "InvalidVpcEndpointId.NotFound",
        "AWSOrganizationsNotInUseException",
        "PolicyTypeNotEnabledException",
    }
)
"""The API says "does not exist / not configured". `AWSOrganizationsNotInUseException` is a
fact (the account is in no organization, so no SCP or RCP applies), not a refusal."""

DENIED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "AccessDeniedException",
        "AllAccessDisabled",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
    }
)
"""We could not read it: refused, or credentials the account does not accept."""

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
        "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
        "ConcurrentModificationException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceException",
        "ServiceFailureException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSInternalException",
    }
)
"""Errors that may pass on their own: raised, so that Lambda retries the whole event."""

OBJECT_READS_DISABLED = "ObjectReadsDisabled"
"""The `$unreadable` code of an object's head and ACL when object reads are off by configuration
(`READ_OBJECTS=false`)."""

UNREADABLE_KEY = "$unreadable"


class CollectError(DiagnoserError):
    """An AWS read failed for a reason that is neither "absent" nor "refused"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Present:
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Absent:
    """The document does not exist (e.g. NoSuchBucketPolicy): a fact, not a gap."""

    code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unreadable:
    """We were not allowed to read it: the layer's verdict must stay unknown."""

    code: str
    needs: str

    def to_doc(self) -> Json:
        """The snapshot marker put in place of the part that could not be read."""
        return {UNREADABLE_KEY: self.code, "needs": self.needs}


Fetched: TypeAlias = Present | Absent | Unreadable


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "") or "")


def http_status(error: ClientError) -> int:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else 0


def is_transient(error: ClientError) -> bool:
    """Throttling or a server-side failure: worth retrying the event later."""
    status = http_status(error)
    return error_code(error) in TRANSIENT_CODES or status == 429 or status >= 500


def persistent_code(error: ClientError) -> str:
    """A readable code for an error that will not pass: `InvalidRequest`, `HTTP 400 Bad Request`.

    Responses without a body (HEAD) carry only the status as their code.
    """
    code = error_code(error)
    if code and not code.isdigit():
        return code
    status = code or str(http_status(error) or "")
    message = str(error.response.get("Error", {}).get("Message", "") or "")
    return f"HTTP {status} {message}".strip() if status else "UnknownError"


def fetch(call: Callable[[], Any], *, needs: str, what: str) -> Fetched:
    """Run one read and classify its outcome instead of raising.

    `needs` is the IAM action the call requires (reported when refused); `what` names the
    target for error messages.
    """
    try:
        return Present(value=call())
    except ClientError as error:
        code = error_code(error)
        if code in ABSENT_CODES:
            return Absent(code=code)
        if code in DENIED_CODES:
            return Unreadable(code="AccessDenied" if code == "403" else code, needs=needs)
        if is_transient(error):
            raise CollectError(f"{needs} on {what} failed: {error}") from error
        return Unreadable(code=persistent_code(error), needs=needs)


def is_unreadable(part: Any) -> bool:
    """True when a snapshot part is an `{"$unreadable": ...}` marker."""
    return isinstance(part, dict) and UNREADABLE_KEY in part


def without_metadata(response: Json) -> Json:
    """An API response without botocore's ResponseMetadata (what the AWS CLI prints)."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def jsonable(value: Any) -> Any:
    """The value with datetimes as ISO strings and bytes dropped, ready for `json.dumps`."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if not isinstance(v, bytes)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Read:
    """One AWS read: a cache key, the call, and the IAM action it needs."""

    key: Hashable
    call: Callable[[], Any]
    needs: str
    what: str

    def run(self) -> Fetched:
        return fetch(self.call, needs=self.needs, what=self.what)


class ReadCache:
    """Per-warm-container read results, each kept `ttl_seconds` after it was read."""

    def __init__(self, *, ttl_seconds: float, clock: Callable[[], datetime]) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Fetched]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Fetched | None:
        now = self._clock().timestamp()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= now:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: Hashable, value: Fetched) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock().timestamp() + self._ttl, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


Continuation: TypeAlias = Callable[[Fetched], None]


class ReadPlan:
    """Runs reads concurrently; continuations run on the thread that calls `run()`.

    Within one plan, a read with the same key runs once and feeds every continuation.
    `round_trips` is the longest chain of reads that each waited for the previous one: the
    number of sequential AWS round trips the collection took.
    """

    def __init__(self, pool: ThreadPoolExecutor, cache: ReadCache) -> None:
        self._pool = pool
        self._cache = cache
        self._pending: dict[Future[Fetched], tuple[Read, int]] = {}
        self._waiters: dict[Hashable, list[Continuation]] = {}
        self._ready: list[tuple[Continuation, Fetched, int]] = []
        self._depth = 0  # round trips behind the continuation now running
        self.round_trips = 0

    def read(self, read: Read, then: Continuation) -> None:
        """Schedule `read` (or reuse its cached result) and call `then` with the result."""
        cached = self._cache.get(read.key)
        if cached is not None:
            self._ready.append((then, cached, self._depth))
            return
        waiters = self._waiters.get(read.key)
        if waiters is not None:
            waiters.append(then)
            return
        self._waiters[read.key] = [then]
        self._pending[self._pool.submit(read.run)] = (read, self._depth + 1)

    def run(self) -> None:
        """Run until every read scheduled, directly or by a continuation, has been consumed."""
        while self._ready or self._pending:
            while self._ready:
                then, result, self._depth = self._ready.pop(0)
                then(result)
            self._depth = 0
            if not self._pending:
                break
            done, _ = wait(tuple(self._pending), return_when=FIRST_COMPLETED)
            for future in done:
                read, depth = self._pending.pop(future)
                result = future.result()
                self._cache.put(read.key, result)
                self.round_trips = max(self.round_trips, depth)
                for then in self._waiters.pop(read.key):
                    self._ready.append((then, result, depth))
