"""The EventBridge pattern that selects denied S3 calls, as data (DESIGN 3.5, spec 4.3).

No `eventSource` filter on purpose: directory-bucket and Outposts records that arrive under
`aws.s3` reach the parser, which reports them as out of scope instead of dropping them silently.
"""

from __future__ import annotations

from typing import Any, Final

ACCESS_DENIED_PATTERN: Final[dict[str, Any]] = {
    "source": ["aws.s3"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"errorCode": ["AccessDenied"]},
}
