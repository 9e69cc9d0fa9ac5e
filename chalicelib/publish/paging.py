"""Validation of listing queries and opaque page tokens, shared by both store adapters.

A token names the listing (index) it pages and a position: the sort key (`seen_key`) of the
last finding returned or read. The next page starts strictly after it, so any well-formed
position is safe to resume from, even one that is not a stored key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import timedelta

from ..model import InputError
from .ports import MAX_PAGE_SIZE, FindingQuery
from .timestamps import format_utc

MAX_TOKEN_LENGTH = 2048
MAX_POSITION_LENGTH = 1024
MAX_KEY_BYTES = 1024
"""A bucket or principal filter is a GSI partition key: DynamoDB refuses a query for one over
2,048 bytes (UTF-8) with a ValidationException; over this it is bad input, never a call."""
_ACCOUNT = re.compile(r"[0-9]{12}")
READS_PER_RESULT = 5
MIN_READS = 25


def check_query(query: FindingQuery) -> str | None:
    """Raise InputError for a bad limit, an empty or oversized filter, or a bad account;
    return `since` in the stored format, rounded up to the second (stored times have none)."""
    if not isinstance(query.limit, int) or not 1 <= query.limit <= MAX_PAGE_SIZE:
        raise InputError("limit", f"must be a whole number from 1 to {MAX_PAGE_SIZE}")
    for name, value in (
        ("bucket", query.bucket),
        ("principal", query.principal_arn),
        ("account", query.account),
    ):
        if value is not None and not value:
            raise InputError(name, "must not be empty")
        if value is not None and len(value.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise InputError(name, f"longer than {MAX_KEY_BYTES} bytes")
    if query.account is not None and not _ACCOUNT.fullmatch(query.account):
        raise InputError("account", "must be a 12-digit AWS account id")
    if query.since is None:
        return None
    since = query.since
    if since.microsecond:  # 10:00:00.5 excludes a finding first seen at 10:00:00
        since = since.replace(microsecond=0) + timedelta(seconds=1)
    return format_utc(since)


def read_budget(limit: int) -> int:
    """How many stored findings one page may read when filters drop some of them."""
    return max(READS_PER_RESULT * limit, MIN_READS)


def encode_token(index: str, position: str) -> str:
    """An opaque token: base64 of the index it pages and the sort key the next page follows."""
    raw = json.dumps({"index": index, "position": position}, sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str, index: str) -> str:
    """The position inside `token`; InputError when it is not a token for this listing."""
    invalid = InputError("next_token", "not a token returned by a previous page")
    if len(token) > MAX_TOKEN_LENGTH:
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeError, RecursionError) as exc:
        raise invalid from exc
    if not isinstance(data, dict) or "position" not in data:
        raise invalid
    if data.get("index") != index:
        raise InputError("next_token", "belongs to a listing with other filters")
    position = data["position"]
    if not isinstance(position, str) or not 0 < len(position) <= MAX_POSITION_LENGTH:
        raise invalid
    return position
