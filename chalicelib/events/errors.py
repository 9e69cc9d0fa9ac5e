"""The errors the event parser raises: malformed input, and records it does not diagnose."""

from __future__ import annotations

from enum import StrEnum

from ..model import InputError


class EventError(InputError):
    """A CloudTrail record or EventBridge event that cannot be read (exit 2, field named)."""


class SkipKind(StrEnum):
    """Why a readable record is not diagnosed (DESIGN 3.3 "Scope"): the counting key."""

    OTHER_SERVICE = "other-service"  # another eventSource (STS, Organizations, KMS…)
    NOT_DENIED = "not-denied"  # no errorCode: the call succeeded
    OTHER_ERROR = "other-error"  # an errorCode that is not AccessDenied
    NETWORK_ACTIVITY = "network-activity"  # a VPC endpoint network-activity event
    SERVICE_EVENT = "service-event"  # an AwsServiceEvent, not a caller's request


class OutOfScope(EventError):
    """A well-formed record that is not an S3 `AccessDenied`: skipped, never given a verdict.

    `kind` is the reason's category (for counts); the message names the field and why.
    """

    def __init__(self, field_path: str, kind: SkipKind, reason: str) -> None:
        super().__init__(field_path, f"not an S3 AccessDenied, not diagnosed: {reason}")
        self.kind = kind
        self.reason = reason
