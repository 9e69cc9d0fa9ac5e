"""Validation of listing queries and opaque page tokens, shared by both store adapters."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.model import InputError
from chalicelib.publish.ports import MAX_PAGE_SIZE, FindingQuery
from chalicelib.publish.timestamps import format_utc


def check_query(query: FindingQuery) -> str | None:
    """Raise InputError for a bad limit; return `since` in the stored timestamp format."""
    if not isinstance(query.limit, int) or not 1 <= query.limit <= MAX_PAGE_SIZE:
        raise InputError("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return format_utc(query.since) if query.since is not None else None


def encode_token(index: str, position: Any) -> str:
    """An opaque token: base64 of the index it pages and where the next page starts."""
    raw = json.dumps({"index": index, "position": position}, sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str, index: str) -> Any:
    """The position inside `token`; InputError when it is not a token for this listing."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise InputError("next_token", "not a token returned by a previous page") from exc
    if not isinstance(data, dict) or "position" not in data:
        raise InputError("next_token", "not a token returned by a previous page")
    if data.get("index") != index:
        raise InputError("next_token", "belongs to a listing with other filters")
    return data["position"]
