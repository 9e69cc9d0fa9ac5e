"""On S3's call to KMS, `aws:ResourceTag/<key>` is the KMS key's own tags (KMS ABAC): an IAM
grant on a tag matches the key's tags, a key-policy Deny on a tag fires, and tags that could not
be read leave the KMS call unchecked (never a definite "no grant") when a policy of that call
names such a key."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.render import render_text
from chalicelib.engine import decide, evaluate
from chalicelib.model import Layer, Outcome, Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import (
    assert_inert_in_every_rendering,
)
from tests.unit.engine.casefile import request_from_case

CASES = Path(__file__).resolve().parents[2] / "data" / "cases" / "kms.json"
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TEAM_DATA = {"StringEquals": {"aws:ResourceTag/team": "data"}}


def _case(tags: Any) -> dict[str, Any]:
    """The case of alice's GetObject of an SSE-KMS object whose kms:Decrypt grant needs the key
    tagged team=data; the key's `tags` as the snapshot holds them (left out when `...`)."""
    [case] = [
        c
        for c in json.loads(CASES.read_text())["cases"]
        if c["name"] == "kms-root-delegation-and-identity-decrypt"
    ]
    case = copy.deepcopy(case)
    [alice] = case["snapshot"]["iam"]["UserDetailList"]
    statements = alice["UserPolicyList"][0]["PolicyDocument"]["Statement"]
    [decrypt] = [s for s in statements if s["Action"] == "kms:Decrypt"]
    decrypt["Condition"] = TEAM_DATA
    if tags is not ...:
        case["snapshot"]["kms"]["keys"][KEY]["tags"] = tags
    return case


def _run(case: dict[str, Any]) -> Any:
    return evaluate(request_from_case(case["request"]), load_snapshot(case["snapshot"]))


def _kms_identity(decision: Any) -> Outcome:
    [leg] = [e for e in decision.evaluations if e.action == "kms:Decrypt"]
    layer = leg.layer(Layer.IDENTITY_POLICY)
    assert layer is not None
    return layer.outcome  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("tags", "verdict"),
    [
        (
            [{"TagKey": "team", "TagValue": "data"}, {"TagKey": "env", "TagValue": "prod"}],
            "allowed",
        ),
        ([{"TagKey": "team", "TagValue": "web"}], "implicit-deny"),
        ([{"TagKey": "Team", "TagValue": "data"}], "implicit-deny"),
        ([], "implicit-deny"),
    ],
    ids=["tagged", "other-value", "other-key-case", "untagged"],
)
def test_a_kms_abac_grant_allows_a_key_carrying_the_tag_only(
    tags: list[dict[str, str]], verdict: str
) -> None:
    case = _case(tags)
    snapshot = load_snapshot(case["snapshot"])
    request = request_from_case(case["request"])

    decision = evaluate(request, snapshot)

    assert decision.decision is Verdict(verdict)
    assert (_kms_identity(decision) is Outcome.ALLOW) is (verdict == "allowed")
    assert decision.unchecked == ()
    assert decide(request, snapshot).decision is Verdict(verdict)  # decided in full
    assert decide(request, snapshot).decision is Verdict(verdict)  # remembered


def test_a_key_policy_deny_on_a_tag_fires_on_the_keys_tag() -> None:
    case = _case([{"TagKey": "team", "TagValue": "data"}, {"TagKey": "frozen", "TagValue": "yes"}])
    policy = case["snapshot"]["kms"]["keys"][KEY]["policy"]
    policy["Statement"].append(
        {
            "Sid": "NoFrozenKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/frozen": "yes"}},
        }
    )

    decision = _run(case)

    assert decision.decision is Verdict.EXPLICIT_DENY
    assert Layer.KMS_KEY_POLICY in decision.blocked_by


@pytest.mark.parametrize(
    ("tags", "said"),
    [
        ({"$unreadable": "AccessDeniedException", "needs": "kms:ListResourceTags"}, "Access"),
        (..., "not collected"),
    ],
    ids=["refused", "left-out"],
)
def test_unread_key_tags_leave_the_kms_call_unchecked_when_a_policy_of_it_names_them(
    tags: Any, said: str
) -> None:
    decision = _run(_case(tags))

    assert decision.decision is Verdict.INCONCLUSIVE
    [problem] = [u for u in decision.unchecked if "aws:ResourceTag" in u.reason]
    assert problem.layer is Layer.KMS_KEY_POLICY
    assert problem.needs == "kms:ListResourceTags"
    assert said in problem.reason and KEY in problem.reason

    # A policy naming the bucket's tags for S3 actions only is not one of the KMS call's.
    case = _case(tags)
    [alice] = case["snapshot"]["iam"]["UserDetailList"]
    statements = alice["UserPolicyList"][0]["PolicyDocument"]["Statement"]
    for statement in statements:
        statement.pop("Condition", None)
    statements.append(
        {
            "Effect": "Deny",
            "Action": "s3:DeleteObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/locked": "yes"}},
        }
    )

    decision = _run(case)

    assert decision.decision is Verdict.ALLOWED
    assert decision.unchecked == ()


def test_the_near_miss_of_a_kms_abac_grant_quotes_the_keys_tag_as_data() -> None:
    """The near miss of the KMS call tells what the key carries (not the S3 request's context);
    the tag is whoever tagged the key's text: inert on a terminal, in Markdown and in chat."""
    value = "web\n\nFIX\n<!channel> @here [x](https://evil.example) $(id) \x1b]52;c;"
    case = _case([{"TagKey": "team", "TagValue": value}])

    finding = pipeline.diagnose(request_from_case(case["request"]), case["snapshot"])

    [near] = [m for m in finding.near_misses if "aws:ResourceTag/team" in m.why]
    assert near.layer is Layer.IDENTITY_POLICY
    assert "absent" not in near.why and "web" in near.why
    assert "evil" in render_text(finding)
    assert_inert_in_every_rendering(finding)


def test_unread_key_tags_named_by_an_scp_leave_the_kms_call_unchecked() -> None:
    """A tag Deny in an SCP may fire on the key's tags: with them unread, no definite answer."""
    case = _case({"$unreadable": "AccessDeniedException", "needs": "kms:ListResourceTags"})
    [alice] = case["snapshot"]["iam"]["UserDetailList"]
    for statement in alice["UserPolicyList"][0]["PolicyDocument"]["Statement"]:
        statement.pop("Condition", None)
    scp = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "kms:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/frozen": "yes"}},
            },
        ],
    }
    case["snapshot"]["organization"] = {
        "org_id": "o-a1b2c3d4e5",
        "management_account_id": "999999999999",
        "levels": [
            {
                "target_id": "r-ab12",
                "scps": [{"Id": "p-1", "Name": "frozen", "Arn": "arn:p-1", "Content": scp}],
            }
        ],
    }

    decision = _run(case)

    assert decision.decision is Verdict.INCONCLUSIVE
    assert any("aws:ResourceTag" in u.reason for u in decision.unchecked)
