"""Property: any malformed or truncated event gives a request or an EventError, nothing else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.events import EventError, iter_records, parse_event
from tests.unit.events.eventdata import EVENTS

EVENT_FILES = sorted(p for p in EVENTS.glob("*.json") if "log-file" not in p.name)
EVENTS_DATA = [json.loads(p.read_text(encoding="utf-8")) for p in EVENT_FILES]

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "AccessDenied", "s3.amazonaws.com", "GetObject", "anonymous"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _mutate(event: Any, path: tuple[Any, ...], replacement: Any, delete: bool) -> Any:
    event = copy.deepcopy(event)
    parent = event
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return event


def _parses_or_names_a_field(event: Any) -> None:
    try:
        request = parse_event(event)
    except EventError as error:
        assert error.field_path
        return
    assert request.operations
    json.dumps(request.to_dict())


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_arbitrary_json_gives_a_request_or_an_event_error(value: Any) -> None:
    _parses_or_names_a_field(value)
    try:
        list(iter_records(value))
    except EventError as error:
        assert error.field_path


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_or_truncated_events_give_a_request_or_an_event_error(data: st.DataObject) -> None:
    event = data.draw(st.sampled_from(EVENTS_DATA))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(event)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        event = _mutate(event, path, data.draw(JSON), data.draw(st.booleans()))

    _parses_or_names_a_field(event)


@settings(max_examples=200)
@given(st.sampled_from(EVENT_FILES), st.data())
def test_events_cut_short_give_a_request_or_an_event_error(path: Path, data: st.DataObject) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    record = event.get("detail", event)
    keep = data.draw(st.sets(st.sampled_from(sorted(record))))
    cut = {k: v for k, v in record.items() if k in keep}

    _parses_or_names_a_field({**event, "detail": cut} if "detail" in event else cut)
