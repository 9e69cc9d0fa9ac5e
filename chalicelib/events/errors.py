"""The one error the event parser raises: malformed input, naming the field."""

from __future__ import annotations

from chalicelib.model import InputError


class EventError(InputError):
    """A CloudTrail record or EventBridge event that cannot be read (exit 2, field named)."""
