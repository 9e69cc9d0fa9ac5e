"""Points in time as people type them: `24h`, `30m`, `7d`, `2w`, or an ISO-8601 date/time.

Shared by the findings API (`since=`) and the `findings list` / `replay` commands (`--since`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ..model import InputError

_RELATIVE = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime, field: str = "since") -> datetime:
    """The instant `text` names, as an aware UTC datetime.

    `24h` means 24 hours before `now`; an ISO date or time without a zone is taken as UTC.
    Raises `InputError` naming `field` for anything else, or for a time after `now`.
    """
    match = _RELATIVE.match(text)
    try:
        if match:
            amount, unit = int(match.group(1)), match.group(2).lower()
            return now - timedelta(**{_UNITS[unit]: amount})
        parsed = datetime.fromisoformat(text.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except OverflowError:
        raise InputError(field, f"{text!r} is outside the range of dates") from None
    except ValueError:
        raise InputError(
            field, f"{text!r} is neither a duration like 24h, 30m, 7d nor an ISO-8601 time"
        ) from None
    if parsed > now:
        raise InputError(field, f"{text!r} is in the future")
    return parsed
