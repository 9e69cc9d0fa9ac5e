"""The alert budget: at most `limit` alerts per bucket per window, then one notice (DESIGN 3.5).

Outsiders choose how many denials they cause; aggregation keeps their findings few, and the
budget caps what reaches people whatever gets through: per bucket and fixed window (aligned on
the epoch, of the aggregation window's length), the first `limit` alerts are sent; the next one
sends instead one notice that the budget is spent; later ones are counted, not sent. The first
alert of a later window for that bucket is preceded by a summary of how many were suppressed in
the bucket's last window. Every finding is still stored and counted: only alerts are held back.

One record per bucket holds the window's counts. Each step is one conditional write, so the
notice and the summary are sent at most once, whatever runs concurrently:

1. `sent < limit` in this window: take a slot (`granted`);
2. else, in this window: count one more suppressed alert (the first one sends the notice);
3. else (a new window, or no record): start the window with this alert's slot, returning the
   last window's counts (its suppressed alerts are summarised once, by whoever started it).

`BudgetedPublisher` wraps a publisher with it.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from botocore.exceptions import ClientError

from ..diagnose.untrusted import text
from ..lean_dataclass import dataclass
from ..model import Finding
from .message import Notice
from .timestamps import format_utc

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_BUDGET = 10
RECORD_DAYS = 7  # a bucket's record outlives its window, so the next window can summarise it
ACCOUNT_WIDE = "(no bucket)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """What taking a slot in a bucket's window gave."""

    granted: bool
    suppressed: int = 0  # suppressed alerts in this window so far, this one included
    previous: Window | None = None  # the bucket's last window, when this claim started a new one


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """A bucket's alert counts in one window."""

    bucket: str
    start: str
    end: str
    sent: int
    suppressed: int


class AlertBudget(Protocol):
    """Where the per-bucket window counts live."""

    def claim(self, bucket: str, *, start: str, end: str, limit: int) -> Claim: ...


class NoticePublisher(Protocol):
    """A publisher that sends findings and notices (SNS and its in-memory twin)."""

    def publish(self, finding: Finding) -> str: ...

    def publish_notice(self, notice: Notice) -> str: ...


def window_bounds(at: datetime, length: timedelta) -> tuple[str, str]:
    """The fixed window (start, end) holding `at`, aligned on the epoch."""
    seconds = int(length.total_seconds())
    start = int(at.timestamp()) // seconds * seconds
    begin = datetime.fromtimestamp(start, at.tzinfo)
    return format_utc(begin), format_utc(begin + length)


def spent_notice(bucket: str, *, limit: int, end: str) -> Notice:
    """Sent once, instead of the first alert over the budget."""
    shown = text(bucket)
    return Notice(
        bucket=bucket,
        subject=f"S3 403 alerts paused for {text(bucket, 40)} until {end}",
        text=(
            f"The alert budget of bucket {shown} ({limit} alerts per window) is spent. "
            f"Until {end}, new findings about it are stored and counted but not alerted; "
            "the first alert after that says how many were held back. List them with "
            f"`{_listing(bucket)}` or GET /findings{_query(bucket)}."
        ),
    )


def summary_notice(window: Window) -> Notice:
    """Sent once, before the first alert of a bucket's next window."""
    return Notice(
        bucket=window.bucket,
        subject=f"S3 403 alerts: {window.suppressed} held back for {text(window.bucket, 40)}",
        text=(
            f"Between {window.start} and {window.end}, {window.sent} alerts were sent about "
            f"bucket {text(window.bucket)} and {window.suppressed} more were held back by the "
            f"alert budget. Their findings are stored: `{_listing(window.bucket, window.start)}`."
        ),
    )


def _listing(bucket: str, since: str | None = None) -> str:
    """The `s3doctor findings list` command for `bucket`, quoted for a shell, shown as data;
    for denials on no bucket (`ACCOUNT_WIDE`: ListBuckets…) every bucket's, as none is stored
    under that name."""
    argv = ["s3doctor", "findings", "list"]
    if bucket != ACCOUNT_WIDE:
        argv += ["--bucket", bucket]
    return text(shlex.join([*argv, "--since", since] if since else argv))


def _query(bucket: str) -> str:
    """The API's query for `bucket`'s findings (none for denials on no bucket: `_listing`)."""
    return "" if bucket == ACCOUNT_WIDE else f"?bucket={quote(bucket, safe='')}"


class BudgetedPublisher:
    """Sends a finding's alert only while its bucket's budget lasts (module docstring)."""

    def __init__(
        self,
        inner: NoticePublisher,
        budget: AlertBudget,
        *,
        limit: int,
        window: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._inner = inner
        self._budget = budget
        self._limit = limit
        self._window = window
        self._clock = clock

    def publish(self, finding: Finding) -> str:
        """The alert's message id, or "" when the budget held it back."""
        bucket = finding.request.bucket or ACCOUNT_WIDE
        start, end = window_bounds(self._clock(), self._window)
        claim = self._budget.claim(bucket, start=start, end=end, limit=self._limit)
        if claim.previous is not None and claim.previous.suppressed:
            self._inner.publish_notice(summary_notice(claim.previous))
        if claim.granted:
            return self._inner.publish(finding)
        if claim.suppressed == 1:
            self._inner.publish_notice(spent_notice(bucket, limit=self._limit, end=end))
        return ""

    def repeated(self, finding_id: str, lookup: Callable[[str], Finding | None]) -> None:
        """A repeat was counted: the sinks that keep findings current hear of it (fanout.py).

        Not an alert, so outside the budget; never raises."""
        update = getattr(self._inner, "repeated", None)
        if update is not None:
            update(finding_id, lookup)


class InMemoryAlertBudget:
    """The budget in a dict, for tests and offline runs (not thread-safe)."""

    def __init__(self) -> None:
        self.windows: dict[str, Window] = {}

    def claim(self, bucket: str, *, start: str, end: str, limit: int) -> Claim:
        current = self.windows.get(bucket)
        if current is not None and current.start == start:
            if current.sent < limit:
                self.windows[bucket] = replace(current, sent=current.sent + 1)
                return Claim(granted=True)
            self.windows[bucket] = replace(current, suppressed=current.suppressed + 1)
            return Claim(granted=False, suppressed=current.suppressed + 1)
        if current is not None and current.start > start:  # a late clock: count it as now
            return self.claim(bucket, start=current.start, end=current.end, limit=limit)
        self.windows[bucket] = Window(bucket=bucket, start=start, end=end, sent=1, suppressed=0)
        return Claim(granted=limit > 0, previous=current)


class DynamoAlertBudget:
    """The budget in the findings table: one item `budget#<bucket>` per bucket."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    def claim(self, bucket: str, *, start: str, end: str, limit: int) -> Claim:
        key = {"pk": {"S": f"budget#{bucket}"}}
        for _ in range(5):  # each miss means another invocation moved the window meanwhile
            taken = self._update(
                key,
                "SET sent = sent + :one",
                "window_start = :w AND sent < :limit",
                {":one": 1, ":w": start, ":limit": limit},
            )
            if taken is not None:
                return Claim(granted=True)
            counted = self._update(
                key,
                "SET suppressed = suppressed + :one",
                "window_start = :w",
                {":one": 1, ":w": start},
                returns="UPDATED_NEW",
            )
            if counted is not None:
                return Claim(granted=False, suppressed=int(counted["suppressed"]["N"]))
            old = self._update(
                key,
                "SET window_start = :w, window_end = :e, sent = :one, suppressed = :zero, "
                "budget_bucket = :b, expires_at = :x",
                "attribute_not_exists(pk) OR window_start < :w",
                {
                    ":w": start,
                    ":e": end,
                    ":one": 1,
                    ":zero": 0,
                    ":b": bucket,
                    ":x": int(time.time()) + RECORD_DAYS * 86_400,
                },
                returns="ALL_OLD",
            )
            if old is not None:
                return Claim(granted=limit > 0, previous=_window(old) if old else None)
            current = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)
            later = _window(current.get("Item", {}))
            if later is not None and later.start > start:  # a late clock: count it as now
                start, end = later.start, later.end
        raise RuntimeError(f"alert budget of {bucket!r}: the window kept moving; retry")

    def _update(
        self,
        key: dict[str, Any],
        expression: str,
        condition: str,
        values: dict[str, str | int],
        *,
        returns: str = "NONE",
    ) -> dict[str, Any] | None:
        """The returned attributes ({} for NONE) when written; None when the condition failed."""
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues={k: _attr(v) for k, v in values.items()},
                ReturnValues=returns,  # type: ignore[arg-type]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return dict(response.get("Attributes", {}))


def _attr(value: str | int) -> dict[str, str]:
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def _window(item: dict[str, Any]) -> Window | None:
    try:
        return Window(
            bucket=item["budget_bucket"]["S"],
            start=item["window_start"]["S"],
            end=item["window_end"]["S"],
            sent=int(item["sent"]["N"]),
            suppressed=int(item["suppressed"]["N"]),
        )
    except (KeyError, ValueError):
        return None
