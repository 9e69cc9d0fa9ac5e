"""Runbook documents and policy statements of the context-derivation tests (one object read)."""

from __future__ import annotations

from typing import Any


def read_statement(effect: str, bucket: str, **more: Any) -> dict[str, Any]:
    """A statement on s3:GetObject of every object of `bucket`, with `more` elements."""
    return {
        "Effect": effect,
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    } | more


def object_read(requester: str, bucket: str, **more: Any) -> dict[str, Any]:
    """The runbook document of `requester` reading `reports/q1.csv` in `bucket`."""
    return {
        "requester_arn": requester,
        "action": "s3:GetObject",
        "resource_arn": f"arn:aws:s3:::{bucket}/reports/q1.csv",
        **more,
    }
