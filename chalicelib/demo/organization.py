"""The demo's AWS Organization on the moto server: management, security and two member accounts.

moto keys its state by account, and STS AssumeRole gives credentials that act in the role's
account (moto lets any role be assumed). The management account, reached as `ADMIN_ROLE`,
creates the organization, the member accounts (`CreateAccount`), an OU for the workloads and an
SCP on one member; the others are reached as `OrganizationAccountAccessRole`, the role
`CreateAccount` makes in each.
The security account holds the central event function's role, the member accounts the read-only
member role of `.chalice/member.json`, trusting that role; the management account a role the
central function assumes to read SCPs (ORG_READ_ROLE_ARN).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import boto3

from ..lean_dataclass import dataclass
from ..model import Json
from .member_template import member_role

ACCESS_ROLE = "OrganizationAccountAccessRole"
ADMIN_ROLE = "Admin"
ORG_READ_ROLE = "s3-403-doctor-org-read"
WORKLOADS_OU = "Workloads"
SECURITY = "security"
MEMBERS = ("shop", "analytics")
"""The member accounts' names: `shop` owns the SCP and the cross-account bucket, `analytics`
the principal that reads it, and the data-perimeter SCP."""
SCP_NAME = "protect-backups"
SCP_TARGET = "shop"
BACKUPS_BUCKET = "demo-backups"  # the SCP protects every bucket named so, with any suffix
SCP_STATEMENT: Json = {
    "Sid": "NoDeletingBackups",
    "Effect": "Deny",
    "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    "Resource": f"arn:aws:s3:::{BACKUPS_BUCKET}*/*",
}
PERIMETER_NAME = "data-perimeter"
PERIMETER_TARGET = "analytics"
PARTNER_ACCOUNT = "777788889999"  # outside the organization: a partner whose bucket is read


def perimeter_statement(organization_id: str) -> Json:
    """The data perimeter: no object read from a bucket outside the organization."""
    return {
        "Sid": "OnlyOurBuckets",
        "Effect": "Deny",
        "Action": "s3:GetObject",
        "Resource": "*",
        "Condition": {"StringNotEqualsIfExists": {"aws:ResourceOrgID": organization_id}},
    }


_ORG_READS = (
    "organizations:DescribeOrganization",
    "organizations:ListRoots",
    "organizations:ListParents",
    "organizations:ListPoliciesForTarget",
    "organizations:DescribePolicy",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoOrganization:
    """What was seeded: the accounts by name, and what the central deployment is told."""

    organization_id: str
    management: str
    accounts: Mapping[str, str]  # name -> account id: `security` and each of MEMBERS
    workloads_ou: str
    central_role_arn: str
    member_role_name: str
    org_read_role_arn: str
    central_credentials: Mapping[str, str]  # the central event function's role session

    @property
    def account_ids(self) -> tuple[str, ...]:
        return (self.management, *self.accounts.values())

    def name_of(self, account_id: str | None) -> str:
        """`management`, `security`, a member's name, or `outside` for another account."""
        if account_id == self.management:
            return "management"
        names = {v: k for k, v in self.accounts.items()}
        return names.get(account_id or "", "outside")


def seed_organization(
    *, management_account: str, region: str, member_template: Path, stage: str
) -> DemoOrganization:
    """Create the organization in `management_account`, its accounts and roles."""
    management = session_in(management_account, region, role=ADMIN_ROLE)
    org = management.client("organizations")
    organization_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root_id, PolicyType="SERVICE_CONTROL_POLICY")
    ou_id = org.create_organizational_unit(ParentId=root_id, Name=WORKLOADS_OU)[
        "OrganizationalUnit"
    ]["Id"]
    accounts: dict[str, str] = {}
    for name in (SECURITY, *MEMBERS):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)
        accounts[name] = status["CreateAccountStatus"]["AccountId"]
    for name in MEMBERS:
        org.move_account(
            AccountId=accounts[name], SourceParentId=root_id, DestinationParentId=ou_id
        )
    scp_id = org.create_policy(
        Name=SCP_NAME,
        Description="Backups are never deleted from workload accounts",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps({"Version": "2012-10-17", "Statement": [SCP_STATEMENT]}),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=scp_id, TargetId=accounts[SCP_TARGET])
    perimeter_id = org.create_policy(
        Name=PERIMETER_NAME,
        Description="Workloads read objects from the organization's buckets only",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {"Version": "2012-10-17", "Statement": [perimeter_statement(organization_id)]}
        ),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=perimeter_id, TargetId=accounts[PERIMETER_TARGET])

    security = accounts[SECURITY]
    parameters = {
        "AWS::Partition": "aws",
        "AWS::Region": region,
        "CentralAccountId": security,
        "CentralStage": stage,
        "CentralRegion": region,
        "CentralEventBusArn": f"arn:aws:events:{region}:{security}:event-bus/s3-403-doctor",
    }
    role = member_role(member_template, {**parameters, "AWS::AccountId": security})
    central_role_arn = str(role.trust_policy["Statement"][0]["Principal"]["AWS"])
    central_role_name = central_role_arn.rsplit("/", 1)[-1]
    session_in(security, region).client("iam").create_role(
        RoleName=central_role_name,
        AssumeRolePolicyDocument=_trust({"Service": "lambda.amazonaws.com"}),
    )
    for name in MEMBERS:
        account = accounts[name]
        role = member_role(member_template, {**parameters, "AWS::AccountId": account})
        iam = session_in(account, region).client("iam")
        iam.create_role(
            RoleName=role.name,
            Description=role.description,
            MaxSessionDuration=role.max_session_duration,
            AssumeRolePolicyDocument=json.dumps(role.trust_policy),
        )
        for policy_name, document in role.inline_policies.items():
            iam.put_role_policy(
                RoleName=role.name, PolicyName=policy_name, PolicyDocument=json.dumps(document)
            )
    management.client("iam").create_role(
        RoleName=ORG_READ_ROLE,
        AssumeRolePolicyDocument=_trust({"AWS": central_role_arn}),
    )
    management.client("iam").put_role_policy(
        RoleName=ORG_READ_ROLE,
        PolicyName="read-organization-policies",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": list(_ORG_READS), "Resource": "*"}],
            }
        ),
    )
    central = _assume(management, central_role_arn, "s3-403-doctor-events")
    return DemoOrganization(
        organization_id=organization_id,
        management=management_account,
        accounts=accounts,
        workloads_ou=ou_id,
        central_role_arn=central_role_arn,
        member_role_name=role.name,
        org_read_role_arn=f"arn:aws:iam::{management_account}:role/{ORG_READ_ROLE}",
        central_credentials={
            "AWS_ACCESS_KEY_ID": central["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": central["SecretAccessKey"],
            "AWS_SESSION_TOKEN": central["SessionToken"],
        },
    )


def session_in(account_id: str, region: str, *, role: str = ACCESS_ROLE) -> boto3.Session:
    """A session acting in `account_id`, as its `role`."""
    credentials = _assume(
        boto3.Session(region_name=region),
        f"arn:aws:iam::{account_id}:role/{role}",
        "s3-403-doctor-demo",
    )
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _assume(session: boto3.Session, role_arn: str, session_name: str) -> Mapping[str, str]:
    credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)[
        "Credentials"
    ]
    return {k: str(v) for k, v in credentials.items()}


def _trust(principal: Json) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    )
