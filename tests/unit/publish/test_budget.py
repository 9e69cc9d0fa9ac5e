"""The alert budget: what people receive when one bucket's findings keep coming."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib.publish.budget import (
    ACCOUNT_WIDE,
    BudgetedPublisher,
    InMemoryAlertBudget,
    Window,
    spent_notice,
    summary_notice,
    window_bounds,
)
from chalicelib.publish.memory import ListPublisher
from chalicelib.publish.message import SNS_LIMIT

from .builders import build_finding

WINDOW = timedelta(minutes=15)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 10, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _budgeted(limit: int = 3) -> tuple[BudgetedPublisher, ListPublisher, Clock]:
    inner, clock = ListPublisher(), Clock()
    publisher = BudgetedPublisher(
        inner, InMemoryAlertBudget(), limit=limit, window=WINDOW, clock=clock
    )
    return publisher, inner, clock


def test_windows_are_fixed_and_aligned() -> None:
    start, end = window_bounds(datetime(2025, 3, 1, 10, 7, 30, tzinfo=UTC), WINDOW)
    assert (start, end) == ("2025-03-01T10:00:00Z", "2025-03-01T10:15:00Z")


def test_alerts_stop_at_the_budget_and_one_notice_says_until_when() -> None:
    publisher, inner, _ = _budgeted(limit=3)

    ids = [publisher.publish(build_finding(f"e-{n}", user=f"u{n}")) for n in range(7)]

    assert len(inner.sent) == 3 and all(ids[:3]) and ids[3:] == [""] * 4
    assert len(inner.notices) == 1
    notice, message = inner.notices[0]
    assert "Until 2025-03-01T10:15:00Z" in notice.text and "reports" in notice.text
    assert message.attributes["kind"]["StringValue"] == "alert-budget"
    assert message.attributes["bucket"]["StringValue"] == "reports"
    assert message.subject.isascii() and len(message.subject) < 100


def test_the_next_window_opens_with_how_many_were_held_back() -> None:
    publisher, inner, clock = _budgeted(limit=2)
    for n in range(6):
        publisher.publish(build_finding(f"e-{n}", user=f"u{n}"))
    clock.now += timedelta(hours=2)

    publisher.publish(build_finding("later"))

    summaries = [n for n, _ in inner.notices if "held back" in n.subject]
    assert len(summaries) == 1
    assert "4 held back" in summaries[0].subject
    assert "2 alerts were sent" in summaries[0].text
    assert inner.sent[-1][0].finding_id == "later"


def test_buckets_are_budgeted_apart() -> None:
    publisher, inner, _ = _budgeted(limit=1)

    publisher.publish(build_finding("a", bucket="one"))
    publisher.publish(build_finding("b", bucket="two"))

    assert [f.finding_id for f, _ in inner.sent] == ["a", "b"] and inner.notices == []


def test_a_notice_is_a_valid_sns_message() -> None:
    publisher, inner, _ = _budgeted(limit=1)
    publisher.publish(build_finding("a"))
    publisher.publish(build_finding("b"))

    _, message = inner.notices[0]
    structure = json.loads(message.message)
    assert set(structure) >= {"default", "email", "sqs"}
    assert json.loads(structure["sqs"])["kind"] == "alert-budget"
    assert len(message.message.encode()) < SNS_LIMIT


def test_a_hostile_bucket_name_is_data_in_notices() -> None:
    bucket = "b\n\nFIX `$(touch PWNED)`\x1b[2J"
    notice = spent_notice(bucket, limit=3, end="2025-03-01T10:15:00Z")
    summary = summary_notice(Window(bucket=bucket, start="s", end="e", sent=3, suppressed=2))

    for shown in (notice, summary):
        assert "\n" not in shown.text and "\x1b" not in shown.text
        assert "\n" not in shown.subject and "\x1b" not in shown.subject
    assert "--bucket 'b" in notice.text  # the bucket is one quoted shell argument
    assert "bucket=b%0A%0AFIX" in notice.text  # and URL-encoded in the API path
    assert notice.bucket == bucket  # the attribute keeps the raw value


def test_denials_on_no_bucket_are_listed_without_a_bucket_filter() -> None:
    # ListBuckets and other account-wide calls share one budget; no finding is stored under
    # a bucket of that name, so the notices list every bucket's findings.
    notice = spent_notice(ACCOUNT_WIDE, limit=3, end="2025-03-01T10:15:00Z")
    summary = summary_notice(
        Window(bucket=ACCOUNT_WIDE, start="2025-03-01T10:00:00Z", end="e", sent=3, suppressed=2)
    )

    assert "`s3doctor findings list` or GET /findings." in notice.text
    assert "`s3doctor findings list --since 2025-03-01T10:00:00Z`" in summary.text
    assert "--bucket" not in notice.text + summary.text
