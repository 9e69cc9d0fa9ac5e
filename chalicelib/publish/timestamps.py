"""One timestamp format for stored and published findings: `YYYY-MM-DDTHH:MM:SSZ` in UTC.

Fixed width, so string order is time order (DynamoDB sort keys and window checks compare
strings). CloudTrail's `eventTime` already has this form.
"""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_utc(instant: datetime) -> str:
    """`instant` in UTC, to the second; a naive datetime is taken as UTC. The year has four
    digits whatever it is (strftime writes the year 500 as `500`, which sorts after `2025`)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    t = instant.astimezone(UTC)  # FORMAT, written without strftime: a replay writes it per event
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def parse_utc(text: object) -> datetime | None:
    """An aware datetime for an ISO-8601 string (`Z` or an offset); None when unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def epoch_seconds(text: str) -> int:
    """Seconds since the epoch of a timestamp in FORMAT (for DynamoDB TTL)."""
    parsed = parse_utc(text)
    if parsed is None:
        raise ValueError(f"not a timestamp: {text!r}")
    return int(parsed.timestamp())
