"""Issue 14 at organization scale: which accounts are inside the organization comes from AWS
Organizations (`ListAccounts`), not from a list in the environment; and the richer copy of a
cross-account event (the requester's, naming the caller) re-diagnoses a finding made from the
bucket owner's copy (naming only the caller's account).

The central function runs without ORGANIZATION_ACCOUNT_IDS, with the collection cache table on;
the organization holds the four accounts of the conftest plus `EXTRA_ACCOUNTS` created in moto.
Collection is observed on the server (AssumeRole into member roles, ListAccounts pages);
verdicts in the stored finding and the SNS notifications a subscriber received.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import service, wiring
from chalicelib.aggregation import MEMBERSHIP_NEEDS, OUTSIDE_ATTEMPTS
from chalicelib.collect.base import Present
from chalicelib.collect.membership import (
    LIST_ACCOUNTS,
    MEMBERSHIP_TTL,
    RETRY_AFTER,
    OrganizationMembers,
)
from chalicelib.collect.shared_cache import MAX_VALUE_BYTES, create_cache_table, encode
from chalicelib.demo.cloudtrail import (
    denied_message,
    eventbridge_envelope,
    iam_user_identity,
    s3_access_denied_record,
)
from tests.functional.serverless.conftest import Deployment
from tests.functional.threads import together

from .conftest import MANAGEMENT, REGION, Organization, deny_reads_from, policy_text

EXTRA_ACCOUNTS = 400
SUFFIX = uuid.uuid4().hex[:8]
OPEN = f"m-open-{SUFFIX}"  # member B's bucket; its policy grants bob and alice of member A
RESTRICTED = f"m-restricted-{SUFFIX}"  # grants alice; member A's SCP denies reads from it
KEY = "exports/2025-04.csv"
BOB = "m-bob"  # member A, denied GetObject by his own inline policy
ALICE = "m-alice"  # member A, allowed by her own policy
OUTSIDER = "444455556666"


@pytest.fixture(scope="module")
def extra_accounts(organization: Organization) -> list[str]:
    """`EXTRA_ACCOUNTS` more accounts in the organization, and the workload of the tests."""
    org = organization
    orgs = org.client(MANAGEMENT, "organizations")
    created = [
        orgs.create_account(Email=f"team-{n}@example.com", AccountName=f"team-{n}")[
            "CreateAccountStatus"
        ]["AccountId"]
        for n in range(EXTRA_ACCOUNTS)
    ]
    a, b = org.member_a, org.member_b
    iam = org.client(a, "iam")
    iam.create_user(UserName=BOB)
    iam.put_user_policy(
        UserName=BOB,
        PolicyName="no-reads",
        PolicyDocument=policy_text({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}),
    )
    iam.create_user(UserName=ALICE)
    iam.put_user_policy(
        UserName=ALICE,
        PolicyName="reads",
        PolicyDocument=policy_text({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
    )
    s3 = org.client(b, "s3")
    for bucket in (OPEN, RESTRICTED):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=KEY, Body=b"export\n")
        s3.put_bucket_policy(
            Bucket=bucket,
            Policy=policy_text(
                {
                    "Sid": "MemberAReads",
                    "Effect": "Allow",
                    "Principal": {"AWS": [_arn(a, BOB), _arn(a, ALICE)]},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ),
        )
    deny_reads_from(orgs, RESTRICTED, a, "NoMembershipRestrictedReads")
    return created


@pytest.fixture
def members_env(
    organization: Organization, extra_accounts: list[str]
) -> Iterator[pytest.MonkeyPatch]:
    """No ORGANIZATION_ACCOUNT_IDS; a fresh collection cache table (COLLECTION_CACHE_TABLE_NAME)."""
    table = f"cache-{uuid.uuid4().hex[:8]}"
    create_cache_table(organization.client(organization.security, "dynamodb"), table)
    with pytest.MonkeyPatch.context() as env:
        env.delenv("ORGANIZATION_ACCOUNT_IDS")
        env.setenv("COLLECTION_CACHE_TABLE_NAME", table)
        organization.faults.refuse_list_accounts = False
        organization.faults.list_accounts_pages = 0
        wiring.reset()
        yield env
        organization.faults.refuse_list_accounts = False
    wiring.reset()


def _arn(account: str, user: str) -> str:
    return f"arn:aws:iam::{account}:user/{user}"


def _record(
    *, requester: str, user: str, bucket: str, bucket_account: str, context: str
) -> dict[str, Any]:
    return s3_access_denied_record(
        event_id=str(uuid.uuid4()),
        event_time="2025-04-01T10:00:00Z",
        region=REGION,
        identity=iam_user_identity(
            account_id=requester, user_name=user, user_id=f"AIDA{user.upper()}{requester}"
        ),
        event_name="GetObject",
        bucket=bucket,
        bucket_account=bucket_account,
        key=KEY,
        error_message=denied_message(
            _arn(requester, user), "s3:GetObject", f"arn:aws:s3:::{bucket}/{KEY}", context
        ),
    )


def _copies(record: dict[str, Any], requester: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The bucket owner's copy, naming only the caller's account (`AWSAccount`), and the
    requester's copy naming the caller: each its own eventID, one sharedEventID."""
    shared = str(uuid.uuid4())
    owner = {
        **record,
        "sharedEventID": shared,
        "userIdentity": {
            "type": "AWSAccount",
            "principalId": record["userIdentity"]["principalId"],
            "accountId": requester,
        },
    }
    theirs = {
        **record,
        "eventID": str(uuid.uuid4()),
        "sharedEventID": shared,
        "recipientAccountId": requester,
    }
    return (
        eventbridge_envelope(owner, envelope_id=f"eb-{owner['eventID']}"),
        eventbridge_envelope(theirs, envelope_id=f"eb-{theirs['eventID']}"),
    )


def _bob_denied(org: Organization) -> dict[str, Any]:
    return _record(
        requester=org.member_a,
        user=BOB,
        bucket=OPEN,
        bucket_account=org.member_b,
        context="with an explicit deny in an identity-based policy",
    )


def _alice_scp_denied(org: Organization) -> dict[str, Any]:
    return _record(
        requester=org.member_a,
        user=ALICE,
        bucket=RESTRICTED,
        bucket_account=org.member_b,
        context="with an explicit deny in a service control policy",
    )


def _stored(finding_id: str) -> dict[str, Any]:
    finding = wiring.finding_store().get(finding_id)
    assert finding is not None
    return finding.to_dict()


def _alerts(central: Deployment) -> list[dict[str, Any]]:
    return [json.loads(m["Message"]) for m in central.received()]


def _cached_lists(org: Organization) -> list[dict[str, Any]]:
    table = wiring.read_sharing().cache
    assert table is not None
    items = org.client(org.security, "dynamodb").scan(TableName=table.table_name)["Items"]
    return [i for i in items if i["part"]["S"] == LIST_ACCOUNTS]


# ------------------------------------------------------------------------------ membership


def test_the_organizations_accounts_are_listed_once_for_many_containers(
    members_env, organization, extra_accounts
):
    org = organization
    members = wiring.organization_members()
    assert members is not None
    membership = members.current()
    assert membership.error is None
    everyone = {MANAGEMENT, org.security, org.member_a, org.member_b, *extra_accounts}
    assert membership.accounts == everyone
    walked = org.faults.list_accounts_pages
    assert walked > 1  # every page of a 404-account organization
    [item] = _cached_lists(org)  # one item for the deployment
    assert len(item["value"]["B"]) < 6_000
    for _ in range(5):  # new containers of a burst: the list comes from the table
        wiring.reset()
        fresh = wiring.organization_members()
        assert fresh is not None and fresh.current().accounts == everyone
        assert fresh.reads == 0
    assert org.faults.list_accounts_pages == walked
    assert len(_cached_lists(org)) == 1


def test_thousands_of_account_ids_fit_in_one_cache_item():
    ids = sorted({f"{random.randrange(10**12):012d}" for _ in range(20_000)})
    blob = encode(Present(value=ids))
    assert blob is not None
    assert len(blob) < MAX_VALUE_BYTES / 2  # 20,000 ids: about 120 KB of the 380 KB kept


def test_organization_account_ids_win_when_set(members_env, organization):
    members_env.setenv("ORGANIZATION_ACCOUNT_IDS", f"{organization.member_a}")
    wiring.reset()
    assert wiring.organization_members() is None
    assert wiring.settings().trust.organization_accounts == {organization.member_a}


def test_a_member_in_no_list_is_judged_on_both_sides(members_env, central, organization):
    org = organization
    result = central.invoke(eventbridge_envelope(_bob_denied(org), envelope_id="eb-bob"))
    assert (result["status"], result["diagnosed"]) == ("new", True)
    finding = _stored(result["finding_id"])
    assert (finding["account"], finding["request"]["principal"]["account_id"]) == (
        org.member_b,
        org.member_a,
    )
    # bob's own inline Deny is only visible in member A, read through its member role
    assert (finding["decision"], finding["blocked_by"]) == ("explicit-deny", ["identity-policy"])
    assert sorted(org.faults.accounts()) == sorted([org.member_a, org.member_b])
    assert not [u for u in finding["unchecked"] if u["layer"] == "identity-policy"]
    assert not [n for n in finding["notes"] if "could not be read" in n]
    [alert] = _alerts(central)
    assert alert["finding_id"] == result["finding_id"]


def test_an_account_outside_the_organization_stays_an_outsider(members_env, central, organization):
    org = organization
    record = _record(
        requester=OUTSIDER,
        user="mallory",
        bucket=OPEN,
        bucket_account=org.member_b,
        context="because no resource-based policy allows the s3:GetObject action",
    )
    result = central.invoke(eventbridge_envelope(record, envelope_id="eb-outsider"))
    assert result["status"] == "new"
    finding = _stored(result["finding_id"])
    assert finding[OUTSIDE_ATTEMPTS]["origin"] == "foreign-account"
    assert org.faults.accounts() == [org.member_b]  # the bucket side only


def test_unreadable_membership_judges_the_bucket_side_and_says_so(
    members_env, central, organization
):
    org = organization
    org.faults.refuse_list_accounts = True
    wiring.reset()
    result = central.invoke(eventbridge_envelope(_bob_denied(org), envelope_id="eb-refused"))
    assert result["status"] == "new"  # not dropped
    finding = _stored(result["finding_id"])
    assert org.faults.accounts() == [org.member_b]  # member A not read: outside, as far as known
    [note] = [n for n in finding["notes"] if "could not be read" in n]
    assert "AccessDeniedException" in note and org.member_a in note
    identity = [u for u in finding["unchecked"] if u["layer"] == "identity-policy"]
    assert identity and all(u["needs"] == MEMBERSHIP_NEEDS for u in identity)
    assert "organizations:ListAccounts" in MEMBERSHIP_NEEDS
    assert _cached_lists(org) == []  # a failure is never shared
    [alert] = _alerts(central)
    assert alert["finding_id"] == result["finding_id"]


# ------------------------------------------------------------------------- the richer copy


def test_the_richer_copy_rediagnoses_the_finding_and_realerts_a_changed_verdict(
    members_env, central, organization
):
    org = organization
    owner_copy, requester_copy = _copies(_bob_denied(org), org.member_a)
    first = central.invoke(owner_copy)
    assert first["status"] == "new"
    before = _stored(first["finding_id"])
    assert before["request"]["principal"]["type"] == "AWSAccount"
    assert "identity-policy" in {u["layer"] for u in before["unchecked"]}
    second = central.invoke(requester_copy)
    assert (second["status"], second["finding_id"]) == ("enriched", first["finding_id"])
    after = _stored(first["finding_id"])
    assert after["request"]["principal"]["principal_arn"] == _arn(org.member_a, BOB)
    assert (after["decision"], after["blocked_by"]) == ("explicit-deny", ["identity-policy"])
    assert after["decision"] != before["decision"] or after["blocked_by"] != before["blocked_by"]
    assert (after["occurrences"], after["first_seen"]) == (1, before["first_seen"])
    assert any("Re-diagnosed from the requester's copy" in n for n in after["notes"])
    alerts = _alerts(central)
    assert [a["finding_id"] for a in alerts] == [first["finding_id"]] * 2
    assert alerts[-1]["decision"] == "explicit-deny"
    # the same copy again: nothing changes, no alert
    assert central.invoke(requester_copy)["status"] == "duplicate"
    assert _alerts(central) == []
    assert _stored(first["finding_id"])["occurrences"] == 1
    # later events: an account-only copy is not counted on the finding naming bob (it may be
    # anyone of member A), a copy naming bob is
    later_owner, later_requester = _copies(_bob_denied(org), org.member_a)
    assert central.invoke(later_owner)["status"] == "new"
    assert central.invoke(later_requester)["status"] == "duplicate"
    third_owner, third_requester = _copies(_bob_denied(org), org.member_a)
    counted = central.invoke(third_requester)
    assert (counted["status"], counted["finding_id"]) == ("repeat", first["finding_id"])
    assert central.invoke(third_owner)["status"] == "duplicate"
    assert _stored(first["finding_id"])["occurrences"] == 2
    assert [a["finding_id"] for a in _alerts(central)] == [later_owner["detail"]["sharedEventID"]]


def test_the_richer_copy_with_the_same_verdict_updates_without_a_second_alert(
    members_env, central, organization
):
    org = organization
    owner_copy, requester_copy = _copies(_alice_scp_denied(org), org.member_a)
    assert central.invoke(owner_copy)["status"] == "new"
    second = central.invoke(requester_copy)
    assert second["status"] == "enriched"
    finding = _stored(second["finding_id"])
    assert finding["request"]["principal"]["principal_arn"] == _arn(org.member_a, ALICE)
    assert (finding["decision"], finding["blocked_by"]) == ("explicit-deny", ["scp"])
    assert finding["unchecked"] == []  # alice's own policies read this time
    assert len(_alerts(central)) == 1


def test_a_poorer_copy_after_the_richer_one_changes_nothing(members_env, central, organization):
    org = organization
    owner_copy, requester_copy = _copies(_bob_denied(org), org.member_a)
    assert central.invoke(requester_copy)["status"] == "new"
    assert central.invoke(owner_copy)["status"] == "duplicate"
    finding = _stored(owner_copy["detail"]["sharedEventID"])
    assert finding["request"]["principal"]["principal_arn"] == _arn(org.member_a, BOB)
    assert len(_alerts(central)) == 1


def test_copies_arriving_together_make_one_finding_and_one_alert(
    members_env, central, organization
):
    org = organization
    shared_ids = []
    for hour in range(4):  # each trial in its own aggregation window
        owner_copy, requester_copy = _copies(_alice_scp_denied(org), org.member_a)
        for copy in (owner_copy, requester_copy):
            copy["detail"]["eventTime"] = f"2025-04-02T{hour:02d}:00:00Z"
        ports = wiring.event_ports()
        results = together(
            [
                lambda c=copy, p=ports: service.handle_event(c, **p)
                for copy in (owner_copy, requester_copy)
            ]
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        statuses = Counter(r.status.value for r in results)
        assert statuses["new"] == 1 and len(statuses) == 2, results
        assert sum(r.published for r in results) == 1, results
        shared = owner_copy["detail"]["sharedEventID"]
        assert {r.finding_id for r in results} == {shared}
        finding = _stored(shared)
        assert finding["request"]["principal"]["principal_arn"] == _arn(org.member_a, ALICE)
        assert finding["occurrences"] == 1
        shared_ids.append(shared)
    assert sorted(a["finding_id"] for a in _alerts(central)) == sorted(shared_ids)


def test_redelivered_richer_copies_together_rediagnose_once(members_env, central, organization):
    org = organization
    owner_copy, requester_copy = _copies(_bob_denied(org), org.member_a)
    assert central.invoke(owner_copy)["status"] == "new"
    ports = wiring.event_ports()
    results = together(
        [lambda p=ports: service.handle_event(requester_copy, **p) for _ in range(3)]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    statuses = Counter(r.status.value for r in results)
    assert statuses["enriched"] == 1, results
    assert statuses["duplicate"] + statuses["republished"] == 2, results
    alerts = _alerts(central)
    assert len(alerts) == 2  # the owner copy's, and one for the changed verdict
    assert alerts[-1]["decision"] == "explicit-deny"
    assert _stored(owner_copy["detail"]["sharedEventID"])["occurrences"] == 1


def test_a_failed_refresh_keeps_the_last_list_and_tries_again_later(
    members_env, organization, extra_accounts
):
    org = organization
    now = [datetime(2025, 4, 1, 10, tzinfo=UTC)]
    members = OrganizationMembers(
        wiring._home_clients(),
        identity=lambda: (org.security, "aws"),
        clock=lambda: now[0],
        org_read_role_arn=wiring.settings().org_read_role_arn,
    )
    known = members.current()
    assert known.error is None and org.member_a in known.accounts
    org.faults.refuse_list_accounts = True
    now[0] += MEMBERSHIP_TTL
    assert members.current() == known  # refused: the last list stands
    assert members.reads == 2
    now[0] += RETRY_AFTER / 2
    assert members.current() == known and members.reads == 2  # not asked again yet
    org.faults.refuse_list_accounts = False
    now[0] += RETRY_AFTER
    assert members.current() == known and members.reads == 3

    cold = OrganizationMembers(
        wiring._home_clients(), identity=lambda: (org.security, "aws"), clock=lambda: now[0]
    )
    org.faults.refuse_list_accounts = True
    refused = cold.current()  # nothing known yet: empty, and why
    assert refused.accounts == frozenset()
    assert refused.error is not None and "AccessDeniedException" in refused.error
