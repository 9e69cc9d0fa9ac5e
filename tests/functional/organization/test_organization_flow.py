"""Issue 14 end to end across four accounts: one central deployment diagnoses every member
account, and a cross-account denial inside the organization is read and judged on both sides.

Collection is observed where it happens: the snapshot the central function's source builds
(`wiring.event_source()`, as the handler uses it) and the AssumeRole calls the server saw into
each member role. Verdicts are observed where a user sees them: the stored finding and the SNS
notifications the central topic delivered.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib import service, wiring
from chalicelib.aggregation import MEMBER_ROLE_UNAVAILABLE
from chalicelib.collect.clients import adapt_to_endpoint
from chalicelib.demo.cloudtrail import (
    denied_message,
    eventbridge_envelope,
    iam_user_identity,
    s3_access_denied_record,
)
from chalicelib.events import parse_event
from chalicelib.publish.ports import FindingQuery
from tests.functional.serverless.conftest import Deployment
from tests.functional.threads import together

from .conftest import MANAGEMENT, MEMBER_ROLE, REGION, Organization, deny_reads_from, policy_text

EVENT_TIME = "2025-03-01T10:00:00Z"
KEY = "exports/2025-03.csv"
SUFFIX = uuid.uuid4().hex[:8]
SHARED = f"b-shared-{SUFFIX}"  # grants alice of member A
RESTRICTED = f"b-restricted-{SUFFIX}"  # grants alice; member A's SCP denies reads from it
CLOSED = f"b-closed-{SUFFIX}"  # its policy denies alice
LOCAL = f"a-ledger-{SUFFIX}"  # member A's own bucket
ALICE = "alice"
BOB = "bob"  # member A, denied GetObject by his own inline policy
CAROL = "carol"  # a user of the management account (no member role there)


@dataclass
class Workload:
    org: Organization
    key_arn: str  # a KMS key of the security account that admits only its own account
    scp_id: str

    @property
    def a(self) -> str:
        return self.org.member_a

    @property
    def b(self) -> str:
        return self.org.member_b

    def alice_arn(self) -> str:
        return f"arn:aws:iam::{self.a}:user/{ALICE}"


@pytest.fixture(scope="module")
def workload(organization: Organization) -> Workload:
    org = organization
    a, b = org.member_a, org.member_b
    iam_a = org.client(a, "iam")
    iam_a.create_user(UserName=ALICE)
    iam_a.put_user_policy(
        UserName=ALICE,
        PolicyName="exports",
        PolicyDocument=policy_text(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
            }
        ),
    )
    iam_a.create_user(UserName=BOB)
    iam_a.put_user_policy(
        UserName=BOB,
        PolicyName="no-ledger",
        PolicyDocument=policy_text({"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}),
    )
    s3_a = org.client(a, "s3")
    s3_a.create_bucket(Bucket=LOCAL)
    s3_a.put_object(Bucket=LOCAL, Key=KEY, Body=b"ledger\n")
    s3_b = org.client(b, "s3")
    alice = f"arn:aws:iam::{a}:user/{ALICE}"
    for bucket in (SHARED, RESTRICTED, CLOSED):
        s3_b.create_bucket(Bucket=bucket)
        s3_b.put_object(Bucket=bucket, Key=KEY, Body=b"export\n")
        grant = {
            "Sid": "MemberAExports",
            "Effect": "Allow",
            "Principal": {"AWS": alice},
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
        deny = {
            "Sid": "NotAlice",
            "Effect": "Deny",
            "Principal": {"AWS": alice},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
        statements = (grant, deny) if bucket == CLOSED else (grant,)
        s3_b.put_bucket_policy(Bucket=bucket, Policy=policy_text(*statements))
    orgs = org.client(MANAGEMENT, "organizations")
    scp_id = deny_reads_from(orgs, RESTRICTED, a, "NoRestrictedReads")
    kms = org.client(org.security, "kms")
    key_arn = kms.create_key(
        Policy=policy_text(
            {
                "Sid": "OwnAccountOnly",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{org.security}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        )
    )["KeyMetadata"]["Arn"]
    return Workload(org=org, key_arn=key_arn, scp_id=scp_id)


# ------------------------------------------------------------------------------------ events


def _record(
    *,
    event_id: str,
    requester: str,
    user: str,
    bucket: str,
    bucket_account: str,
    event_name: str = "GetObject",
    context: str = "because no identity-based policy allows the s3:GetObject action",
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    action = f"s3:{event_name}"
    record = s3_access_denied_record(
        event_id=event_id,
        event_time=EVENT_TIME,
        region=REGION,
        identity=iam_user_identity(
            account_id=requester, user_name=user, user_id=f"AIDA{user.upper()}{requester}"
        ),
        event_name=event_name,
        bucket=bucket,
        bucket_account=bucket_account,
        key=KEY,
        request_parameters=params,
        error_message=denied_message(
            f"arn:aws:iam::{requester}:user/{user}",
            action,
            f"arn:aws:s3:::{bucket}/{KEY}",
            context,
        ),
    )
    return record


def _copies(record: dict[str, Any], requester: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two EventBridge events CloudTrail makes of one cross-account request: the bucket
    owner's copy and the requester's, each with its own eventID, one sharedEventID."""
    shared = str(uuid.uuid4())
    owner = {**record, "sharedEventID": shared}
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


def _cross(w: Workload, bucket: str, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    record = _record(
        event_id=str(uuid.uuid4()),
        requester=w.a,
        user=ALICE,
        bucket=bucket,
        bucket_account=w.b,
        **kwargs,
    )
    return _copies(record, w.a)


def _scp_denied(w: Workload) -> tuple[dict[str, Any], dict[str, Any]]:
    return _cross(w, RESTRICTED, context="with an explicit deny in a service control policy")


def _policy_denied(w: Workload) -> tuple[dict[str, Any], dict[str, Any]]:
    return _cross(w, CLOSED, context="with an explicit deny in a resource-based policy")


def _key_denied(w: Workload) -> tuple[dict[str, Any], dict[str, Any]]:
    return _cross(
        w,
        SHARED,
        event_name="PutObject",
        context="because no resource-based policy allows the kms:GenerateDataKey action",
        params={
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": w.key_arn,
        },
    )


def _collect(event: dict[str, Any]) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """What the central function's source reads for `event` (the handler's own source)."""
    source = wiring.event_source()
    collected = source.collect_request(parse_event(event))  # type: ignore[union-attr]
    return collected.snapshot, collected.unavailable


def _stored(finding_id: str) -> dict[str, Any]:
    finding = wiring.finding_store().get(finding_id)
    assert finding is not None
    return finding.to_dict()


def _alerts(central: Deployment) -> list[dict[str, Any]]:
    return [json.loads(m["Message"]) for m in central.received()]


def _accounts_of(alerts: list[dict[str, Any]]) -> list[str]:
    return [a.get("account") for a in alerts]


def _policy_names(level: dict[str, Any]) -> set[str]:
    return {p["Name"] for p in level.get("scps", [])}


# ------------------------------------------------------------------- one account at a time


def test_a_member_event_gives_a_central_finding_with_the_members_account(central, workload):
    w = workload
    record = _record(
        event_id=str(uuid.uuid4()), requester=w.a, user=BOB, bucket=LOCAL, bucket_account=w.a
    )
    result = central.invoke(eventbridge_envelope(record, envelope_id="eb-local"))
    assert (result["status"], result["diagnosed"]) == ("new", True)
    finding = _stored(result["finding_id"])
    assert finding["account"] == w.a
    # bob's inline Deny is only visible through member A's role
    assert (finding["decision"], finding["blocked_by"]) == ("explicit-deny", ["identity-policy"])
    assert w.org.faults.calls == [(w.a, False)]
    [alert] = central.received()
    assert alert["MessageAttributes"]["account"]["Value"] == w.a


def test_a_missing_member_role_gives_a_finding_saying_what_to_deploy_where(central, workload):
    org = workload.org
    org.client(MANAGEMENT, "s3").create_bucket(Bucket=f"m-audit-{SUFFIX}")
    record = _record(
        event_id=str(uuid.uuid4()),
        requester=MANAGEMENT,
        user=CAROL,
        bucket=f"m-audit-{SUFFIX}",
        bucket_account=MANAGEMENT,
    )
    result = central.invoke(eventbridge_envelope(record, envelope_id="eb-mgmt"))
    assert (result["status"], result["decision"]) == ("new", "inconclusive")
    finding = _stored(result["finding_id"])
    role_arn = f"arn:aws:iam::{MANAGEMENT}:role/{MEMBER_ROLE}"
    assert finding["account"] == MANAGEMENT
    assert [c["code"] for c in finding["causes"]] == [MEMBER_ROLE_UNAVAILABLE]
    assert finding["remedies"][0]["target"] == role_arn
    assert {u["needs"] for u in finding["unchecked"]} == {
        f"deploy the member template (role {MEMBER_ROLE}, trusting the central event "
        f"function's role) in account {MANAGEMENT}"
    }
    assert org.faults.calls == [(MANAGEMENT, True)]
    [alert] = _alerts(central)
    assert alert["account"] == MANAGEMENT


# --------------------------------------------------------------- cross-account: collection


def test_both_sides_are_read_each_in_its_own_account(central, workload):
    w = workload
    owner_copy, requester_copy = _scp_denied(w)
    for copy in (owner_copy, requester_copy):  # whichever copy: the same accounts, same parts
        w.org.faults.reset()
        wiring.reset()
        snapshot, unavailable = _collect(copy)
        assert unavailable == ()
        assert sorted(w.org.faults.accounts()) == sorted([w.b, w.a])  # each side in its account
        # the bucket side at the top level, in the bucket's account
        assert snapshot["account_id"] == w.b
        assert RESTRICTED in snapshot["s3"]["buckets"]
        assert snapshot["iam"]["UserDetailList"] == []  # alice is not B's to read
        assert snapshot["organization"]["levels"][-1]["target_id"] == w.b
        # the requester's side: alice's policies and member A's SCP path
        assert set(snapshot["accounts"]) == {w.a}
        side = snapshot["accounts"][w.a]
        [user] = side["iam"]["UserDetailList"]
        assert (user["UserName"], [p["PolicyName"] for p in user["UserPolicyList"]]) == (
            ALICE,
            ["exports"],
        )
        levels = side["organization"]["levels"]
        assert [lvl["target_id"] for lvl in levels] == [w.org.root_id, w.org.ou_id, w.a]
        assert "NoRestrictedReads" in _policy_names(levels[-1])
        assert side["organization"]["management_account_id"] == MANAGEMENT


def test_a_key_of_a_third_account_is_read_in_that_account(central, workload):
    w = workload
    snapshot, unavailable = _collect(_key_denied(w)[0])
    assert unavailable == ()
    key = snapshot["kms"]["keys"][w.key_arn]
    assert json.loads(key["policy"])["Statement"][0]["Sid"] == "OwnAccountOnly"
    assert key["metadata"]["KeyManager"] == "CUSTOMER"
    # the key's account is the central one: read with the function's own credentials
    assert sorted(w.org.faults.accounts()) == sorted([w.b, w.a])
    assert set(snapshot["accounts"]) == {w.a, w.org.security}
    assert "iam" not in snapshot["accounts"][w.org.security]  # not collected: not needed
    key_levels = snapshot["accounts"][w.org.security]["organization"]["levels"]
    assert key_levels[-1]["target_id"] == w.org.security


def test_a_key_the_bucket_side_finds_is_read_in_its_own_account(central, workload):
    w = workload
    bucket = f"b-encrypted-{SUFFIX}"
    s3_b = w.org.client(w.b, "s3")
    s3_b.create_bucket(Bucket=bucket)
    s3_b.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": w.key_arn,
                    }
                }
            ]
        },
    )
    record = _record(
        event_id=str(uuid.uuid4()),
        requester=w.a,
        user=ALICE,
        bucket=bucket,
        bucket_account=w.b,
        event_name="PutObject",
    )
    snapshot, unavailable = _collect(eventbridge_envelope(record, envelope_id="eb-default-key"))
    assert unavailable == ()
    # found by the bucket side (the bucket's default key), read where the key lives
    policy = json.loads(snapshot["kms"]["keys"][w.key_arn]["policy"])
    assert policy["Statement"][0]["Sid"] == "OwnAccountOnly"
    assert set(snapshot["accounts"]) == {w.a, w.org.security}
    assert "organization" in snapshot["accounts"][w.org.security]


def test_a_requester_account_without_member_role_leaves_its_side_unreadable(central, workload):
    w = workload
    record = _record(
        event_id=str(uuid.uuid4()),
        requester=MANAGEMENT,
        user=CAROL,
        bucket=SHARED,
        bucket_account=w.b,
    )
    snapshot, unavailable = _collect(eventbridge_envelope(record, envelope_id="eb-carol"))
    [error] = unavailable
    assert error.account == MANAGEMENT
    assert snapshot["account_id"] == w.b and SHARED in snapshot["s3"]["buckets"]
    side = snapshot["accounts"][MANAGEMENT]
    assert side["iam"]["$unreadable"] == "AccessDenied"
    assert f"role {MEMBER_ROLE}" in side["iam"]["needs"] and MANAGEMENT in side["iam"]["needs"]
    # the organization path needs no member role: read centrally all the same
    assert side["organization"]["levels"][-1]["target_id"] == MANAGEMENT


def test_a_request_from_outside_the_organization_reads_the_bucket_side_only(central, workload):
    w = workload
    outsider = "444455556666"
    record = _record(
        event_id=str(uuid.uuid4()),
        requester=outsider,
        user="mallory",
        bucket=SHARED,
        bucket_account=w.b,
    )
    snapshot, unavailable = _collect(eventbridge_envelope(record, envelope_id="eb-out"))
    assert unavailable == ()
    assert "accounts" not in snapshot
    assert w.org.faults.accounts() == [w.b]


PARTNER = "444455556666"  # an account outside the organization


def _partner_copy(w: Workload, bucket: str, **kwargs: Any) -> dict[str, Any]:
    """The requester's copy of alice's denied read of `bucket`, of account PARTNER (the
    partner's copy goes to the partner)."""
    record = _record(
        event_id=str(uuid.uuid4()),
        requester=w.a,
        user=ALICE,
        bucket=bucket,
        bucket_account=PARTNER,
        **kwargs,
    )
    record["recipientAccountId"] = w.a
    return eventbridge_envelope(record, envelope_id=f"eb-{record['eventID']}")


def test_a_bucket_outside_the_organization_asks_for_no_member_role(central, workload):
    w = workload
    outside = PARTNER
    result = central.invoke(_partner_copy(w, f"partner-drop-{SUFFIX}"))
    assert result["status"] == "new"
    # no AssumeRole into an account we cannot have; the requester's side is read in its own
    assert w.org.faults.accounts() == [w.a]
    finding = _stored(result["finding_id"])
    assert finding["request"]["bucket_account"] == outside
    assert MEMBER_ROLE_UNAVAILABLE not in {c["code"] for c in finding["causes"]}
    # the member's denial, judged on its side: its account's, where its team and alerts are
    assert finding["account"] == w.a
    assert [a["account"] for a in _alerts(central)] == [w.a]
    # alice's own policies allow: the partner's bucket policy, not read, decides
    assert finding["decision"] == "inconclusive"
    assert "judged on the requester's side only" in finding["request"]["scope_reason"]
    assert {lr["layer"]: lr["outcome"] for lr in finding["evaluations"][0]["layers"]}[
        "identity-policy"
    ] == "allow"


def test_a_partner_bucket_the_requesters_scp_denies_is_a_definite_denial(central, workload):
    """A data perimeter: member A's SCP denies reads from a bucket (here, as if a partner's,
    outside the organization). The requester's side is read in A and decides alone."""
    w = workload
    copy = _partner_copy(w, RESTRICTED, context="with an explicit deny in a service control policy")
    finding = _judged(central, copy)

    assert (finding["decision"], finding["blocked_by"]) == ("explicit-deny", ["scp"])
    [scp] = [c for c in finding["causes"] if c["layer"] == "scp"]
    assert (scp["statement"]["sid"], scp["confidence"]) == ("NoRestrictedReads", "definite")
    assert w.scp_id in scp["statement"]["policy"]


def test_a_cross_account_access_point_is_read_in_its_own_account(central, workload):
    """Alice (member A) reads member B's bucket through an access point of A's (a cross-account
    access point): it is read in A, its ARN's account, not in the bucket's."""
    w = workload
    s3control = w.org.client(w.a, "s3control")
    adapt_to_endpoint("s3control", s3control)  # no account host prefix on a local endpoint
    point = s3control.create_access_point(AccountId=w.a, Name=f"a-exports-{SUFFIX}", Bucket=SHARED)[
        "AccessPointArn"
    ]
    assert f":{w.a}:accesspoint/" in point
    record = _record(
        event_id=str(uuid.uuid4()), requester=w.a, user=ALICE, bucket=SHARED, bucket_account=w.b
    )
    record["resources"].append({"accountId": w.a, "type": "AWS::S3::AccessPoint", "ARN": point})

    snapshot, unavailable = _collect(eventbridge_envelope(record, envelope_id="eb-ap"))

    assert unavailable == ()
    assert snapshot["s3"]["access_points"][point]["Bucket"] == SHARED
    assert "$unreadable" not in json.dumps(snapshot["s3"]["access_points"][point])


def test_a_vpc_endpoint_is_read_in_the_account_the_record_names(central, workload):
    """Alice (member A) reads member B's bucket through an endpoint of A's VPC: CloudTrail names
    its owner (vpcEndpointAccountId), and it is read there, not in the bucket's account."""
    w = workload
    ec2 = w.org.client(w.a, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        PolicyDocument=policy_text(
            {"Sid": "OnlyOurs", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
             "Resource": "*"}
        ),
    )["VpcEndpoint"]["VpcEndpointId"]  # fmt: skip
    record = _record(
        event_id=str(uuid.uuid4()), requester=w.a, user=ALICE, bucket=SHARED, bucket_account=w.b
    )
    record["vpcEndpointId"], record["vpcEndpointAccountId"] = endpoint, w.a

    snapshot, unavailable = _collect(eventbridge_envelope(record, envelope_id="eb-vpce"))

    assert unavailable == ()
    found = snapshot["vpc_endpoints"][endpoint]
    assert (found["VpcId"], json.loads(found["PolicyDocument"])["Statement"][0]["Sid"]) == (
        vpc,
        "OnlyOurs",
    )


# ------------------------------------------------------------------ cross-account: verdicts


def _judged(central: Deployment, copy: dict[str, Any]) -> dict[str, Any]:
    result = central.invoke(copy)
    assert (result["status"], result["diagnosed"]) == ("new", True)
    finding = _stored(result["finding_id"])
    assert finding["account"] == finding["request"]["bucket_account"]
    return finding


def test_denied_by_the_requesters_scp(central, workload):
    w = workload
    finding = _judged(central, _scp_denied(w)[1])  # the requester's copy arrived
    assert (finding["account"], finding["request"]["principal"]["account_id"]) == (w.b, w.a)
    assert (finding["decision"], finding["blocked_by"]) == ("explicit-deny", ["scp"])
    [scp] = [c for c in finding["causes"] if c["layer"] == "scp"]
    assert scp["statement"]["sid"] == "NoRestrictedReads"
    assert w.scp_id in scp["statement"]["policy"]
    assert f"requester's account {w.a}" in scp["message"]
    assert finding["unchecked"] == []
    [remedy] = finding["remedies"]
    assert f"requester's account {w.a}" in remedy["summary"]


def test_denied_by_the_bucket_policy(central, workload):
    w = workload
    finding = _judged(central, _policy_denied(w)[0])
    assert (finding["account"], finding["request"]["principal"]["account_id"]) == (w.b, w.a)
    assert (finding["decision"], finding["blocked_by"]) == ("explicit-deny", ["bucket-policy"])
    [deny] = [c for c in finding["causes"] if c["layer"] == "bucket-policy"]
    assert deny["statement"]["sid"] == "NotAlice"
    assert f"Bucket account {w.b}" in deny["message"]
    # alice's own side allows: no identity or SCP layer is blamed
    assert not {"identity-policy", "scp"} & {c["layer"] for c in finding["causes"]}


def test_denied_by_the_key_policy_of_a_third_account(central, workload):
    w = workload
    finding = _judged(central, _key_denied(w)[0])
    assert (finding["account"], finding["request"]["principal"]["account_id"]) == (w.b, w.a)
    assert finding["blocked_by"] == ["kms-key-policy"]
    [remedy] = finding["remedies"]
    assert remedy["target"] == w.key_arn
    assert f"Key account {w.org.security}" in remedy["summary"]
    # the fix names the requester the key's own account must admit, and was verified
    assert remedy["verified"] is True
    assert w.alice_arn() in json.dumps(remedy["patch"]["document"])


def test_a_requester_without_member_role_is_judged_on_the_bucket_side_and_reported(
    central, workload
):
    w = workload
    record = _record(
        event_id=str(uuid.uuid4()),
        requester=MANAGEMENT,
        user=CAROL,
        bucket=CLOSED,
        bucket_account=w.b,
    )
    result = central.invoke(eventbridge_envelope(record, envelope_id="eb-carol-2"))
    assert (result["status"], result["diagnosed"]) == ("new", True)
    finding = _stored(result["finding_id"])
    assert finding["account"] == w.b
    needs = (
        f"deploy the member template (role {MEMBER_ROLE}, trusting the central event "
        f"function's role) in account {MANAGEMENT}"
    )
    assert "identity-policy" in {u["layer"] for u in finding["unchecked"] if u["needs"] == needs}
    alerts = _alerts(central)
    assert sorted(_accounts_of(alerts)) == sorted([w.b, MANAGEMENT])
    [health] = [a for a in alerts if a["account"] == MANAGEMENT]
    health_finding = _stored(health["finding_id"])
    assert [c["code"] for c in health_finding["causes"]] == [MEMBER_ROLE_UNAVAILABLE]
    assert (
        health_finding["remedies"][0]["target"] == f"arn:aws:iam::{MANAGEMENT}:role/{MEMBER_ROLE}"
    )
    # another denial from that account the same day: no second health alert
    again = _record(
        event_id=str(uuid.uuid4()),
        requester=MANAGEMENT,
        user=CAROL,
        bucket=SHARED,
        bucket_account=w.b,
    )
    central.invoke(eventbridge_envelope(again, envelope_id="eb-carol-3"))
    assert MANAGEMENT not in _accounts_of(_alerts(central))


# ------------------------------------------------------- two copies: one finding, one alert


@pytest.mark.parametrize("first", ["owner", "requester"])
def test_two_copies_make_one_finding_and_one_alert_whichever_comes_first(central, workload, first):
    w = workload
    owner_copy, requester_copy = _policy_denied(w)
    ordered = (owner_copy, requester_copy) if first == "owner" else (requester_copy, owner_copy)
    results = [central.invoke(copy) for copy in ordered]
    assert [r["status"] for r in results] == ["new", "duplicate"]
    shared = owner_copy["detail"]["sharedEventID"]
    assert {r["finding_id"] for r in results} == {shared}
    finding = _stored(shared)
    assert (finding["account"], finding["request"]["principal"]["account_id"]) == (w.b, w.a)
    assert finding["occurrences"] == 1
    [alert] = _alerts(central)
    assert (alert["finding_id"], alert["account"]) == (shared, w.b)
    page = wiring.finding_store().list(FindingQuery(account=w.b))
    assert [f.finding_id for f in page.findings] == [shared]


def test_two_copies_arriving_together_make_one_finding_and_one_alert(central, workload):
    w = workload
    trials = []
    for hour in range(6):  # each trial in its own aggregation window: its own finding
        owner_copy, requester_copy = _scp_denied(w)
        for copy in (owner_copy, requester_copy):
            copy["detail"]["eventTime"] = f"2025-03-02T{hour:02d}:00:00Z"
        ports = wiring.event_ports()
        results = together(
            [
                lambda c=copy, p=ports: service.handle_event(c, **p)
                for copy in (owner_copy, requester_copy)
            ]
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        statuses = Counter(r.status.value for r in results)
        assert statuses["new"] == 1, results
        assert statuses["duplicate"] + statuses["republished"] == 1, results
        assert sum(r.published for r in results) == 1, results
        shared = owner_copy["detail"]["sharedEventID"]
        assert {r.finding_id for r in results} == {shared}
        trials.append(shared)
    alerts = _alerts(central)
    assert sorted(a["finding_id"] for a in alerts) == sorted(trials)
    for shared in trials:
        finding = _stored(shared)
        assert (finding["account"], finding["occurrences"]) == (w.b, 1)


@pytest.mark.parametrize("shared", ["", 42, None, "a#b", "x" * 129, "../keys", " 7c9d"])
def test_a_shared_event_id_that_is_not_an_id_is_not_a_key(shared):
    record = _record(
        event_id="e-1",
        requester="111111111111",
        user=ALICE,
        bucket=SHARED,
        bucket_account="222222222222",
    )
    record["sharedEventID"] = shared
    assert parse_event(eventbridge_envelope(record, envelope_id="eb-1")).shared_event_id is None
    record["sharedEventID"] = "5c8b6a2e-3f1d-4e1a-9a7b-0c2d3e4f5a6b"
    assert parse_event(eventbridge_envelope(record, envelope_id="eb-1")).shared_event_id == (
        "5c8b6a2e-3f1d-4e1a-9a7b-0c2d3e4f5a6b"
    )


def test_a_copy_naming_only_the_callers_account_is_judged_on_what_it_names(central, workload):
    w = workload
    owner_copy, _ = _scp_denied(w)
    # the bucket owner's copy of a cross-account call may name only the caller's account
    owner_copy["detail"]["userIdentity"] = {
        "type": "AWSAccount",
        "principalId": f"AIDAALICE{w.a}",
        "accountId": w.a,
    }
    snapshot, unavailable = _collect(owner_copy)
    assert unavailable == ()
    side = snapshot["accounts"][w.a]
    assert "iam" not in side  # whose policies? not logged: not collected, never "none"
    assert "NoRestrictedReads" in _policy_names(side["organization"]["levels"][-1])
    finding = _judged(central, owner_copy)
    assert (finding["decision"], finding["blocked_by"]) == ("explicit-deny", ["scp"])
    assert "identity-policy" in {u["layer"] for u in finding["unchecked"]}
