"""Every named field of a record is read by one jmespath interpreter kept for all searches
(`fields.Field`): each must answer as `jmespath.search` of its expression does, on every event
of the tests and the shared fixtures, and on records whose parts have other types than
CloudTrail's (a list for an object, numbers, nulls, nesting), searched in turns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jmespath

from chalicelib.events import fields

TESTS = Path(__file__).resolve().parents[2]
FOLDERS = (TESTS / "data" / "events", TESTS.parents[1] / "shared" / "fixtures" / "cloudtrail")
FIELDS = [value for value in vars(fields).values() if isinstance(value, fields.Field)]


def _records() -> list[Any]:
    found: list[Any] = []
    for path in sorted(p for folder in FOLDERS for p in folder.glob("*.json")):
        document = json.loads(path.read_text())
        found += document.get("Records", [document.get("detail", document)])
    odd: list[Any] = []
    for record in found[:10]:
        odd += [
            {**record, "userIdentity": [record.get("userIdentity")]},
            {**record, "resources": {"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b"}},
            {**record, "resources": [{"type": "AWS::S3::Bucket", "ARN": 7}, None, "x", []]},
            {
                **record,
                "resources": [
                    {"type": "AWS::S3::Bucket", "ARN": None},  # matched, nothing kept
                    {"type": "AWS::S3::Bucket", "accountId": "1", "ARN": "arn:aws:s3:::b"},
                    {"type": ["AWS::S3::Bucket"], "ARN": "list"},
                    {"type": True, "ARN": "bool"},
                    {"Type": "AWS::S3::Object", "ARN": "case"},
                    {"type": "AWS::S3::Object", "ARN": {"nested": 1}},
                    {"type": "AWS::S3::AccessPoint", "accountId": 0},
                ],
            },
            {**record, "resources": [{"type": "AWS::S3::Object"}, {"type": "AWS::S3::Object"}]},
            {**record, "requestParameters": {"bucketName": 5, "key": None, "Host": ["h"]}},
            {**record, "tlsDetails": "TLSv1.3", "additionalEventData": None},
            {**record, "userIdentity": {"sessionContext": "s", "arn": ["a"], "type": 0}},
            {**record, "userIdentity": {"sessionContext": {"sessionIssuer": [], "attributes": 1}}},
            {**record, "userIdentity": {"sessionContext": {"sessionIssuer": {"type": False}}}},
            {**record, "requestParameters": {"delete": {"Object": {"Key": "k"}}}},
        ]
    return found + odd + [None, [], "text", 3.5, {"resources": [{"type": 1}]}]


def test_every_field_answers_as_jmespath_search_does() -> None:
    assert len(FIELDS) > 40
    records = _records()
    assert len(records) > 60
    for record in records + records[::-1]:  # in turns: nothing a search leaves behind counts
        for field in FIELDS:
            found, expected = field.search(record), jmespath.search(field.expression, record)
            assert (type(found), found) == (type(expected), expected), (
                field.expression,
                record if not isinstance(record, dict) else record.get("eventID"),
            )
