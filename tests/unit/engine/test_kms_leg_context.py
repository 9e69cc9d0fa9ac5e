"""S3's call to KMS is a KMS request: it carries none of the S3 request's own keys (`s3:`), none
of its bucket's tags (there `aws:ResourceTag` is the key's), and none of the network path's keys
(S3 makes the call, not the requester's endpoint). A KMS ABAC grant
(`aws:ResourceTag/team` on the key) was judged against the bucket's tags once bucket ABAC was on."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from chalicelib import pipeline
from chalicelib.engine import evaluate
from chalicelib.model import Layer, Outcome, Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.casefile import request_from_case

CASES = Path(__file__).resolve().parents[2] / "data" / "cases" / "kms.json"
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _case() -> dict[str, Any]:
    [case] = [
        c
        for c in json.loads(CASES.read_text())["cases"]
        if c["name"] == "kms-root-delegation-and-identity-decrypt"
    ]
    return copy.deepcopy(case)


def _with_kms_condition(case: dict[str, Any], condition: dict[str, Any]) -> None:
    [alice] = case["snapshot"]["iam"]["UserDetailList"]
    statements = alice["UserPolicyList"][0]["PolicyDocument"]["Statement"]
    [decrypt] = [s for s in statements if s["Action"] == "kms:Decrypt"]
    decrypt["Condition"] = condition


def _kms_identity(decision: Any) -> Outcome:
    [leg] = [e for e in decision.evaluations if e.action == "kms:Decrypt"]
    layer = leg.layer(Layer.IDENTITY_POLICY)
    assert layer is not None
    return layer.outcome  # type: ignore[no-any-return]


def test_a_kms_abac_grant_is_not_met_by_the_buckets_tags() -> None:
    case = _case()
    bucket = case["snapshot"]["s3"]["buckets"]["example-bucket"]
    bucket["abac"] = "Enabled"
    bucket["tags"] = [{"Key": "team", "Value": "data"}]
    case["snapshot"]["kms"]["keys"][KEY]["tags"] = []  # read: the key has no tags
    _with_kms_condition(case, {"StringEquals": {"aws:ResourceTag/team": "data"}})

    decision = evaluate(request_from_case(case["request"]), load_snapshot(case["snapshot"]))

    assert decision.decision is Verdict.IMPLICIT_DENY
    assert _kms_identity(decision) is not Outcome.ALLOW
    [s3_leg] = [e for e in decision.evaluations if e.action == "s3:GetObject"]
    assert s3_leg.decision is Verdict.ALLOWED  # the bucket's tags still count on S3's side


def test_the_s3_requests_own_and_network_keys_are_not_in_the_kms_request() -> None:
    """A KMS grant that requires a key to be absent (`Null`: true) holds on the KMS leg though
    the S3 request carries it."""
    given = {
        "s3:x-amz-server-side-encryption": ["aws:kms"],
        "aws:SourceVpce": ["vpce-0a1b2c3d4e5f60789"],
        "aws:VpceAccount": ["111122223333"],
        "aws:VpceOrgID": ["o-a1b2c3d4e5"],
        "aws:RequestTag/team": ["data"],
    }
    for key, values in given.items():
        case = _case()
        case["request"]["context"] = {key: values}
        _with_kms_condition(case, {"Null": {key: "true"}})

        decision = evaluate(request_from_case(case["request"]), load_snapshot(case["snapshot"]))

        assert decision.decision is Verdict.ALLOWED, key
        assert _kms_identity(decision) is Outcome.ALLOW, key


def test_what_ifs_name_only_keys_that_reach_the_kms_statement_testing_them() -> None:
    """A runbook request's what-if sets a key on the S3 request: a KMS statement's condition on
    the key's tags is out of its reach (it said 'aws:ResourceTag/team = data: still denied'),
    one on aws:SecureTransport is not."""
    case = _case()
    case["snapshot"]["kms"]["keys"][KEY]["tags"] = [{"TagKey": "team", "TagValue": "web"}]
    _with_kms_condition(
        case,
        {
            "StringEquals": {"aws:ResourceTag/team": "data"},
            "Bool": {"aws:SecureTransport": "true"},
        },
    )

    finding = pipeline.diagnose(request_from_case(case["request"]), case["snapshot"])

    assert [w.key for w in finding.what_if] == ["aws:SecureTransport"]


def test_a_kms_near_miss_names_the_call_whose_context_it_read() -> None:
    """On the KMS leg the tag is the key's: the near miss says what S3's call to KMS had, not
    'the request' (whose tags are the bucket's)."""
    case = _case()
    case["snapshot"]["kms"]["keys"][KEY]["tags"] = [{"TagKey": "team", "TagValue": "web"}]
    _with_kms_condition(case, {"StringEquals": {"aws:ResourceTag/team": "data"}})

    finding = pipeline.diagnose(request_from_case(case["request"]), case["snapshot"])

    [near] = [m for m in finding.near_misses if "aws:ResourceTag/team" in m.why]
    assert near.why.endswith("expects [data], S3's call to KMS has [web]")
