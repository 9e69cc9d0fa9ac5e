"""A replay sorts a trail's records as it reads them (`skip_kind`), keeping only those it
diagnoses: each record must be sorted as `parse_event` would judge it, skipped with the same
kind or kept (to be diagnosed, or to have its error named), for every event of the tests and
the shared fixtures and their variants of every scope, wrapped or bare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.events import OutOfScope, parse_event
from chalicelib.events.errors import EventError
from chalicelib.events.parse import skip_kind

TESTS = Path(__file__).resolve().parents[2]
FOLDERS = (TESTS / "data" / "events", TESTS.parents[1] / "shared" / "fixtures" / "cloudtrail")


def _variants(record: dict[str, Any]) -> list[Any]:
    drop = {k: v for k, v in record.items() if k != "errorCode"}
    return [
        record,
        drop,
        {**record, "errorCode": "NoSuchKey"},
        {**record, "eventSource": "ec2.amazonaws.com"},
        {**record, "eventSource": 7},
        {**record, "eventType": "AwsServiceEvent"},
        {**record, "eventCategory": "NetworkActivity"},
        {**record, "eventName": None},
        {"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": record},
        {"detail-type": "x", "source": "aws.s3", "detail": "not an object"},
        [record],
        "text",
    ]


def _judged(event: Any) -> object:
    try:
        parse_event(event)
    except OutOfScope as error:
        return error.kind
    except EventError:
        return None
    return None


def test_every_record_is_sorted_as_parse_event_judges_it() -> None:
    records: list[Any] = []
    for path in sorted(p for folder in FOLDERS for p in folder.glob("*.json")):
        document = json.loads(path.read_text())
        records += document.get("Records", [document.get("detail", document)])
    kinds = set()
    for record in records:
        for event in _variants(record):
            assert skip_kind(event) == _judged(event), event
            kinds.add(skip_kind(event))
    assert len(kinds) == 6  # None and the five kinds
