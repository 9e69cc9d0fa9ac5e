"""The pure diagnosis pipeline: (request, snapshot) -> Finding.

Used by the Lambda handler (through `service`), the CLI and the API. Pure: no boto3.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from chalicelib.diagnose import diagnose as build_finding
from chalicelib.engine import ENGINE_VERSION, evaluate
from chalicelib.model import AccessRequest, Finding
from chalicelib.snapshot import Snapshot, load_snapshot


def finding_id_for(request: AccessRequest) -> str:
    """Stable id: the CloudTrail event id when there is one, else a digest of the request."""
    if request.event_id:
        return request.event_id
    digest = hashlib.sha256(json.dumps(request.to_dict(), sort_keys=True).encode()).hexdigest()
    return f"req-{digest[:24]}"


def diagnose(
    request: AccessRequest,
    snapshot: Snapshot | Mapping[str, Any],
    *,
    finding_id: str | None = None,
    now: str | None = None,
) -> Finding:
    """Evaluate the request against the snapshot and explain the verdict."""
    loaded = snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)
    decision = evaluate(request, loaded)
    return build_finding(
        request,
        loaded,
        decision,
        finding_id=finding_id or finding_id_for(request),
        engine_version=ENGINE_VERSION,
        now=now,
    )
