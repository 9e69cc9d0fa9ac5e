"""Event files of tests/data/events, read by the events tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.events import parse_event
from chalicelib.model import AccessRequest

EVENTS = Path(__file__).resolve().parents[2] / "data" / "events"
SHARED_FIXTURES = sorted(EVENTS.glob("0[0-9]-*.json"))


def load(name: str) -> Any:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def parsed(name: str) -> AccessRequest:
    return parse_event(load(name))


def context(request: AccessRequest) -> dict[str, tuple[tuple[str, ...], str]]:
    """Context keys as {name: (values, source)}."""
    return {entry.name: (entry.values, entry.source) for entry in request.context}
