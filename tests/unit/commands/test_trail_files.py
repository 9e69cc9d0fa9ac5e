import gzip
import json

import pytest

from chalicelib.commands.trail import read_files
from chalicelib.model import InputError
from chalicelib.publish.timestamps import parse_utc


def _record(
    event_id, *, time="2025-03-04T10:00:00Z", code="AccessDenied", source="s3.amazonaws.com"
):
    return {
        "eventID": event_id,
        "eventTime": time,
        "eventSource": source,
        "eventName": "GetObject",
        "errorCode": code,
    }


def _ids(records):
    return [r.event_id for r in records]


def test_read_files_takes_denied_s3_records_from_a_gzipped_log_file(tmp_path):
    # GIVEN a CloudTrail log file as S3 delivers it, with other calls mixed in
    log = {
        "Records": [
            _record("a"),
            _record("b", code=None),
            _record("c", source="kms.amazonaws.com"),
            _record("d", code="NoSuchKey"),
            _record("e"),
        ]
    }
    path = tmp_path / "111122223333_CloudTrail_us-east-1_20250304T1000Z_x.json.gz"
    path.write_bytes(gzip.compress(json.dumps(log).encode()))
    # WHEN / THEN only the S3 AccessDenied records come out, in file order
    assert _ids(read_files([path])) == ["a", "e"]


def test_read_files_accepts_envelopes_bare_records_arrays_and_json_lines(tmp_path):
    (tmp_path / "1-envelope.json").write_text(
        json.dumps(
            {"version": "0", "detail-type": "AWS API Call via CloudTrail", "detail": _record("env")}
        )
    )
    (tmp_path / "2-bare.json").write_text(json.dumps(_record("bare")))
    (tmp_path / "3-array.json").write_text(
        json.dumps([_record("arr1"), {"detail": _record("arr2")}])
    )
    (tmp_path / "4-lines.jsonl").write_text(
        json.dumps(_record("l1")) + "\n\n" + json.dumps(_record("l2"))
    )
    records = list(read_files([tmp_path]))
    assert _ids(records) == ["env", "bare", "arr1", "arr2", "l1", "l2"]
    assert records[0].origin.endswith("1-envelope.json#0")


def test_read_files_keeps_records_at_or_after_since(tmp_path):
    path = tmp_path / "events.json"
    path.write_text(
        json.dumps({"Records": [_record("old", time="2025-03-01T00:00:00Z"), _record("new")]})
    )
    since = parse_utc("2025-03-04T00:00:00Z")
    assert _ids(read_files([path], since=since)) == ["new"]


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (b"not json at all {", "not JSON"),
        (b'{"hello": "world"}', "not a CloudTrail record"),
        (b"\x1f\x8b broken gzip", "cannot read"),
        (b"42", "not a CloudTrail record"),
    ],
)
def test_read_files_names_the_option_and_file_for_bad_input(tmp_path, content, complaint):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=complaint) as raised:
        list(read_files([path]))
    assert raised.value.field_path == "--events"
    assert "bad.json" in str(raised.value)


def test_read_files_reports_a_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(read_files([tmp_path / "missing.json"]))


def test_read_files_gives_every_record_of_the_period_for_replay_to_count(tmp_path):
    path = tmp_path / "events.json"
    log = {
        "Records": [
            _record("a"),
            _record("b", code=None),
            _record("c", source="kms.amazonaws.com"),
            _record("old", time="2025-03-01T00:00:00Z"),
        ]
    }
    path.write_text(json.dumps(log))
    since = parse_utc("2025-03-04T00:00:00Z")
    assert _ids(read_files([path], since=since, denied_only=False)) == ["a", "b", "c"]


def test_an_array_item_is_read_by_what_it_holds_before_its_event_fields(tmp_path):
    """An item of an array that names an event and also holds a log file's Records, an
    envelope's detail or a Lambda on-failure record's payload is read as the latter."""
    items = [
        _record("bare"),
        {**_record("outer-1"), "Records": [_record("inner-log")]},
        {**_record("outer-2"), "detail": _record("inner-detail")},
        {**_record("outer-3"), "requestPayload": {"detail": _record("inner-payload")}},
        {**_record("outer-4"), "Records": "not a list", "detail": "not an object"},
    ]
    (tmp_path / "array.json").write_text(json.dumps(items))
    records = list(read_files([tmp_path]))
    assert _ids(records) == ["bare", "inner-log", "inner-detail", "inner-payload", "outer-4"]
    assert [r.origin.rsplit("#", 1)[1] for r in records] == ["0", "1", "2", "3", "4"]
