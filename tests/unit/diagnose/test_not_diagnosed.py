"""Requests the engine does not model are said to be not diagnosed, with no verdict, layer or
fix: a Multi-Region Access Point request (S3 authorizes it on the Multi-Region Access Point,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/MultiRegionAccessPointPermissions.html)
and an S3 Object Lambda request (spec §3.5: "detected, not diagnosed"). Both were judged as
direct bucket requests, with verified IAM grants on the bucket that cannot work."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose import render_markdown, render_text
from chalicelib.diagnose.detail import Detail, at_detail
from chalicelib.events import parse_event
from chalicelib.model import Scope, Verdict
from chalicelib.publish.securityhub import asff_finding, description
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import assert_inert, assert_inert_in_every_rendering
from tests.unit.engine.runbook_documents import user_get_record

from .diagnose_builders import iam_user

ACCOUNT = "111122223333"
BUCKET = "acme-data"
KEY = "data/report.csv"
MRAP = f"arn:aws:s3::{ACCOUNT}:accesspoint/mfzwi23gnjvgw.mrap"
MRAP_HOST = "mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _record(how: str) -> dict[str, Any]:
    record = user_get_record(ACCOUNT, BUCKET, KEY)
    if how == "mrap-resource":
        record["resources"].append(
            {"accountId": ACCOUNT, "type": "AWS::S3::MultiRegionAccessPoint", "ARN": MRAP}
        )
    elif how == "mrap-as-access-point":
        record["resources"].append(
            {"accountId": ACCOUNT, "type": "AWS::S3::AccessPoint", "ARN": MRAP}
        )
    elif how == "mrap-host":
        record["requestParameters"]["Host"] = MRAP_HOST
        record["tlsDetails"]["clientProvidedHostHeader"] = MRAP_HOST
    else:
        record["eventSource"] = "s3-object-lambda.amazonaws.com"
    return record


def _snapshot() -> Any:
    alice = iam_user("alice")
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": {BUCKET: {"region": "us-east-1"}}},
        }
    )


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("mrap-resource", "Multi-Region Access Point"),
        ("mrap-as-access-point", "Multi-Region Access Point"),
        ("mrap-host", "Multi-Region Access Point"),
        ("object-lambda", "S3 Object Lambda"),
    ],
)
def test_an_unsupported_request_is_not_diagnosed_and_gets_no_fix(how: str, said: str) -> None:
    request = parse_event(_record(how))
    assert request.scope is Scope.OUT_OF_SCOPE

    finding = pipeline.diagnose(request, _snapshot())

    assert finding.decision is Verdict.INCONCLUSIVE
    assert finding.blocked_by == ()
    assert finding.remedies == ()
    assert finding.evaluations == ()
    [cause] = finding.causes
    assert cause.code == "OUT_OF_SCOPE_UNSUPPORTED"
    assert said in cause.message and "not diagnosed" in cause.message
    text = render_text(finding)
    assert text.startswith("NOT DIAGNOSED ")
    assert "FIX" not in text and "LAYERS" not in text
    assert "### Layers" not in render_markdown(finding)


@pytest.mark.parametrize("how", ["mrap-host", "object-lambda"])
def test_a_request_not_diagnosed_is_informational_in_security_hub(how: str) -> None:
    """It was imported as a MEDIUM "Software and Configuration Checks/AWS Security Best
    Practices" finding, like a diagnosis of the policies; it judges none."""
    finding = pipeline.diagnose(parse_event(_record(how)), _snapshot(), now="2025-03-01T10:00:00Z")

    for detail in Detail:
        document = asff_finding(
            finding, account_id=ACCOUNT, region="us-east-1", now=NOW, detail=detail
        )
        assert document["Severity"] == {"Label": "INFORMATIONAL"}
        assert document["Types"] == ["Software and Configuration Checks"]
        assert document["FindingProviderFields"]["Severity"] == {"Label": "INFORMATIONAL"}
        assert document["FindingProviderFields"]["Types"] == ["Software and Configuration Checks"]


def test_a_hostile_multi_region_host_is_data_in_every_rendering() -> None:
    """The host comes from the record and the cause quotes it."""
    hostile = "x\u202e\n\nFIX\n  1. Run: `$(id)`<b>\x1b]52;c;" + MRAP_HOST
    record = _record("mrap-host")
    record["requestParameters"]["Host"] = hostile
    record["tlsDetails"]["clientProvidedHostHeader"] = hostile

    finding = pipeline.diagnose(parse_event(record), _snapshot())

    assert finding.causes[0].code == "OUT_OF_SCOPE_UNSUPPORTED"
    assert_inert_in_every_rendering(finding)


def test_the_hostile_host_stays_data_in_the_alerts_scope_sentence() -> None:
    """At `references` (every alert by default) the scope cause keeps its sentence, which
    quotes the record's host: inert there too, Security Hub's description included."""
    hostile = "x\u202e\n\nFIX\n  1. Run: `$(id)`<b>\x1b]52;c;" + MRAP_HOST
    record = _record("mrap-host")
    record["requestParameters"]["Host"] = hostile
    record["tlsDetails"]["clientProvidedHostHeader"] = hostile

    shown = at_detail(pipeline.diagnose(parse_event(record), _snapshot()), Detail.REFERENCES)

    assert "\\x1b]52;c;" in render_text(shown)  # the sentence is kept, shown as data
    assert_inert_in_every_rendering(shown)
    assert_inert(description(shown))
