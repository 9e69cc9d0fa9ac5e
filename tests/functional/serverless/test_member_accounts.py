"""Issue 14.2: each event is collected in its bucket's account, as the member role there.

On the moto server: moto keys state by account, and credentials from `AssumeRole` into
`arn:aws:iam::<account>:role/...` sign requests that land in that account. moto lets any role be
assumed, even one that does not exist; AWS refuses that with AccessDenied, and so does this
server here (`_refuse_missing_member_roles`), which also counts the AssumeRole calls.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import boto3
import pytest
from moto.iam.models import iam_backends

from chalicelib import wiring
from chalicelib.aggregation import MEMBER_ROLE_UNAVAILABLE
from chalicelib.demo.cloudtrail import user_get_object_denial
from tests.functional.serverless.conftest import ACCOUNT, EVENT_TIME, KEY, REGION

MEMBER = "210987654321"
MISSING = "333344445555"  # an account without the member role
ROLE_NAME = "s3-403-doctor-member-read"
SUFFIX = uuid.uuid4().hex[:8]
MEMBER_BUCKET = f"member-ledger-{SUFFIX}"
MEMBER_USERS = ("member-bob", "member-carol")

DENY_GET = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "NoLedger", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}],
}


def _session_in(account: str) -> boto3.Session:
    """Credentials of `account` (moto: assume any role there from the default account)."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/seed", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


@pytest.fixture(scope="module")
def member_account(moto_env):
    """The member account: its read role, two users denied GetObject, a bucket."""
    session = _session_in(MEMBER)
    iam = session.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    for user in MEMBER_USERS:
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="deny", PolicyDocument=json.dumps(DENY_GET))
    s3 = session.client("s3")
    s3.create_bucket(Bucket=MEMBER_BUCKET)
    s3.put_object(Bucket=MEMBER_BUCKET, Key=KEY, Body=b"ledger\n")
    return session


class AssumeRoles:
    """What the server saw of AssumeRole into MEMBER_ROLE_NAME: (account, refused) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    def answer(self, body: bytes) -> bytes | None:
        form = parse_qs(body.decode(errors="replace"))
        if form.get("Action") != ["AssumeRole"]:
            return None
        role_arn = form.get("RoleArn", [""])[0]
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        name = role_arn.rsplit("/", 1)[-1]
        if name != ROLE_NAME:
            return None
        roles = iam_backends[account]["aws"].roles.values()
        refused = not any(role.name == name for role in roles)
        self.calls.append((account, refused))
        if not refused:
            return None
        return (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            "<Type>Sender</Type><Code>AccessDenied</Code><Message>User: "
            f"arn:aws:sts::{ACCOUNT}:assumed-role/events/fn is not authorized to perform: "
            f"sts:AssumeRole on resource: {role_arn}</Message></Error>"
            "<RequestId>refused</RequestId></ErrorResponse>"
        ).encode()


@pytest.fixture
def assume_roles(moto_server, monkeypatch) -> Iterator[AssumeRoles]:
    seen = AssumeRoles()
    faults = moto_server.faults
    original = faults.answer

    def answer(target: str, body: bytes) -> bytes | None:
        return seen.answer(body) if not target else original(target, body)

    monkeypatch.setattr(faults, "answer", answer)
    yield seen


@pytest.fixture
def organization(deployment, member_account, assume_roles, monkeypatch):
    """The deployment in organization mode (MEMBER_ROLE_NAME set)."""
    monkeypatch.setenv("MEMBER_ROLE_NAME", ROLE_NAME)
    wiring.reset()
    yield deployment
    monkeypatch.delenv("MEMBER_ROLE_NAME")
    wiring.reset()


def _member_event(event_id: str, *, account: str = MEMBER, user: str = MEMBER_USERS[0]):
    event = user_get_object_denial(
        event_id=event_id,
        event_time=EVENT_TIME,
        account_id=account,
        region=REGION,
        user_name=user,
        user_id=f"AIDA{user.upper().replace('-', '')}",
        bucket=MEMBER_BUCKET,
        key=KEY,
    )
    return event


def _stored(deployment, finding_id):
    return wiring.finding_store().get(finding_id)


def test_a_member_event_is_diagnosed_with_the_members_policies(organization, assume_roles):
    result = organization.invoke(_member_event(f"m-{uuid.uuid4().hex}"))
    assert (result["status"], result["diagnosed"]) == ("new", True)
    finding = _stored(organization, result["finding_id"])
    assert finding is not None
    # The member user's inline Deny was read: only visible as the member role, in MEMBER.
    assert (finding.decision.value, [b.value for b in finding.blocked_by]) == (
        "explicit-deny",
        ["identity-policy"],
    )
    document = finding.to_dict()
    assert document["account"] == MEMBER
    assert document["request"]["principal"]["account_id"] == MEMBER
    assert assume_roles.calls == [(MEMBER, False)]
    [message] = organization.received()
    assert message["MessageAttributes"]["account"]["Value"] == MEMBER


def test_member_credentials_are_cached_until_shortly_before_they_expire(organization, assume_roles):
    for user in MEMBER_USERS:  # two distinct denials, one AssumeRole
        result = organization.invoke(_member_event(f"c-{uuid.uuid4().hex}", user=user))
        assert result["diagnosed"] is True
    assert assume_roles.calls == [(MEMBER, False)]
    source = wiring.event_ports()["source"]
    member, _ = source._members[MEMBER]
    source._members[MEMBER] = (member, wiring.clock() + timedelta(minutes=6))
    organization.invoke(_member_event(f"c-{uuid.uuid4().hex}", user="member-dave"))
    assert assume_roles.calls == [(MEMBER, False)]  # still more than 5 minutes left
    source._members[MEMBER] = (member, wiring.clock() + timedelta(minutes=4))
    organization.invoke(_member_event(f"c-{uuid.uuid4().hex}", user="member-erin"))
    assert assume_roles.calls == [(MEMBER, False), (MEMBER, False)]  # renewed


def test_a_missing_member_role_gives_a_finding_saying_what_to_deploy(organization, assume_roles):
    first = organization.invoke(_member_event(f"x-{uuid.uuid4().hex}", account=MISSING))
    assert (first["status"], first["decision"], first["diagnosed"]) == (
        "new",
        "inconclusive",
        False,
    )
    finding = _stored(organization, first["finding_id"]).to_dict()
    assert finding["account"] == MISSING
    assert [c["code"] for c in finding["causes"]] == [MEMBER_ROLE_UNAVAILABLE]
    role_arn = f"arn:aws:iam::{MISSING}:role/{ROLE_NAME}"
    assert role_arn in finding["causes"][0]["message"]
    assert finding["remedies"][0]["target"] == role_arn
    needs = {u["needs"] for u in finding["unchecked"]}
    assert needs == {
        f"deploy the member template (role {ROLE_NAME}, trusting the central event "
        f"function's role) in account {MISSING}"
    }
    assert {"identity-policy", "bucket-policy"} <= {u["layer"] for u in finding["unchecked"]}
    [message] = organization.received()
    assert message["MessageAttributes"]["account"]["Value"] == MISSING
    assert message["MessageAttributes"]["severity"]["Value"] == "health"
    # Another denial in that account the same day counts on it: no second alert, and the
    # refusal is remembered (no second AssumeRole).
    second = organization.invoke(
        _member_event(f"x-{uuid.uuid4().hex}", account=MISSING, user=MEMBER_USERS[1])
    )
    assert (second["status"], second["finding_id"]) == ("repeat", first["finding_id"])
    assert organization.received() == []
    assert assume_roles.calls == [(MISSING, True)]


def test_own_account_events_use_the_functions_credentials(organization, assume_roles):
    from tests.functional.serverless.conftest import denied_event

    result = organization.invoke(denied_event(f"o-{uuid.uuid4().hex}"))
    assert result["status"] == "new"
    assert assume_roles.calls == []
    assert _stored(organization, result["finding_id"]).to_dict()["account"] == ACCOUNT


def test_single_account_mode_collects_every_event_as_today(
    deployment, member_account, assume_roles
):
    result = deployment.invoke(_member_event(f"s-{uuid.uuid4().hex}"))
    assert result["status"] == "new"
    assert assume_roles.calls == []
    finding = _stored(deployment, result["finding_id"]).to_dict()
    assert finding["account"] == MEMBER
    # the member user is not visible with the function's own credentials
    assert finding["blocked_by"] != ["identity-policy"] or finding["decision"] != "explicit-deny"


def test_member_role_name_is_checked_and_its_sessions_are_the_diagnosers():
    from chalicelib.aggregation import Origin, origin
    from chalicelib.events import parse_event

    with pytest.raises(wiring.ConfigError) as error:
        wiring.read_settings({"MEMBER_ROLE_NAME": "not/a role"})
    assert error.value.field_path == "MEMBER_ROLE_NAME"
    config = wiring.read_settings({"MEMBER_ROLE_NAME": ROLE_NAME})
    assert config.member_role_name == ROLE_NAME
    assert wiring.read_settings({}).member_role_name is None
    event = _member_event("d-1")
    event["detail"]["userIdentity"] = {
        "type": "AssumedRole",
        "principalId": "AROAMEMBER:s3-403-doctor",
        "arn": f"arn:aws:sts::{MEMBER}:assumed-role/{ROLE_NAME}/s3-403-doctor",
        "accountId": MEMBER,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAMEMBER",
                "arn": f"arn:aws:iam::{MEMBER}:role/{ROLE_NAME}",
                "accountId": MEMBER,
                "userName": ROLE_NAME,
            }
        },
    }
    assert origin(parse_event(event), config.trust) is Origin.DIAGNOSER
