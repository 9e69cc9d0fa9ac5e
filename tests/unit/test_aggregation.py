"""Who a requester is to us, and which denials are counted on one finding."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from chalicelib.aggregation import (
    MEMBERSHIP_NEEDS,
    Origin,
    Trust,
    cheap_key,
    diagnosis_key,
    health_finding,
    membership_note,
    origin,
    outsider_finding,
    role_of,
    tally,
    window_for,
)
from chalicelib.events import parse_event
from chalicelib.model import Verdict
from chalicelib.pipeline import diagnose
from tests.unit.events.eventdata import load

CROSS = "assumedrole-cross-account-getobject"  # a role of 444455556666 on 111122223333's bucket
ANONYMOUS = "05-anonymous-headobject"
SAME = "01-iamuser-getobject-version-vpce-explicit-deny"
ROLE_SESSION = "02-assumedrole-putobject-ssekms-generatedatakey-denied"  # message names the ARN


def _event(name: str, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load(name))
    record = event.get("detail", event)
    for path, value in changes.items():
        target = record
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return event


def _session(name: str, session: str) -> dict[str, Any]:
    """The cross-account event with another role session name, as CloudTrail would log it."""
    event = _event(name)
    record = event.get("detail", event)
    old = record["userIdentity"]["arn"]
    new = old.rsplit("/", 1)[0] + "/" + session
    record["userIdentity"]["arn"] = new
    record["userIdentity"]["principalId"] = record["userIdentity"]["principalId"].split(":")[0] + (
        ":" + session
    )
    if "errorMessage" in record:
        record["errorMessage"] = record["errorMessage"].replace(old, new)
    return event


def test_role_of_reads_roles_with_paths_and_sessions() -> None:
    assert role_of("arn:aws:iam::111122223333:role/service-role/etl") == ("111122223333", "etl")
    assert role_of("arn:aws:sts::111122223333:assumed-role/etl/nightly") == (
        "111122223333",
        "etl",
    )
    assert role_of("arn:aws:iam::111122223333:user/alice") is None
    assert role_of("not an arn") is None


def test_same_account_requesters_are_insiders() -> None:
    assert origin(parse_event(load(SAME)), Trust()) is Origin.INSIDER


def test_anonymous_callers_are_outsiders() -> None:
    kind = origin(parse_event(load(ANONYMOUS)), Trust())
    assert kind is Origin.ANONYMOUS and kind.outsider


def test_another_account_is_an_outsider_unless_it_is_in_the_organization() -> None:
    request = parse_event(load(CROSS))
    assert origin(request, Trust()) is Origin.FOREIGN_ACCOUNT
    trusted = Trust(organization_accounts=frozenset({"444455556666"}))
    assert origin(request, trusted) is Origin.INSIDER


def test_the_diagnosers_own_role_is_recognised_in_any_session() -> None:
    request = parse_event(load(CROSS))
    ours = Trust(diagnoser_roles=frozenset({("444455556666", "reporting-role")}))
    assert origin(request, ours) is Origin.DIAGNOSER
    assert window_for(Origin.DIAGNOSER, timedelta(minutes=15)) == timedelta(days=1)
    assert window_for(Origin.INSIDER, timedelta(minutes=15)) == timedelta(minutes=15)


def test_sessions_of_one_role_share_the_cheap_key() -> None:
    first = parse_event(_session(ROLE_SESSION, "i-0aaaa"))
    second = parse_event(_session(ROLE_SESSION, "i-0bbbb"))
    assert first.principal.requester_arn != second.principal.requester_arn
    assert first.denial_hint and first.principal.requester_arn in first.denial_hint.raw
    assert origin(first, Trust()) is Origin.INSIDER
    assert cheap_key(first, Origin.INSIDER) == cheap_key(second, Origin.INSIDER)


def test_outsiders_aggregate_per_class_and_bucket_whatever_the_principal_or_action() -> None:
    one = parse_event(_session(CROSS, "a"))
    other = parse_event(
        _event(
            CROSS,
            **{
                "userIdentity.arn": "arn:aws:sts::444455556666:assumed-role/other-role/x",
                "eventName": "PutObject",
                "errorMessage": "Access Denied",
            },
        )
    )
    assert cheap_key(one, Origin.FOREIGN_ACCOUNT) == cheap_key(other, Origin.FOREIGN_ACCOUNT)
    assert cheap_key(one, Origin.FOREIGN_ACCOUNT) != cheap_key(one, Origin.ANONYMOUS)
    moved = _event(CROSS)
    record = moved.get("detail", moved)
    bucket = record["requestParameters"]["bucketName"]
    record["requestParameters"]["bucketName"] = "another-bucket"
    for resource in record["resources"]:
        resource["ARN"] = resource["ARN"].replace(f":::{bucket}", ":::another-bucket")
    elsewhere = parse_event(moved)
    assert cheap_key(elsewhere, Origin.FOREIGN_ACCOUNT) != cheap_key(one, Origin.FOREIGN_ACCOUNT)


def test_an_outsider_finding_says_what_it_counts_and_starts_its_tallies() -> None:
    request = parse_event(load(ANONYMOUS))
    finding = diagnose(request, {"account_id": "111122223333"}, finding_id="f", now="t")
    kind = origin(request, Trust())

    counted = outsider_finding(finding, kind)

    assert counted.notes[0].startswith("Outside access attempts: every denial by anonymous")
    attempts = counted.extra["outside_attempts"]
    assert attempts["by_action"] == {request.action: 1}
    assert attempts["by_source"] == {tally(request, kind)["source"]: 1}
    assert diagnosis_key(counted, kind) == cheap_key(request, kind)


def test_a_foreign_accounts_source_is_its_account() -> None:
    request = parse_event(load(CROSS))
    assert tally(request, Origin.FOREIGN_ACCOUNT)["source"] == "account 444455556666"


def test_the_health_finding_names_the_refused_read_and_no_policy_cause() -> None:
    request = parse_event(load(CROSS))
    finding = health_finding(request, finding_id="h", now="2025-03-01T10:00:00Z")
    assert finding.decision is Verdict.INCONCLUSIVE
    assert finding.blocked_by == ()
    assert [c.code for c in finding.causes] == ["DIAGNOSER_READ_DENIED"]
    assert request.action in finding.causes[0].message
    assert finding.extra["severity"] == "health"


def test_a_huge_source_is_cut_before_it_becomes_a_stored_name() -> None:
    request = parse_event(_event(CROSS, **{"userIdentity.accountId": "4" * 100_000}))
    source = tally(request, Origin.FOREIGN_ACCOUNT)["source"]
    assert source.startswith("account 4444") and len(source) == 128 and source.endswith("…")


def test_unreadable_membership_is_said_on_a_cross_account_finding_only() -> None:
    cross = parse_event(load(CROSS))
    finding = diagnose(cross, {"account_id": "111122223333"}, finding_id="f", now="t")
    unknown = Trust(membership_error="organizations:ListAccounts failed: AccessDenied")

    noted = membership_note(finding, unknown)

    [note] = [n for n in noted.notes if n not in finding.notes]
    assert "AccessDenied" in note and "account 444455556666" in note
    requester_side = {"identity-policy", "permissions-boundary", "scp"}
    assert requester_side <= {u.layer.value for u in noted.unchecked}
    assert all(
        u.needs == MEMBERSHIP_NEEDS for u in noted.unchecked if u.layer.value in requester_side
    )
    assert membership_note(finding, Trust()) == finding  # membership known: nothing to say
    same = parse_event(load(SAME))
    own = diagnose(same, {"account_id": same.bucket_account or ""}, finding_id="g", now="t")
    assert membership_note(own, unknown) == own  # one account: no other side to read
