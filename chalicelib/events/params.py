"""A request parameter of a CloudTrail record, read without jmespath (the request builder of
`s3doctor diagnose` needs it on every run; the record fields of `fields` are only for events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def param(params: Mapping[str, Any], name: str) -> str | None:
    """A request parameter or header as a non-empty string (first item of a one-item list)."""
    value = params.get(name)
    if value is None or type(value) is str:  # what a record mostly holds, or lacks
        return value or None
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None
