"""Timestamps as findings, the table and the alerts write them: UTC, to the second, a year of
four digits whatever it is (so that they sort as text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.publish.timestamps import FORMAT, format_utc, parse_utc

INSTANTS = [
    datetime(2026, 12, 7, 1, 2, 3, 999_999, tzinfo=UTC),
    datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),  # 2025 in UTC
    datetime(2024, 2, 29, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8))),
    datetime(2026, 3, 4, 5, 6, 7),  # naive: taken as UTC
    datetime(500, 6, 1, 12, 0, tzinfo=UTC),
    datetime(9, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
]


@pytest.mark.parametrize("instant", INSTANTS, ids=lambda d: d.isoformat())
def test_a_timestamp_is_utc_to_the_second_with_four_digits_of_year(instant: datetime) -> None:
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    utc = aware.astimezone(UTC)
    text = format_utc(instant)
    assert text == f"{utc.year:04d}" + utc.strftime(FORMAT)[len(str(utc.year)) :]
    assert len(text) == 20 and text.endswith("Z")
    assert parse_utc(text) == utc.replace(microsecond=0)


def test_timestamps_sort_as_their_instants() -> None:
    texts = [format_utc(instant) for instant in INSTANTS]
    instants = [i if i.tzinfo else i.replace(tzinfo=UTC) for i in INSTANTS]
    assert sorted(texts) == [format_utc(i) for i in sorted(instants)]
