"""Four accounts of one organization on a moto server, and the central handler among them.

- the management account creates the organization (SCPs and RCPs enabled, a `workloads` OU)
  and holds the organization-read role (ORG_READ_ROLE_ARN); no member role there, as with a
  service-managed StackSet, which skips the management account;
- the security account runs the real Chalice app's event handler (its table, topic and an SQS
  subscriber), with MEMBER_ROLE_NAME and ORGANIZATION_ACCOUNT_IDS set: the function's
  credentials are a role session in that account;
- two member accounts in the OU, each with the member role trusting the central role.

moto keys state by account, and credentials from `AssumeRole` into `arn:aws:iam::<account>:...`
land in that account. moto lets any role be assumed, even one that does not exist; AWS refuses
that with AccessDenied, and so does this server for the member role (`OrgFaults`), which also
records every AssumeRole into it. The server answers one request at a time (see the serverless
conftest). moto's state is per process: the accounts here are their own (the organization's
accounts get fresh ids from CreateAccount), so the other suites' accounts are left alone; the
organization is seeded once per process and shared by the modules here (`_seeded`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.iam.models import iam_backends

from chalicelib import wiring
from tests.functional.serverless.conftest import Deployment, SerialMotoServer, central_stack

REGION = "us-east-1"
MANAGEMENT = "999911112222"
MEMBER_ROLE = "s3-403-doctor-member-read"
CENTRAL_ROLE = "s3-403-doctor-events"
ORG_READER = "org-reader"


class OrgFaults:
    """AssumeRole into the member role: recorded as (account, refused); refused, as AWS does,
    when the account has no such role. Organizations `ListAccounts` pages are counted, and
    refused (AccessDeniedException, as for a role without the permission) while
    `refuse_list_accounts` is set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[tuple[str, bool]] = []
        self.list_accounts_pages = 0
        self.refuse_list_accounts = False

    def answer(self, target: str, body: bytes) -> bytes | None:
        if target.endswith(".ListAccounts"):
            with self._lock:
                self.list_accounts_pages += 1
            if not self.refuse_list_accounts:
                return None
            return json.dumps(
                {
                    "__type": "AccessDeniedException",
                    "Message": "not authorized to perform: organizations:ListAccounts",
                }
            ).encode()
        if target:
            return None
        form = parse_qs(body.decode(errors="replace"))
        if form.get("Action") != ["AssumeRole"]:
            return None
        role_arn = form.get("RoleArn", [""])[0]
        if role_arn.rsplit("/", 1)[-1] != MEMBER_ROLE or role_arn.count(":") < 5:
            return None
        account = role_arn.split(":")[4]
        refused = not any(role.name == MEMBER_ROLE for role in _roles(account))
        with self._lock:
            self.calls.append((account, refused))
        if not refused:
            return None
        return (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
            "<Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform: "
            f"sts:AssumeRole on resource: {role_arn}</Message></Error>"
            "<RequestId>refused</RequestId></ErrorResponse>"
        ).encode()

    def accounts(self) -> list[str]:
        """The accounts whose member role was assumed (or tried), in order."""
        with self._lock:
            return [account for account, _ in self.calls]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()


def _roles(account: str) -> list[Any]:
    return list(iam_backends[account]["aws"].roles.values())


@dataclass
class Organization:
    """The four accounts, their sessions, and the organization's ids."""

    management: str
    security: str
    member_a: str
    member_b: str
    root_id: str
    ou_id: str
    faults: OrgFaults
    sessions: dict[str, boto3.Session] = field(default_factory=dict)

    def session(self, account: str) -> boto3.Session:
        return self.sessions[account]

    def client(self, account: str, service: str) -> Any:
        return self.sessions[account].client(service, region_name=REGION)  # type: ignore[call-overload]

    def central_role_arn(self) -> str:
        return f"arn:aws:iam::{self.security}:role/{CENTRAL_ROLE}"


def _session(base: boto3.Session, account: str, role: str) -> boto3.Session:
    """A role session in `account` (moto: any role, from the default account)."""
    credentials = base.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=role
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def _trusting(principal: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
            ],
        }
    )


def policy_text(*statements: dict[str, Any]) -> str:
    """A policy document's JSON text with these statements."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny_reads_from(orgs: Any, bucket: str, target: str, name: str) -> str:
    """The id of an SCP `name`, attached to `target`, that denies s3:GetObject on `bucket`'s
    objects."""
    scp_id = orgs.create_policy(
        Content=policy_text(
            {
                "Sid": name,
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ),
        Description="member A reads nothing from the restricted bucket",
        Name=name,
        Type="SERVICE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=scp_id, TargetId=target)
    return str(scp_id)


@pytest.fixture(scope="module")
def org_server() -> Iterator[SerialMotoServer]:
    server = SerialMotoServer()
    server.faults = OrgFaults()  # type: ignore[assignment]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def organization(org_server: SerialMotoServer) -> Iterator[Organization]:
    """The organization seeded, and the environment of the central function (module docstring)."""
    assert org_server._server is not None
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{org_server._server.server_port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "ALERT_BUDGET": "1000",
        }.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        admin = boto3.Session(region_name=REGION)
        org = _seeded(admin, org_server.faults)  # type: ignore[arg-type]
        central = org.sessions[org.security].get_credentials()
        assert central is not None
        env.setenv("AWS_ACCESS_KEY_ID", central.access_key)
        env.setenv("AWS_SECRET_ACCESS_KEY", central.secret_key)
        env.setenv("AWS_SESSION_TOKEN", central.token or "")
        env.setenv("MEMBER_ROLE_NAME", MEMBER_ROLE)
        accounts = (org.management, org.security, org.member_a, org.member_b)
        env.setenv("ORGANIZATION_ACCOUNT_IDS", ",".join(accounts))
        env.setenv("ORG_READ_ROLE_ARN", f"arn:aws:iam::{org.management}:role/{ORG_READER}")
        wiring.reset()
        try:
            yield org
        finally:
            wiring.reset()


_SEEDED: list[Organization] = []


def _seeded(admin: boto3.Session, faults: OrgFaults) -> Organization:
    """The organization, seeded once per process: moto's state outlives a module's server, and
    the management account can create one organization only (each module names its own users,
    buckets and policies)."""
    if _SEEDED:
        org = _SEEDED[0]
        try:
            org.client(MANAGEMENT, "organizations").describe_organization()
        except ClientError:  # moto's state was reset meanwhile
            _SEEDED.clear()
        else:
            org.faults = faults
            return org
    _SEEDED.append(_seed(admin, faults))
    return _SEEDED[0]


def _seed(admin: boto3.Session, faults: OrgFaults) -> Organization:
    management = _session(admin, MANAGEMENT, "admin")
    orgs = management.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root_id = orgs.list_roots()["Roots"][0]["Id"]
    for policy_type in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"):
        orgs.enable_policy_type(RootId=root_id, PolicyType=policy_type)
    ou_id = orgs.create_organizational_unit(ParentId=root_id, Name="workloads")[
        "OrganizationalUnit"
    ]["Id"]
    ids = []
    for name in ("security", "member-a", "member-b"):
        status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)
        account = status["CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=account, SourceParentId=root_id, DestinationParentId=ou_id)
        ids.append(account)
    security, member_a, member_b = ids
    org = Organization(
        management=MANAGEMENT,
        security=security,
        member_a=member_a,
        member_b=member_b,
        root_id=root_id,
        ou_id=ou_id,
        faults=faults,
        sessions={MANAGEMENT: management},
    )
    org.sessions[security] = _session(admin, security, CENTRAL_ROLE)
    for member in (member_a, member_b):
        org.sessions[member] = _session(admin, member, "admin")
        org.client(member, "iam").create_role(
            RoleName=MEMBER_ROLE, AssumeRolePolicyDocument=_trusting(org.central_role_arn())
        )
    org.client(MANAGEMENT, "iam").create_role(
        RoleName=ORG_READER, AssumeRolePolicyDocument=_trusting(org.central_role_arn())
    )
    return org


@pytest.fixture
def central(organization: Organization) -> Iterator[Deployment]:
    """The central stack in the security account: table, topic, subscriber, the Chalice app."""
    organization.faults.reset()
    with (
        pytest.MonkeyPatch.context() as env,
        central_stack(organization.session(organization.security), env) as deployed,
    ):
        yield deployed
