"""A moto server on a free loopback port, boto3 clients that talk to it over HTTP, and an account
seeded with every policy layer the collectors read (exposed as fixtures)."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib.collect.clients import Boto3Clients, adapt_to_endpoint

REGION = "us-east-1"


def configure_for_moto(service: str, client: Any) -> None:
    """The one shared adaptation to a local endpoint (S3 Control's account host prefix)."""
    adapt_to_endpoint(service, client)


@pytest.fixture(scope="module")
def moto_url(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{server._server.server_port}"
    _moto_api(url, "reset", b"")  # moto keeps its state per process, not per server
    try:
        yield url
    finally:
        _moto_api(url, "reset-auth", b"inf")  # authentication off again
        _moto_api(url, "reset", b"")
        server.stop()


def _moto_api(url: str, path: str, data: bytes) -> None:
    request = urllib.request.Request(
        f"{url}/moto-api/{path}", data=data, headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request).close()


def enable_iam_authentication(url: str) -> None:
    """From now on moto authenticates every call and applies the caller's identity policies."""
    _moto_api(url, "reset-auth", b"0")


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        yield patch


def session(access_key: str = "testing", secret_key: str = "testing") -> boto3.Session:
    return boto3.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )


class CallCounter:
    """Counts the AWS calls the collector's clients make (a botocore `before-call` hook)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def on_client(self, service: str, client: Any) -> None:
        configure_for_moto(service, client)
        client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


def moto_clients(
    url: str, *, counter: CallCounter | None = None, boto_session: boto3.Session | None = None
) -> Boto3Clients:
    return Boto3Clients(
        boto_session or session(),
        region_name=REGION,
        endpoint_url=url,
        on_client=counter.on_client if counter else configure_for_moto,
    )


def client(url: str, service: str, boto_session: boto3.Session | None = None) -> Any:
    """A seeding client (not the collector's)."""
    made = (boto_session or session()).client(service, region_name=REGION, endpoint_url=url)
    configure_for_moto(service, made)
    return made


def gateway_endpoint(ec2: Any, region: str, cidr: str) -> tuple[str, str]:
    """(VPC id, endpoint id) of a new VPC with an S3 gateway endpoint under ENDPOINT_POLICY."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    endpoint_id = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        ServiceName=f"com.amazonaws.{region}.s3",
        VpcEndpointType="Gateway",
        PolicyDocument=json.dumps(ENDPOINT_POLICY),
    )["VpcEndpoint"]["VpcEndpointId"]
    return vpc_id, endpoint_id


# ----------------------------------------------------------------- seeded account

ACCOUNT = "123456789012"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def user_session(url: str, user: str, *statements: dict[str, Any]) -> boto3.Session:
    """A session of a new IAM user of the moto server, whose inline policy has `statements`
    (what a collector refused some reads uses, once IAM authentication is on)."""
    iam = client(url, "iam")
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user, PolicyName="reads", PolicyDocument=json.dumps(policy(*statements))
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return session(key["AccessKeyId"], key["SecretAccessKey"])


ALLOW_READ = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
ALLOW_LIST = policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})
DENY_DELETE = policy({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"})
BOUNDARY = policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})
BUCKET_POLICY = policy(
    {
        "Sid": "AllowAlice",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::reports-bucket/*",
    }
)
ENDPOINT_POLICY = policy(
    {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
)
SCP_DENY = policy({"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"})
RCP_DENY = policy(
    {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
)
BPA = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": False,
    "RestrictPublicBuckets": False,
}
ACCOUNT_BPA = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": False,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": False,
}


@dataclass(frozen=True, kw_only=True)
class Seeded:
    read_policy_arn: str
    list_policy_arn: str
    boundary_arn: str
    default_key_arn: str
    object_key_arn: str
    grant_id: str
    vpc_endpoint_id: str


def seed_account(url: str) -> Seeded:
    iam = client(url, "iam")
    read_arn = iam.create_policy(PolicyName="ReadReports", PolicyDocument=json.dumps(ALLOW_READ))[
        "Policy"
    ]["Arn"]
    list_arn = iam.create_policy(PolicyName="ListReports", PolicyDocument=json.dumps(ALLOW_LIST))[
        "Policy"
    ]["Arn"]
    boundary_arn = iam.create_policy(PolicyName="AppBoundary", PolicyDocument=json.dumps(BOUNDARY))[
        "Policy"
    ]["Arn"]

    iam.create_group(GroupName="analysts")
    iam.put_group_policy(
        GroupName="analysts", PolicyName="NoDeletes", PolicyDocument=json.dumps(DENY_DELETE)
    )
    iam.attach_group_policy(GroupName="analysts", PolicyArn=list_arn)
    iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "finance"}])
    iam.add_user_to_group(UserName="alice", GroupName="analysts")
    iam.put_user_policy(
        UserName="alice", PolicyName="AliceRead", PolicyDocument=json.dumps(ALLOW_READ)
    )
    iam.attach_user_policy(UserName="alice", PolicyArn=read_arn)

    iam.create_role(
        RoleName="app-role",
        Path="/service/",
        AssumeRolePolicyDocument=json.dumps(
            policy(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            )
        ),
        PermissionsBoundary=boundary_arn,
    )
    iam.put_role_policy(
        RoleName="app-role", PolicyName="AppRead", PolicyDocument=json.dumps(ALLOW_READ)
    )
    iam.attach_role_policy(RoleName="app-role", PolicyArn=list_arn)

    kms = client(url, "kms")
    default_key = kms.create_key(Description="bucket default")["KeyMetadata"]["Arn"]
    object_key = kms.create_key(Description="object key")["KeyMetadata"]["Arn"]
    key_policy = policy(
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=object_key, PolicyName="default", Policy=json.dumps(key_policy))
    grant_id = kms.create_grant(
        KeyId=object_key,
        GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/service/app-role",
        Operations=["Decrypt"],
    )["GrantId"]

    s3 = client(url, "s3")
    s3.create_bucket(Bucket="reports-bucket")
    s3.put_bucket_policy(Bucket="reports-bucket", Policy=json.dumps(BUCKET_POLICY))
    s3.put_bucket_ownership_controls(
        Bucket="reports-bucket",
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
    )
    s3.put_public_access_block(Bucket="reports-bucket", PublicAccessBlockConfiguration=BPA)
    s3.put_bucket_encryption(
        Bucket="reports-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": default_key,
                    }
                }
            ]
        },
    )
    s3.put_bucket_versioning(Bucket="reports-bucket", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(
        Bucket="reports-bucket",
        Key="2026/q3.csv",
        Body=b"a,b\n",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=object_key,
    )
    s3.create_bucket(Bucket="plain-bucket")
    client(url, "s3control").put_public_access_block(
        AccountId=ACCOUNT, PublicAccessBlockConfiguration=ACCOUNT_BPA
    )

    _vpc_id, endpoint_id = gateway_endpoint(client(url, "ec2"), REGION, "10.0.0.0/16")

    return Seeded(
        read_policy_arn=read_arn,
        list_policy_arn=list_arn,
        boundary_arn=boundary_arn,
        default_key_arn=default_key,
        object_key_arn=object_key,
        grant_id=grant_id,
        vpc_endpoint_id=endpoint_id,
    )


@dataclass(frozen=True, kw_only=True)
class SeededOrganization:
    root_id: str
    ou_id: str
    scp_id: str
    rcp_id: str


def seed_organization(url: str) -> SeededOrganization:
    """An organization with SCPs and RCPs enabled, the account in an OU, an SCP and an RCP."""
    org = client(url, "organizations")
    org.create_organization(FeatureSet="ALL")
    root_id = org.list_roots()["Roots"][0]["Id"]
    for policy_type in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"):
        org.enable_policy_type(RootId=root_id, PolicyType=policy_type)
    ou_id = org.create_organizational_unit(ParentId=root_id, Name="workloads")[
        "OrganizationalUnit"
    ]["Id"]
    org.move_account(AccountId=ACCOUNT, SourceParentId=root_id, DestinationParentId=ou_id)
    scp_id = org.create_policy(
        Content=json.dumps(SCP_DENY),
        Description="no bucket deletes",
        Name="NoBucketDeletes",
        Type="SERVICE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=scp_id, TargetId=ou_id)
    rcp_id = org.create_policy(
        Content=json.dumps(RCP_DENY),
        Description="TLS only",
        Name="TlsOnly",
        Type="RESOURCE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=rcp_id, TargetId=root_id)
    client(url, "iam").create_role(
        RoleName="org-reader",
        AssumeRolePolicyDocument=json.dumps(
            policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
        ),
    )
    return SeededOrganization(root_id=root_id, ou_id=ou_id, scp_id=scp_id, rcp_id=rcp_id)


@pytest.fixture(scope="module")
def seeded(moto_url: str) -> Seeded:
    return seed_account(moto_url)


@pytest.fixture
def call_counter() -> CallCounter:
    return CallCounter()
