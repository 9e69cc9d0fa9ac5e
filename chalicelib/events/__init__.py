"""CloudTrail `AccessDenied` record → `AccessRequest` (pure: jmespath and the standard library).

Public API: `parse_event`, `iter_records`, `EventError` and the EventBridge pattern
`ACCESS_DENIED_PATTERN`. Never imports boto3, botocore or chalice.
"""

from chalicelib.events.errors import EventError
from chalicelib.events.parse import iter_records, parse_event
from chalicelib.events.pattern import ACCESS_DENIED_PATTERN

__all__ = ["ACCESS_DENIED_PATTERN", "EventError", "iter_records", "parse_event"]
