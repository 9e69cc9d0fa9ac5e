import json
from pathlib import Path
from urllib.parse import quote

import pytest
from chalice.app import IAMAuthorizer
from chalice.test import Client

from app import app
from chalicelib import wiring
from chalicelib.collect.file import FileSnapshotSource
from tests.functional.api.conftest import CALLER_HEADER
from tests.functional.findings_fixtures import FINDINGS, findings_table  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported in local mode")

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"


@pytest.fixture
def client(findings_table):  # noqa: F811
    with Client(app) as test_client:
        yield test_client


def _get(client, path):
    response = client.http.get(path)
    return response.status_code, json.loads(response.body)


def _ids(body):
    return [f["finding_id"] for f in body["findings"]]


def test_every_route_requires_iam_authorization():
    routes = {
        (path, method): entry
        for path, methods in app.routes.items()
        for method, entry in methods.items()
    }
    assert set(routes) == {
        ("/findings", "GET"),
        ("/findings/{finding_id}", "GET"),
        ("/diagnose", "POST"),
    }
    assert all(isinstance(entry.authorizer, IAMAuthorizer) for entry in routes.values())


def test_list_returns_findings_newest_first(client):
    status, body = _get(client, "/findings")
    assert status == 200
    assert _ids(body) == [f.finding_id for f in FINDINGS]
    assert body["next_token"] is None
    assert body["findings"][0]["causes"][0]["code"] == "EXPLICIT_DENY_BUCKET_POLICY"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("bucket=reports", ["f4", "f3", "f1"]),
        ("principal=arn:aws:iam::111122223333:user/alice", ["f3", "f2"]),
        ("bucket=reports&principal=arn:aws:iam::111122223333:user/alice", ["f3"]),
        ("decision=explicit-deny", ["f4"]),
        ("since=2025-03-03", ["f4", "f3", "f2"]),
        ("bucket=nobody-has-this", []),
        # a year under 1000 is still before 2025 (it was `500-01-01`, which sorts after it)
        ("since=0500-01-01", ["f4", "f3", "f2", "f1"]),
        # f3 was first seen at 10:00:00, half a second before `since`
        ("since=2025-03-04T10:00:00.5Z", ["f4"]),
    ],
)
def test_list_filters(client, query, expected):
    status, body = _get(client, f"/findings?{query}")
    assert status == 200
    assert _ids(body) == expected


def test_list_relative_since_counts_back_from_now(client):
    # The stored findings are from 2025: none is within the last 24 hours.
    status, body = _get(client, "/findings?since=24h")
    assert (status, body["findings"]) == (200, [])


def test_list_pages_with_next_token_until_every_finding_is_seen(client):
    seen, token, pages = [], None, 0
    while True:
        status, body = _get(client, "/findings?limit=3" + (f"&next_token={token}" if token else ""))
        assert status == 200
        assert len(body["findings"]) <= 3
        seen += _ids(body)
        pages += 1
        token = body["next_token"]
        if token is None:
            break
    assert seen == [f.finding_id for f in FINDINGS]
    assert pages == 2


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("decision=maybe", "decision"),
        ("since=yesterday", "since"),
        ("since=2999-01-01", "since"),
        ("next_token=garbage", "next_token"),
        ("since=999999w", "since"),
        ("limit=" + "9" * 5000, "limit"),
        # int() would take these for 5, 10 and 5
        ("limit=%2B5", "limit"),
        ("limit=1_0", "limit"),
        ("limit=" + quote("\u0665"), "limit"),
        ("bucket=" + "b" * 3000, "bucket"),
        ("buckets=reports", "buckets"),
        # an empty filter is not "no filter": `bucket=` listed every bucket's findings
        ("bucket=", "bucket"),
        ("principal=", "principal"),
        ("account=", "account"),
        ("since=", "since"),
        ("next_token=", "next_token"),
        # twelve Arabic-Indic digits are not an account id
        ("account=" + quote("\u0661" * 12), "account"),
        # under 1,024 characters but over DynamoDB's 2,048-byte key: a 500 on AWS
        ("bucket=" + quote("\U0001f600" * 600), "bucket"),
        ("principal=" + quote("\U0001f600" * 600), "principal"),
    ],
)
def test_list_bad_parameter_is_a_400_naming_it(client, query, parameter):
    status, body = _get(client, f"/findings?{query}")
    assert status == 400
    assert body["parameter"] == parameter
    assert body["message"]


def test_get_answers_at_references_detail_by_default(client):
    status, body = _get(client, "/findings/f2")
    assert status == 200
    assert body["finding_id"] == "f2"
    assert body["detail"] == "references"
    assert body["request"]["bucket"] == "datalake"
    assert body["request"]["principal_arn"] == "arn:aws:iam::111122223333:user/alice"
    assert body["causes"][0]["message"] == "No policy allows the action"  # the catalog title


def test_get_unknown_id_is_a_404(client):
    status, body = _get(client, "/findings/no-such-finding")
    assert status == 404
    assert body["parameter"] == "finding_id"


def test_get_too_long_id_is_a_400(client):
    status, body = _get(client, "/findings/" + "x" * 3000)
    assert (status, body["parameter"]) == (400, "finding_id")


@pytest.mark.parametrize(
    ("caller", "detail"),
    [
        ("arn:aws:iam::111122223333:user/auditor", "full"),
        ("arn:aws:sts::111122223333:assumed-role/SecOps/jane@example.com", "full"),
        ("arn:aws:iam::111122223333:user/alice", "references"),
        ("arn:aws:sts::111122223333:assumed-role/SecOpsReadOnly/x", "references"),
        (None, "references"),
    ],
)
def test_named_principals_get_full_detail(client, configure, caller, detail):
    # GIVEN a deployment that opts a user and (any session of) a role in to full detail
    configure(
        FULL_DETAIL_PRINCIPALS="arn:aws:iam::111122223333:user/audit?r, arn:aws:iam::*:role/SecOps"
    )
    headers = {CALLER_HEADER: caller} if caller else {}
    # WHEN the caller lists and gets findings
    listing = client.http.get("/findings", headers=headers)
    one = client.http.get("/findings/f4", headers=headers)
    # THEN both answers are at the caller's detail, and say so
    listed, got = json.loads(listing.body), json.loads(one.body)
    assert listed["detail"] == got["detail"] == detail
    assert {f["detail"] for f in listed["findings"]} == {detail}
    expected = "EXPLICIT_DENY_BUCKET_POLICY for carol" if detail == "full" else None
    assert (got["causes"][0]["message"] == expected) is (detail == "full")


def _post(client, body, headers=None):
    response = client.http.post(
        "/diagnose", headers={"Content-Type": "application/json", **(headers or {})}, body=body
    )
    return response.status_code, json.loads(response.body)


def test_diagnose_is_disabled_unless_the_deployment_enables_it(client):
    scenario = SCENARIOS / "no-identity-allow"
    status, body = _post(client, (scenario / "request.json").read_text())
    assert status == 404
    assert body["error"] == "Disabled"
    assert "DIAGNOSE_API" in body["message"]


def test_diagnose_without_its_role_is_a_503_naming_the_variable(client, configure, caplog):
    configure(DIAGNOSE_API="enabled")
    status, body = _post(client, (SCENARIOS / "no-identity-allow" / "request.json").read_text())
    assert status == 503
    assert (body["error"], body["variable"]) == ("NotConfigured", "DIAGNOSE_ROLE_ARN")
    assert "DIAGNOSE_ROLE_ARN" in caplog.text


@pytest.fixture
def diagnosing(client, configure, monkeypatch):
    """POST /diagnose enabled, diagnosing against a scenario's snapshot file."""
    configure(DIAGNOSE_API="enabled")
    scenario = SCENARIOS / "no-identity-allow"
    monkeypatch.setattr(
        wiring,
        "diagnosis_ports",
        lambda: {"source": FileSnapshotSource(scenario / "snapshot.json"), "clock": wiring.clock},
    )
    return scenario


def test_diagnose_answers_the_runbook_inputs_with_a_finding(client, diagnosing):
    # WHEN the runbook's inputs are posted
    status, body = _post(client, (diagnosing / "request.json").read_text())
    # THEN the finding says why, at references detail: no patch, no command
    assert status == 200
    assert body["detail"] == "references"
    assert body["decision"] == "implicit-deny"
    assert "NO_ALLOW_IDENTITY" in [c["code"] for c in body["causes"]]
    assert body["request"]["requester_arn"] == "arn:aws:iam::111122223333:user/alice"
    assert body["remedies"]
    assert all(r["patch"] is None and r["cli"] is None for r in body["remedies"])


def test_diagnose_gives_patches_to_full_detail_callers(client, diagnosing, configure):
    configure(FULL_DETAIL_PRINCIPALS="arn:aws:iam::111122223333:user/admin")
    headers = {CALLER_HEADER: "arn:aws:iam::111122223333:user/admin"}
    status, body = _post(client, (diagnosing / "request.json").read_text(), headers)
    assert (status, body["detail"]) == (200, "full")
    assert any(r["patch"] for r in body["remedies"])


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ("{not json", "body"),
        ("[1, 2]", "body"),
        ("[" * 5000, "body"),
        (
            json.dumps({"action": "s3:GetObject", "resource_arn": "arn:aws:s3:::b/k"}),
            "requester_arn",
        ),
        (
            json.dumps(
                {
                    "requester_arn": "alice",
                    "action": "s3:GetObject",
                    "resource_arn": "arn:aws:s3:::b/k",
                }
            ),
            "requester_arn",
        ),
        (
            json.dumps(
                {
                    "requester_arn": "arn:aws:iam::111122223333:user/alice",
                    "action": "s3:GetObject",
                    "resource_arn": "arn:aws:s3:::not a bucket!/k",
                }
            ),
            "resource_arn",
        ),
    ],
)
def test_diagnose_bad_body_is_a_400_naming_the_field(client, diagnosing, body, parameter):
    status, answer = _post(client, body)
    assert status == 400
    assert parameter in answer["parameter"]


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "text/\x1b[2J",
    ],
)
def test_a_body_that_is_not_json_is_a_415_in_the_api_error_shape(client, diagnosing, content_type):
    # WHEN the runbook's inputs are posted as another media type than JSON
    body = (diagnosing / "request.json").read_text()
    response = client.http.post("/diagnose", headers={"Content-Type": content_type}, body=body)
    # THEN the answer is a 415 shaped like every other error, naming the header and what to send
    assert response.status_code == 415
    assert response.headers["Content-Type"] == "application/json"
    answer = json.loads(response.body)
    assert set(answer) == {"error", "parameter", "message"}
    assert (answer["error"], answer["parameter"]) == ("UnsupportedMediaType", "Content-Type")
    assert answer["message"] == (
        f"{content_type!r} is not supported: send JSON with Content-Type: application/json"
    )


@pytest.mark.parametrize("path", ["/findings", "/findings/f4"])
def test_the_listing_and_get_answer_a_media_type_that_is_not_json_in_the_same_shape(client, path):
    response = client.http.get(path, headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert json.loads(response.body)["error"] == "UnsupportedMediaType"


def test_json_with_a_charset_is_json(client, diagnosing):
    body = (diagnosing / "request.json").read_text()
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    response = client.http.post("/diagnose", headers=headers, body=body)
    assert response.status_code == 200
