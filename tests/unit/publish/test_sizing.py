"""Alerts and stored findings fit their limits by construction, whatever the finding."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import replace

import pytest

from chalicelib.diagnose.detail import Detail
from chalicelib.model import Cause, Finding, Layer, NearMiss, Remedy
from chalicelib.publish.message import SNS_LIMIT, alert
from chalicelib.publish.sizing import ITEM_BUDGET, item_body, read_body

from .builders import build_finding


def _total(finding: Finding, detail: Detail) -> int:
    sent = alert(finding, detail)
    tags = sum(
        len(k.encode()) + len(v["DataType"].encode()) + len(v["StringValue"].encode())
        for k, v in sent.attributes.items()
    )
    return len(sent.message.encode()) + tags + len(sent.subject.encode())


def _monstrous(**fields) -> Finding:
    """Every part oversized, in characters that JSON escapes to 6 or 12 bytes."""
    wide = "\u00e9\U0001f600\u2028" * 500
    finding = build_finding(
        "monster",
        bucket="b" * 63,
        user="u" * 60,
        near_misses=tuple(NearMiss(policy=wide, index=n, why=wide, sid=wide) for n in range(80)),
        remedies=tuple(
            Remedy(code="EDIT", target=wide, summary=wide, patch={"Statement": [wide] * 50})
            for _ in range(20)
        ),
        notes=(wide,) * 80,
        **fields,
    )
    causes = tuple(
        Cause(code=f"CODE_{n}", layer=Layer.BUCKET_POLICY, message=wide) for n in range(80)
    )
    return replace(finding, causes=causes)


@pytest.mark.parametrize("detail", list(Detail))
def test_any_finding_alerts_under_the_sns_limit_with_a_pointer(detail):
    finding = _monstrous()
    assert _total(finding, detail) < SNS_LIMIT
    message = json.loads(alert(finding, detail).message)
    body = json.loads(message["sqs"])
    assert body["finding_id"] == "monster"
    assert body["truncated"]
    assert body["stored_finding"]["api"] == "GET /findings/monster"
    assert "s3doctor findings get monster" in message["default"]
    assert "s3doctor findings get monster" in message["email"]


def test_attribute_values_are_capped_and_never_empty():
    finding = build_finding("e-1", extra={"severity": "x" * 5_000})
    attributes = alert(finding).attributes
    assert all(0 < len(v["StringValue"]) <= 1_024 for v in attributes.values())


def test_stored_body_is_text_when_small_compressed_when_big_trimmed_when_huge():
    small = build_finding("e-1").to_dict()
    body, document = item_body(small, overhead=500)
    assert isinstance(body, str) and read_body(body) == small and document is small

    big = build_finding(
        "e-2",
        near_misses=tuple(
            NearMiss(policy="p", index=n, why="Resource lacks /*" * 10) for n in range(3_000)
        ),
    ).to_dict()
    body, document = item_body(big, overhead=500)
    assert isinstance(body, bytes) and len(body) < ITEM_BUDGET and read_body(body) == big

    noise = tuple(
        NearMiss(policy="p", index=n, why=base64.b64encode(os.urandom(750)).decode())
        for n in range(600)
    )
    huge = replace(_monstrous(), near_misses=noise).to_dict()
    body, document = item_body(huge, overhead=500)
    assert isinstance(body, bytes) and len(body) + 500 <= ITEM_BUDGET
    assert read_body(body) == document and document["truncated"]
    assert Finding.from_dict(document).finding_id == "monster"
