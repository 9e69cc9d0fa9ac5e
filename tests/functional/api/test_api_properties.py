"""Whatever a caller sends — query strings, ids, tokens, bodies — the API never answers 500."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import app
from chalicelib import wiring
from chalicelib.collect.file import FileSnapshotSource
from tests.functional.api.conftest import Table
from tests.functional.findings_fixtures import FINDINGS

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")

SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "no-identity-allow"
PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
LONG = st.builds(lambda c, n: c * n, st.sampled_from("a9-/*%"), st.integers(1000, 5000))
PARAMETERS = st.sampled_from(
    ["bucket", "principal", "decision", "since", "limit", "next_token", "other"]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


def _token(index: Any, position: Any) -> str:
    raw = json.dumps({"index": index, "position": position}).encode()
    return base64.urlsafe_b64encode(raw).decode()


TOKENS = (
    st.builds(_token, st.sampled_from(["recent", "by-bucket", "by-principal", 7]), JSON_VALUES)
    | st.builds(_token, st.just("recent"), TEXT | LONG)
    | TEXT
    | LONG
)
VALUES = {
    "decision": st.sampled_from(["allowed", "explicit-deny", "implicit-deny", "maybe"]) | TEXT,
    "since": st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**9), st.sampled_from("smhdwy"))
    | st.sampled_from(["0001-01-01", "9999-12-31T23:59:59-05:00", "2025-03-03", "2025-13-01"])
    | TEXT,
    "limit": st.integers(-(10**30), 10**30).map(str) | TEXT,
    "next_token": TOKENS,
}
ARNS = st.sampled_from(
    [
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:sts::111122223333:assumed-role/R/S",
        "arn:aws:s3:::example-bucket/data/report.csv",
        "arn:aws:s3:::Not_A..Bucket!/k",
        "arn:aws:s3:::" + "b" * 300 + "/k",
        "arn:aws:s3:::example-bucket/" + "k" * 2000,
        "arn:aws:s3:::example-bucket",
        "s3:GetObject",
    ]
)
FIELDS = {
    "requester_arn": ARNS | TEXT,
    "action": st.sampled_from(["s3:GetObject", "s3:PutObject", "GetObject", "s3:*"]) | TEXT,
    "resource_arn": ARNS | TEXT,
    "context": JSON_VALUES,
    "session_name": TEXT,
    "version_id": TEXT,
    "kms_key_arn": ARNS | TEXT,
    "vpc_endpoint_id": TEXT,
    "session_policy": JSON_VALUES,
    "scp_policies": JSON_VALUES,
}


@st.composite
def queries(draw: st.DrawFn) -> str:
    names = draw(st.lists(PARAMETERS, max_size=4))
    pairs = [(n, draw(VALUES.get(n, TEXT | LONG))) for n in names]
    return urlencode(pairs)


@st.composite
def bodies(draw: st.DrawFn) -> str:
    fields = draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=len(FIELDS), unique=True))
    body = {name: draw(FIELDS[name] | JSON_VALUES) for name in fields}
    if draw(st.booleans()):
        body |= {
            "requester_arn": "arn:aws:iam::111122223333:user/alice",
            "action": "s3:GetObject",
        }
    return draw(st.sampled_from([json.dumps(body), json.dumps(body)[:-1], "null"]) | TEXT)


@pytest.fixture(scope="module")
def client(moto_table: Table):
    store = moto_table.store()
    for finding in FINDINGS:
        store.create(
            finding,
            event_key=finding.finding_id,
            aggregate_keys=(),
            window_end="2025-03-05T00:00:00Z",
        )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DIAGNOSE_API", "enabled")
        patch.setattr(
            wiring,
            "diagnosis_ports",
            lambda: {
                "source": FileSnapshotSource(SCENARIO / "snapshot.json"),
                "clock": wiring.clock,
            },
        )
        wiring.reset()
        with Client(app) as test_client:
            yield test_client
    wiring.reset()


def _answer(response: Any) -> dict[str, Any]:
    assert response.status_code < 500, response.body
    body: dict[str, Any] = json.loads(response.body)
    if response.status_code == 400:
        assert body["parameter"]
    return body


@PROPERTY
@given(query=queries())
def test_listing_never_fails_on_any_query_string(client, query: str) -> None:
    _answer(client.http.get(f"/findings?{query}"))


@PROPERTY
@given(finding_id=TEXT.filter(bool) | LONG)
def test_get_never_fails_on_any_id(client, finding_id: str) -> None:
    _answer(client.http.get("/findings/" + quote(finding_id, safe="")))


@PROPERTY
@given(body=bodies())
def test_diagnose_never_fails_on_any_body(client, body: str) -> None:
    response = client.http.post(
        "/diagnose", headers={"Content-Type": "application/json"}, body=body
    )
    _answer(response)


@PROPERTY
@given(token=TOKENS, decision=st.sampled_from(["", "&decision=explicit-deny"]))
def test_tampered_tokens_are_a_400_or_a_page(client, token: str, decision: str) -> None:
    response = client.http.get(f"/findings?next_token={quote(token, safe='')}{decision}")
    body = _answer(response)
    assert response.status_code == 200 or body["parameter"] == "next_token"
