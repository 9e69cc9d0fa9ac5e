"""A general purpose bucket's tags are aws:ResourceTag/<key> and s3:BucketTag/<key> in a
request's context while its ABAC status is Enabled, as in AWS ("S3 evaluates this condition key
only after you enable ABAC on your bucket"); when ABAC is off they are for cost allocation only.
Without them a tag grant lets nobody in and a `StringNotEquals aws:ResourceTag/...` Deny denies
everyone."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose.render import render_chatbot
from chalicelib.engine import decide, evaluate
from chalicelib.engine.resolve import FROM_BUCKET_TAGS, VPC_KNOWN_NOTE, VPC_UNKNOWN_NOTE
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.test_render import assert_inert_in_every_rendering

from .runbook_documents import batch_decisions, object_read, read_statement, user_get_record

ACCOUNT = "111122223333"
BUCKET = "finance-data"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
TEAM_GRANT = read_statement(
    "Allow",
    BUCKET,
    Condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
)
OTHER_TEAMS_OUT = read_statement(
    "Deny",
    BUCKET,
    Principal="*",
    Condition={"StringNotEquals": {"aws:ResourceTag/team": "finance"}},
)
VPCE, VPC = "vpce-0a1b2c3d4e5f60789", "vpc-0aaa1111"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _snapshot(
    *bucket_statements: dict[str, Any],
    identity: tuple[dict[str, Any], ...] = (TEAM_GRANT,),
    abac: Any = "Enabled",
    tags: Any = None,
) -> Any:
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE000000000000",
        "Arn": ALICE,
        "Path": "/",
        "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": _policy(*identity)}],
        "AttachedManagedPolicies": [],
        "GroupList": [],
        "Tags": [{"Key": "team", "Value": "finance"}],
    }
    bucket: dict[str, Any] = {
        "tags": [{"Key": "team", "Value": "finance"}] if tags is None else tags,
        "abac": abac,
    }
    if bucket_statements:
        bucket["policy"] = _policy(*bucket_statements)
    return load_snapshot(
        {
            "account_id": ACCOUNT,
            "partition": "aws",
            "region": "us-east-1",
            "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
            "s3": {"buckets": {BUCKET: bucket}},
            "vpc_endpoints": {
                VPCE: {"VpcEndpointId": VPCE, "VpcEndpointType": "Gateway", "VpcId": VPC}
            },
        }
    )


def _read(**more: Any) -> Any:
    return request_from_runbook(object_read(ALICE, BUCKET, **more))


def _values(request: Any, name: str) -> list[tuple[str, ...]]:
    return [e.values for e in request.context if e.name.lower() == name.lower()]


def test_an_identity_tag_grant_lets_the_team_in_only_while_abac_is_enabled() -> None:
    enabled = pipeline.diagnose(_read(), _snapshot())

    assert enabled.decision is Verdict.ALLOWED, [c.message for c in enabled.causes]
    assert _values(enabled.request, "aws:ResourceTag/team") == [("finance",)]
    assert _values(enabled.request, "s3:BucketTag/team") == [("finance",)]
    assert {e.source for e in enabled.request.context if "Tag/team" in e.name} >= {FROM_BUCKET_TAGS}
    for off in ("Disabled", None):
        finding = pipeline.diagnose(_read(), _snapshot(abac=off))
        assert finding.decision is Verdict.IMPLICIT_DENY, off
        assert _values(finding.request, "aws:ResourceTag/team") == []


@pytest.mark.parametrize("abac", ["Disabled", None])
def test_a_tag_grant_on_a_bucket_whose_abac_is_off_says_what_would_make_it_count(
    abac: str | None,
) -> None:
    """The likely mistake: the bucket is tagged and a policy grants on its tag, but ABAC was
    never enabled. The near miss says so when the snapshot knows ABAC is off (not when the status
    was not collected), with the tag the bucket has."""
    finding = pipeline.diagnose(_read(), _snapshot(abac=abac))

    [near] = [m for m in finding.near_misses if "aws:ResourceTag/team" in m.why]
    said = "the ABAC of bucket finance-data is disabled, so S3 does not put its tags in"
    if abac == "Disabled":
        assert said in near.why and "(it has team = [finance])" in near.why, near.why
        assert "PutBucketAbac" in near.why
    else:
        assert said not in near.why, near.why


def test_a_hostile_tag_value_in_the_abac_hint_is_data_in_every_rendering() -> None:
    """The tag the hint quotes is whoever tagged the bucket's text: kept whole in the finding,
    inert on a terminal, in Markdown and in chat."""
    value = "finance\n\nFIX\n<!channel> [x](https://evil.example) $(id) \x1b]52;c;"
    finding = pipeline.diagnose(
        _read(), _snapshot(abac="Disabled", tags=[{"Key": "team", "Value": value}])
    )

    [near] = [m for m in finding.near_misses if "aws:ResourceTag/team" in m.why]
    assert f"(it has team = [{value}])" in near.why
    assert_inert_in_every_rendering(finding)
    content = render_chatbot(finding)["content"]
    for text in (content["title"], content["description"], *content["nextSteps"]):
        assert "<" not in text and ">" not in text


def test_a_bucket_policy_tag_grant_lets_the_team_in() -> None:
    grant = read_statement(
        "Allow",
        BUCKET,
        Principal={"AWS": ALICE},
        Condition={"StringEquals": {"s3:BucketTag/team": "${aws:PrincipalTag/team}"}},
    )
    snapshot = _snapshot(grant, identity=())

    assert decide(_read(), snapshot).decision is Verdict.ALLOWED
    assert decide(_read(), _snapshot(grant, identity=(), abac="Disabled")).decision is (
        Verdict.IMPLICIT_DENY
    )


def test_a_tag_deny_spares_the_matching_bucket_and_denies_the_others() -> None:
    ours = _snapshot(OTHER_TEAMS_OUT)
    theirs = _snapshot(OTHER_TEAMS_OUT, tags=[{"Key": "team", "Value": "sales"}])

    assert evaluate(_read(), ours).decision is Verdict.ALLOWED
    assert evaluate(_read(), theirs).decision is Verdict.EXPLICIT_DENY
    # ABAC off: the key is absent, so StringNotEquals matches, as in AWS
    assert evaluate(_read(), _snapshot(OTHER_TEAMS_OUT, abac="Disabled")).decision is (
        Verdict.EXPLICIT_DENY
    )


def test_a_tag_key_keeps_its_case() -> None:
    """S3 tag keys are case-sensitive: a `Team` tag is not `aws:ResourceTag/team`."""
    snapshot = _snapshot(tags=[{"Key": "Team", "Value": "finance"}])

    assert evaluate(_read(), snapshot).decision is Verdict.IMPLICIT_DENY


def test_a_given_value_wins() -> None:
    given = [
        {
            "ContextKeyName": "aws:resourcetag/team",
            "ContextKeyValues": ["sales"],
            "ContextKeyType": "string",
        }
    ]
    finding = pipeline.diagnose(_read(context=given), _snapshot())

    assert finding.decision is Verdict.IMPLICIT_DENY
    assert _values(finding.request, "aws:ResourceTag/team") == [("sales",)]
    assert _values(finding.request, "s3:BucketTag/team") == [("finance",)]


def test_an_event_gets_the_bucket_tags() -> None:
    record = user_get_record(ACCOUNT, BUCKET, "reports/q1.csv")
    finding = pipeline.diagnose(parse_event(record), _snapshot(OTHER_TEAMS_OUT))

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _values(finding.request, "aws:ResourceTag/team") == [("finance",)]


@pytest.mark.parametrize("detail", ["decision", "full"])
def test_batch_lines_decide_as_single_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    """Lines giving another team's tag first grow the shape's tree with the deny path; the
    lines without it then walk it with the derived tag, which must let them in."""
    given = [
        {
            "ContextKeyName": "aws:ResourceTag/team",
            "ContextKeyValues": ["sales"],
            "ContextKeyType": "string",
        }
    ]
    documents = [
        object_read(ALICE, BUCKET, resource_arn=f"arn:aws:s3:::{BUCKET}/p-{i}", **more)
        for i, more in enumerate([{"context": given}] * 3 + [{}] * 4)
    ]
    snapshot = _snapshot(OTHER_TEAMS_OUT)

    decisions = batch_decisions(tmp_path, capsys, snapshot.document, documents, detail)

    expected = [
        pipeline.diagnose(request_from_runbook(d), snapshot).decision.value for d in documents
    ]
    assert expected == ["explicit-deny"] * 3 + ["allowed"] * 4
    assert decisions == expected


@pytest.mark.parametrize("value", ["*", "fin*", "finance\n", "${aws:username}"])
def test_a_hostile_tag_value_is_literal_data(value: str) -> None:
    """A tag value is whoever tagged the bucket's text: `*`, a line break or a policy variable
    in it matches only itself."""
    owner = read_statement(
        "Allow", BUCKET, Condition={"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}}
    )
    like = read_statement(
        "Allow", BUCKET, Condition={"StringLike": {"aws:ResourceTag/team": "finance"}}
    )
    tags = [{"Key": "team", "Value": value}, {"Key": "owner", "Value": value}]
    snapshot = _snapshot(identity=(TEAM_GRANT, owner, like), tags=tags)

    finding = pipeline.diagnose(_read(), snapshot)

    assert finding.decision is Verdict.IMPLICIT_DENY
    assert _values(finding.request, "aws:ResourceTag/team") == [(value,)]


def test_an_unreadable_abac_status_or_tag_set_is_noted_when_a_policy_reads_the_key() -> None:
    marker = {"$unreadable": "AccessDenied", "needs": "s3:GetBucketAbac"}
    finding = pipeline.diagnose(_read(), _snapshot(abac=marker))

    assert finding.decision is Verdict.IMPLICIT_DENY
    assert _values(finding.request, "aws:ResourceTag/team") == []
    [note] = [n for n in finding.request.notes if "not checked" in n]
    assert "ABAC status" in note and "s3:GetBucketAbac" in note and BUCKET in note

    tags = {"$unreadable": "AccessDenied", "needs": "s3:GetBucketTagging"}
    finding = pipeline.diagnose(_read(), _snapshot(tags=tags))
    assert any("s3:GetBucketTagging" in n for n in finding.request.notes)

    plain = read_statement("Allow", BUCKET)
    finding = pipeline.diagnose(_read(), _snapshot(identity=(plain,), abac=marker))
    assert finding.decision is Verdict.ALLOWED
    assert not any("not checked" in n for n in finding.request.notes)


def test_a_request_through_an_access_point_gets_no_bucket_tags() -> None:
    """Through an access point ARN, aws:ResourceTag is the access point's own tags."""
    point = f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/finance"
    request = dataclasses.replace(_read(), access_point_arn=point)
    snapshot = _snapshot()

    resolved = pipeline.diagnose(request, snapshot).request

    assert _values(resolved, "aws:ResourceTag/team") == []
    assert any("access point" in n for n in pipeline.diagnose(request, snapshot).request.notes)


def test_an_event_through_an_endpoint_drops_the_unknown_vpc_note_once_the_vpc_is_derived() -> None:
    record = user_get_record(ACCOUNT, BUCKET, "reports/q1.csv", vpc_endpoint_id=VPCE)
    event = parse_event(record)
    assert any(VPC_UNKNOWN_NOTE in n for n in event.notes)

    finding = pipeline.diagnose(event, _snapshot())

    assert _values(finding.request, "aws:SourceVpc") == [(VPC,)]
    assert not any(VPC_UNKNOWN_NOTE in n for n in finding.request.notes)
    assert any(VPC_KNOWN_NOTE in n for n in finding.request.notes)

    doc = copy.deepcopy(_snapshot().document)
    del doc["vpc_endpoints"]
    unknown = pipeline.diagnose(event, load_snapshot(doc))
    assert any(VPC_UNKNOWN_NOTE in n for n in unknown.request.notes)


POINT = f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/finance"
POINT_GRANT = read_statement(
    "Allow",
    BUCKET,
    Resource=[f"arn:aws:s3:::{BUCKET}/*", f"{POINT}/object/*"],
    Condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
)


def _through_point(tags: Any, abac: str = "Disabled", grant: Any = POINT_GRANT) -> Any:
    """The finding of alice's read through access point `finance`, whose tags are `tags`
    (left out when `...`), under the identity statement `grant`."""
    doc = copy.deepcopy(_snapshot(identity=(grant,), abac=abac).document)
    point: dict[str, Any] = {"Name": "finance", "Bucket": BUCKET, "NetworkOrigin": "Internet"}
    if tags is not ...:
        point["tags"] = tags
    doc["s3"]["access_points"] = {POINT: point}
    request = dataclasses.replace(_read(), access_point_arn=POINT)
    return pipeline.diagnose(request, load_snapshot(doc))


@pytest.mark.parametrize("abac", ["Enabled", "Disabled"])
def test_through_an_access_point_the_tags_are_the_access_points(abac: str) -> None:
    """ABAC is on for access points whatever the bucket's setting: a tag grant meets the
    access point's tags, not the bucket's (it let nobody in)."""
    finding = _through_point([{"Key": "team", "Value": "finance"}], abac)

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert [(e.values, e.source) for e in finding.request.context if "ResourceTag" in e.name] == [
        (("finance",), "derived:access point tags in the snapshot")
    ]
    other = _through_point([{"Key": "team", "Value": "web"}], abac)
    assert other.decision is Verdict.IMPLICIT_DENY
    assert not [n for n in other.request.notes if "not checked" in n]


@pytest.mark.parametrize(
    ("tags", "said"),
    [
        (..., "were not collected (needs s3:ListTagsForResource)"),
        ({"$unreadable": "AccessDenied"}, "could not be read (AccessDenied; needs"),
    ],
)
def test_access_point_tags_not_read_are_said_not_checked(tags: Any, said: str) -> None:
    finding = _through_point(tags)

    assert finding.decision is Verdict.IMPLICIT_DENY
    [note] = [n for n in finding.request.notes if "point's own tags" in n]
    assert note.startswith("aws:ResourceTag/<key> and s3:BucketTag/<key> not checked")
    assert said in note


def test_an_access_point_tag_grant_meets_its_s3_access_point_tag_key() -> None:
    """S3 also names the access point's tags s3:AccessPointTag/<key> on the actions that carry
    it (GetObject among them)."""
    grant = {**POINT_GRANT, "Condition": {"StringEquals": {"s3:AccessPointTag/team": "finance"}}}

    finding = _through_point([{"Key": "team", "Value": "finance"}], grant=grant)

    assert finding.decision is Verdict.ALLOWED, [c.message for c in finding.causes]
    assert _through_point([], grant=grant).decision is Verdict.IMPLICIT_DENY


@pytest.mark.parametrize(
    ("abac", "said"),
    [
        ("Enabled", "whether S3 adds the tags of bucket finance-data (its ABAC is enabled)"),
        ({"$unreadable": "AccessDenied"}, "the ABAC status of bucket finance-data could not be"),
    ],
)
def test_an_s3_bucket_tag_key_through_an_access_point_is_said_not_checked(
    abac: Any, said: str
) -> None:
    """AWS documents the access point's tags as aws:ResourceTag through it, and not whether the
    bucket's tags are s3:BucketTag there: a grant on that key is not judged silently."""
    grant = {**POINT_GRANT, "Condition": {"StringEquals": {"s3:BucketTag/team": "finance"}}}

    finding = _through_point([{"Key": "team", "Value": "finance"}], abac, grant=grant)

    assert _values(finding.request, "s3:BucketTag/team") == []
    [note] = [n for n in finding.request.notes if "not checked" in n]
    assert note.startswith(f"s3:BucketTag/<key> not checked: through access point {POINT}, ")
    assert said in note


def test_no_bucket_tag_note_through_an_access_point_when_the_bucket_has_none_in_context() -> None:
    grant = {**POINT_GRANT, "Condition": {"StringEquals": {"s3:BucketTag/team": "finance"}}}
    point_tags = [{"Key": "team", "Value": "finance"}]

    assert not [
        n
        for n in _through_point(point_tags, "Disabled", grant=grant).request.notes
        if "not checked" in n
    ]
    # The access point's own tag grant names no s3:BucketTag key.
    notes = _through_point(point_tags, "Enabled").request.notes
    assert not [n for n in notes if "not checked" in n]
