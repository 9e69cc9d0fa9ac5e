"""The Chalice application: the AccessDenied event handler and the findings API. No logic here."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice, CloudWatchEvent

from chalicelib import service, wiring
from chalicelib.api import api
from chalicelib.events import ACCESS_DENIED_PATTERN

app = Chalice(app_name="s3-403-doctor")
app.register_blueprint(api)
app.register_middleware(wiring.middleware(), "cloudwatch")


@app.on_cw_event(ACCESS_DENIED_PATTERN)
def on_access_denied(event: CloudWatchEvent) -> dict[str, Any]:
    """Diagnose, aggregate, store and alert one denied S3 call (see `service.handle_event`)."""
    return service.handle_event(event.to_dict(), **wiring.event_ports()).to_dict()
