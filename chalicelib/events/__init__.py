"""CloudTrail `AccessDenied` record → `AccessRequest` (pure: jmespath and the standard library).

Public API: `parse_event`, `iter_records`, `EventError`, `OutOfScope` (a record that is not an
S3 AccessDenied, with its `SkipKind`) and the EventBridge pattern
`ACCESS_DENIED_PATTERN`. Never imports boto3, botocore or chalice.

The names are loaded when first read: the request builder imports `events.actions` and
`events.operations` on every run, and a run without events should not load the record parser
and jmespath (`fields`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import EventError, OutOfScope, SkipKind
    from .parse import iter_records, parse_event
    from .pattern import ACCESS_DENIED_PATTERN

_MODULES = {
    "ACCESS_DENIED_PATTERN": ".pattern",
    "EventError": ".errors",
    "OutOfScope": ".errors",
    "SkipKind": ".errors",
    "iter_records": ".parse",
    "parse_event": ".parse",
}

__all__ = [
    "ACCESS_DENIED_PATTERN",
    "EventError",
    "OutOfScope",
    "SkipKind",
    "iter_records",
    "parse_event",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value
