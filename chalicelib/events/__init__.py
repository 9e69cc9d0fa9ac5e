"""CloudTrail `AccessDenied` record → `AccessRequest` (pure: jmespath and the standard library).

Public API: `parse_event`, `iter_records`, `EventError`, `OutOfScope` (a record that is not an
S3 AccessDenied, with its `SkipKind`) and the EventBridge pattern
`ACCESS_DENIED_PATTERN`. Never imports boto3, botocore or chalice.
"""

from .errors import EventError, OutOfScope, SkipKind
from .parse import iter_records, parse_event
from .pattern import ACCESS_DENIED_PATTERN

__all__ = [
    "ACCESS_DENIED_PATTERN",
    "EventError",
    "OutOfScope",
    "SkipKind",
    "iter_records",
    "parse_event",
]
