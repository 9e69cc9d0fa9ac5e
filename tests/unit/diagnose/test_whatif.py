"""What-if on condition keys a runbook request did not give (issue 11.5)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from chalicelib import pipeline
from chalicelib.diagnose import render_markdown, render_text
from chalicelib.diagnose.detail import Detail, at_detail
from chalicelib.diagnose.whatif import MAX_KEYS
from chalicelib.model import Finding, Layer, Verdict, WhatIf
from chalicelib.request import request_from_runbook

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
WITHOUT_KEY = SCENARIOS / "runbook-deny-insecure-transport-no-context-key"
WITH_KEY = SCENARIOS / "bucket-policy-deny-insecure-transport"


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _finding(
    scenario: Path, *, request: Any = None, snapshot: Any = None, event_id: str | None = None
) -> Finding:
    parsed = request_from_runbook(request or _read(scenario / "request.json"))
    if event_id is not None:
        parsed = replace(parsed, event_id=event_id)
    return pipeline.diagnose(parsed, snapshot or _read(scenario / "snapshot.json"))


def _with_bucket_policy(statements: list[dict[str, Any]]) -> Any:
    snapshot = copy.deepcopy(_read(WITHOUT_KEY / "snapshot.json"))
    bucket = snapshot["s3"]["buckets"]["example-bucket"]
    bucket["policy"] = {"Version": "2012-10-17", "Statement": statements}
    return snapshot


def test_a_deny_on_a_key_the_request_did_not_give_is_tried_and_named() -> None:
    finding = _finding(WITHOUT_KEY)

    assert finding.decision is Verdict.ALLOWED
    assert finding.what_if == (
        WhatIf(
            key="aws:SecureTransport",
            assumed_values=("false",),
            decision=Verdict.EXPLICIT_DENY,
            blocked_by=(Layer.BUCKET_POLICY,),
        ),
    )


def test_the_text_is_headed_allowed_and_says_what_would_deny() -> None:
    text = render_text(_finding(WITHOUT_KEY))
    lines = text.splitlines()

    assert lines[0].startswith("ALLOWED  s3:GetObject")
    assert "NOT REPRODUCED" not in text
    assert "IF THE REQUEST SAID…" in lines
    said = " ".join(line.strip() for line in lines[lines.index("IF THE REQUEST SAID…") + 1 :][:2])
    assert said.startswith(
        "- denied if aws:SecureTransport is false (the request did not say): explicit-deny, "
        "blocked by bucket-policy"
    )


def test_the_markdown_has_the_what_if_section() -> None:
    markdown = render_markdown(_finding(WITHOUT_KEY))

    assert markdown.startswith("## Allowed: ")
    assert "### If the request said…" in markdown
    assert "- denied if `aws:SecureTransport` is `false` (the request did not say)" in markdown


def test_an_event_found_allowed_is_still_not_reproduced_and_gets_no_what_if() -> None:
    finding = _finding(WITHOUT_KEY, event_id="11111111-2222-3333-4444-555555555555")

    assert finding.what_if == ()
    assert render_text(finding).startswith("NOT REPRODUCED  s3:GetObject")


def test_a_key_the_request_gave_is_not_assumed() -> None:
    finding = _finding(WITH_KEY)

    assert finding.decision is Verdict.EXPLICIT_DENY
    assert finding.what_if == ()
    assert "IF THE REQUEST SAID" not in render_text(finding)
    assert "what_if" not in finding.to_dict()  # absent when empty: older findings unchanged


def test_an_allow_on_a_missing_key_says_which_value_would_allow() -> None:
    allow = {
        "Sid": "FromOffice",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::example-bucket/*",
        "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}},
    }
    request = {
        **_read(WITHOUT_KEY / "request.json"),
        "requester_arn": "arn:aws:iam::111122223333:user/bob",
    }
    snapshot = _with_bucket_policy([allow])
    snapshot["iam"]["UserDetailList"].append(
        {
            "Arn": "arn:aws:iam::111122223333:user/bob",
            "AttachedManagedPolicies": [],
            "GroupList": [],
            "Path": "/",
            "UserId": "AIDAEXAMPLEBOB000001",
            "UserName": "bob",
            "UserPolicyList": [],
        }
    )

    finding = _finding(WITHOUT_KEY, request=request, snapshot=snapshot)

    assert finding.decision is Verdict.IMPLICIT_DENY
    (item,) = finding.what_if
    assert item.key == "aws:SourceIp"
    assert item.decision is Verdict.ALLOWED
    assert item.assumed_values == ("10.0.0.1",)
    assert "allowed if aws:SourceIp is 10.0.0.1 (the request did not say)" in " ".join(
        render_text(finding).split()
    )


def test_keys_the_action_never_carries_are_not_assumed_and_the_list_is_bounded() -> None:
    keys = [f"aws:PrincipalTag/team{i}" for i in range(MAX_KEYS + 3)]
    statements = [
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::example-bucket/*",
            "Condition": {"StringEquals": {key: "blue"}},
        }
        for key in keys
    ]
    statements.append(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "arn:aws:s3:::example-bucket/*",
            "Condition": {"StringLike": {"s3:prefix": "home/*"}},  # ListBucket only
        }
    )

    finding = _finding(WITHOUT_KEY, snapshot=_with_bucket_policy(statements))

    assert [w.key for w in finding.what_if] == keys[:MAX_KEYS]
    assert all(w.decision is Verdict.EXPLICIT_DENY for w in finding.what_if)
    assert all(w.assumed_values == ("blue",) for w in finding.what_if)


def test_the_what_if_survives_json_and_drops_values_at_references() -> None:
    finding = _finding(WITHOUT_KEY)

    assert Finding.from_dict(finding.to_dict()) == finding
    shown = at_detail(finding, Detail.REFERENCES)
    assert shown.to_dict()["what_if"] == [
        {
            "key": "aws:SecureTransport",
            "assumed_values": [],
            "decision": "explicit-deny",
            "blocked_by": ["bucket-policy"],
        }
    ]
    assert "false" not in render_text(shown).split("IF THE REQUEST SAID…")[1].split("\n\n")[0]
