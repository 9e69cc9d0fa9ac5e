"""parse_event / iter_records: envelopes, log files, scopes, and errors naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.events import EventError, iter_records, parse_event
from chalicelib.events.errors import OutOfScope, SkipKind
from chalicelib.model import AccessRequest, InputError, Scope
from tests.unit.events.eventdata import SHARED_FIXTURES, load, parsed

FIXTURE_01 = "01-iamuser-getobject-version-vpce-explicit-deny"


@pytest.mark.parametrize("path", SHARED_FIXTURES, ids=lambda p: p.stem)
def test_every_shared_fixture_parses_with_its_event_identity(path: Any) -> None:
    request = parsed(path.stem)

    assert request.event_id
    assert request.event_time
    assert request.region
    assert request.event_name
    assert request.operations
    assert request.denial_hint is not None


def test_bare_record_and_eventbridge_event_give_the_same_request() -> None:
    event = load(FIXTURE_01)

    assert parse_event(event["detail"]) == parse_event(event)


def test_request_survives_its_json_form() -> None:
    request = parsed("copyobject-versioned-source-url-encoded")

    assert AccessRequest.from_dict(request.to_dict()) == request


def test_log_file_records_are_read_one_by_one() -> None:
    records = list(iter_records(load("cloudtrail-log-file-two-records")))

    assert [parse_event(r).action for r in records] == ["s3:GetObject", "s3:ListBucket"]


def test_iter_records_accepts_one_event_or_a_list() -> None:
    event = load(FIXTURE_01)

    assert list(iter_records(event)) == [event]
    assert list(iter_records([event, event])) == [event, event]


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"Records": {"not": "a list"}}, "Records"),
        ({"Records": [1]}, "Records[0]"),
        ("text", "event"),
    ],
)
def test_iter_records_names_what_is_malformed(doc: Any, field: str) -> None:
    with pytest.raises(EventError) as raised:
        list(iter_records(doc))

    assert raised.value.field_path == field


def _broken(change: Any) -> dict[str, Any]:
    event = copy.deepcopy(load(FIXTURE_01))
    change(event)
    return event


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "event"),
        ({"something": "else"}, "event"),
        ({"Records": []}, "Records"),
        ({"detail-type": "x", "detail": "text"}, "detail"),
        (_broken(lambda e: e["detail"].pop("eventName")), "detail.eventName"),
        (_broken(lambda e: e["detail"].update(eventSource=3)), "detail.eventSource"),
        (_broken(lambda e: e["detail"].pop("userIdentity")), "detail.userIdentity"),
        (_broken(lambda e: e["detail"]["userIdentity"].pop("arn")), "detail.userIdentity.arn"),
        (_broken(lambda e: e["detail"]["userIdentity"].pop("type")), "detail.userIdentity.type"),
        (
            _broken(
                lambda e: (
                    e["detail"]["requestParameters"].pop("key"),
                    e["detail"].pop("resources"),
                )
            ),
            "detail.requestParameters.key",
        ),
        (
            _broken(
                lambda e: (e["detail"]["requestParameters"].clear(), e["detail"].pop("resources"))
            ),
            "detail.requestParameters.bucketName",
        ),
    ],
)
def test_malformed_event_raises_an_input_error_naming_the_field(event: Any, field: str) -> None:
    with pytest.raises(InputError) as raised:
        parse_event(event)

    assert isinstance(raised.value, EventError)
    assert raised.value.field_path == field


def test_bucket_and_key_fall_back_to_resources() -> None:
    event = _broken(lambda e: e["detail"]["requestParameters"].clear())

    request = parse_event(event)

    assert request.resource_arn == "arn:aws:s3:::acme-data-lake-prod/raw/2025/03/orders.csv"


def test_unknown_event_name_is_out_of_scope_and_says_what_was_tried() -> None:
    request = parsed("unknown-eventname-with-message")

    assert request.scope is Scope.OUT_OF_SCOPE
    assert request.scope_reason is not None
    assert "TransmogrifyObject is not in the S3 operation table" in request.scope_reason
    assert request.action == "s3:TransmogrifyObject"
    (note,) = [n for n in request.notes if n.startswith("Could not map")]
    assert "operation table" in note
    assert "errorMessage" in note


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("s3express-directory-bucket-getobject", "directory bucket"),
        ("s3-outposts-getobject", "Outposts"),
    ],
)
def test_denied_s3_family_calls_out_of_scope_are_reported_with_a_reason(
    scenario: str, reason: str
) -> None:
    request = parsed(scenario)

    assert request.scope is Scope.OUT_OF_SCOPE
    assert request.scope_reason is not None
    assert reason in request.scope_reason


# Issue 11.3 (DESIGN 3.3 "Scope"): these used to be parsed (and then given a verdict); a
# record that is not an S3 AccessDenied is now refused with the reason, never diagnosed.
@pytest.mark.parametrize(
    ("scenario", "field", "kind", "reason"),
    [
        ("kms-decrypt-not-s3", "detail.eventSource", SkipKind.OTHER_SERVICE, "kms.amazonaws"),
        (
            "getobject-invalid-object-state",
            "detail.errorCode",
            SkipKind.OTHER_ERROR,
            "errorCode InvalidObjectState",
        ),
        ("getobject-succeeded-no-error", "detail.errorCode", SkipKind.NOT_DENIED, "no errorCode"),
    ],
)
def test_records_that_are_not_s3_access_denied_are_out_of_scope(
    scenario: str, field: str, kind: SkipKind, reason: str
) -> None:
    with pytest.raises(OutOfScope) as raised:
        parsed(scenario)

    assert isinstance(raised.value, EventError)
    assert raised.value.field_path == field
    assert raised.value.kind is kind
    assert reason in str(raised.value)
    assert "not an S3 AccessDenied" in str(raised.value)


def test_access_point_request_keeps_the_bucket_resource_and_the_access_point() -> None:
    request = parsed("access-point-getobject")

    assert request.resource_arn == "arn:aws:s3:::acme-reports/ledger/2025.csv"
    assert request.access_point_arn == "arn:aws:s3:eu-west-1:111122223333:accesspoint/finance-ap"


def test_message_naming_another_action_than_derived_is_flagged() -> None:
    event = _broken(
        lambda e: e["detail"].update(
            errorMessage="User: arn:aws:iam::111122223333:user/etl-batch is not authorized to "
            "perform: s3:GetObject because no identity-based policy allows the s3:GetObject action"
        )
    )

    request = parse_event(event)

    assert request.action == "s3:GetObjectVersion"
    assert any(
        "errorMessage names s3:GetObject" in note and "s3:GetObjectVersion" in note
        for note in request.notes
    )
