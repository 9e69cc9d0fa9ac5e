from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.commands.timespec import parse_since
from chalicelib.model import InputError

NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("24h", timedelta(hours=24)),
        ("30m", timedelta(minutes=30)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("90s", timedelta(seconds=90)),
        (" 12H ", timedelta(hours=12)),
    ],
)
def test_parse_since_relative_durations_count_back_from_now(text, ago):
    assert parse_since(text, now=NOW) == NOW - ago


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01", datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01T10:15:00Z", datetime(2025, 3, 1, 10, 15, tzinfo=UTC)),
        ("2025-03-01T12:15:00+02:00", datetime(2025, 3, 1, 10, 15, tzinfo=UTC)),
    ],
)
def test_parse_since_iso_times_are_utc(text, expected):
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "24", "h24", "-3h", "2025-13-01", ""])
def test_parse_since_rejects_unreadable_text_naming_the_field(text):
    with pytest.raises(InputError) as raised:
        parse_since(text, now=NOW, field="--since")
    assert raised.value.field_path == "--since"


def test_parse_since_rejects_a_time_in_the_future():
    with pytest.raises(InputError, match="future"):
        parse_since("2025-03-05", now=NOW)
