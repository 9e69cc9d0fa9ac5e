"""`s3doctor` through its console script against a moto server reached by `--endpoint-url` or
`AWS_ENDPOINT_URL` alone (no injected factory): collect, live diagnose, findings pagination,
`--table` / `--stack`, and named parts that do not exist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.functional.findings_fixtures import FINDINGS, findings_table  # noqa: F401

S3DOCTOR = Path(sys.executable).with_name("s3doctor")
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
BUCKET = f"cli-endpoint-{uuid.uuid4().hex[:8]}"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/cli-alice"
NO_KEY = "00000000-0000-0000-0000-000000000000"
DENY_ALICE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyAlice",
            "Effect": "Deny",
            "Principal": {"AWS": ALICE},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        }
    ],
}


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("FINDINGS_TABLE_NAME", "NO_COLOR")
    }
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_MAX_ATTEMPTS="2",
    )
    env.update(extra)
    return env


def s3doctor(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(S3DOCTOR), *argv], capture_output=True, text=True, env=_env(**env),
        timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, str]]:
    """A moto server with a bucket that denies alice, alice herself, and a KMS key alias."""
    if not S3DOCTOR.exists():
        pytest.skip(f"no console script at {S3DOCTOR}")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    assert server._server is not None
    url = f"http://127.0.0.1:{server._server.server_port}"
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    s3 = session.client("s3", endpoint_url=url)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(DENY_ALICE))
    s3.put_object(Bucket=BUCKET, Key="data.csv", Body=b"x")
    iam = session.client("iam", endpoint_url=url)
    iam.create_user(UserName="cli-alice")
    iam.put_user_policy(
        UserName="cli-alice",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    kms = session.client("kms", endpoint_url=url)
    key = kms.create_key()["KeyMetadata"]
    alias = f"alias/cli-{uuid.uuid4().hex[:6]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    try:
        yield {"url": url, "alias": alias, "key_arn": key["Arn"]}
    finally:
        server.stop()


def test_collect_through_endpoint_url_alone_reads_s3_control_without_retries(
    moto: dict[str, str],
) -> None:
    started = time.monotonic()
    done = s3doctor(
        "collect", "--bucket", BUCKET, "--principal", ALICE, "--out", "-",
        "--endpoint-url", moto["url"], "--kms-key-arn", moto["alias"],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    snapshot = json.loads(done.stdout)
    assert json.loads(snapshot["s3"]["buckets"][BUCKET]["policy"]) == DENY_ALICE
    # S3 Control answered (no `<account>.127.0.0.1` host): a real setting, not a marker
    assert "$unreadable" not in json.dumps(snapshot["s3"].get("account_public_access_block", {}))
    assert [u["UserName"] for u in snapshot["iam"]["UserDetailList"]] == ["cli-alice"]
    # the alias was resolved with kms:DescribeKey: the key is there by its ARN
    assert list(snapshot["kms"]["keys"]) == [moto["key_arn"]]


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--vpc-endpoint-id", "vpce-0a1b2c3d4e5f60718"),
        ("--access-point-arn", f"arn:aws:s3:{REGION}:{ACCOUNT}:accesspoint/no-such-point"),
        ("--kms-key-arn", "alias/no-such-alias"),
        ("--kms-key-arn", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{NO_KEY}"),
    ],
)  # fmt: skip
def test_collect_a_named_part_that_does_not_exist_exits_2_naming_it(
    moto: dict[str, str], flag: str, value: str
) -> None:
    done = s3doctor("collect", "--bucket", BUCKET, flag, value, "--out", "-",
                    AWS_ENDPOINT_URL=moto["url"])  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0] and value in lines[0]


def test_live_diagnose_with_aws_endpoint_url_alone(moto: dict[str, str]) -> None:
    done = s3doctor(
        "diagnose", "--resource-arn", f"arn:aws:s3:::{BUCKET}/data.csv",
        "--action", "s3:GetObject", "--requester-arn", ALICE, "--output", "json",
        AWS_ENDPOINT_URL=moto["url"],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    finding = json.loads(done.stdout)
    assert finding["decision"] == "explicit-deny"
    assert finding["blocked_by"] == ["bucket-policy"]


def test_live_diagnose_through_a_missing_vpc_endpoint_is_unchecked_not_full_access(
    moto: dict[str, str],
) -> None:
    done = s3doctor(
        "diagnose", "--resource-arn", f"arn:aws:s3:::{BUCKET}/data.csv",
        "--action", "s3:GetObject", "--requester-arn", ALICE, "--output", "json",
        "--vpc-endpoint-id", "vpce-0a1b2c3d4e5f60718", "--endpoint-url", moto["url"],
        "--query", "unchecked",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "vpc-endpoint" in json.dumps(json.loads(done.stdout))


# --------------------------------------------------------------------------- findings


def test_findings_list_reads_every_page_and_stops_at_max_items(
    findings_table: str,  # noqa: F811
) -> None:
    url = os.environ["AWS_ENDPOINT_URL"]
    every = [f.finding_id for f in FINDINGS]
    base = ("findings", "list", "--endpoint-url", url, "--table", findings_table)
    done = s3doctor(*base, "--page-size", "1", "--query", "findings[].finding_id")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == every  # one call per finding, all pages read

    first = s3doctor(*base, "--page-size", "1", "--max-items", "2", "--output", "json")
    page = json.loads(first.stdout)
    assert [f["finding_id"] for f in page["findings"]] == every[:2]
    assert page["next_token"]
    rest = s3doctor(*base, "--starting-token", page["next_token"], "--output", "json")
    assert [f["finding_id"] for f in json.loads(rest.stdout)["findings"]] == every[2:]

    table = s3doctor(*base, "--max-items", "1", "--color", "never")
    assert table.returncode == 0
    assert "--starting-token" in table.stdout.splitlines()[-1]


def test_findings_finds_its_table_from_the_stack_output_or_the_environment(
    findings_table: str,  # noqa: F811
) -> None:
    url = os.environ["AWS_ENDPOINT_URL"]
    stack = f"s3doctor-{uuid.uuid4().hex[:6]}"
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=url)
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"FindingsTableName": {"Value": findings_table}},
    }
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    query = ("--query", "length(findings)")
    by_stack = s3doctor("findings", "list", "--stack", stack, *query, AWS_ENDPOINT_URL=url)
    assert by_stack.returncode == 0, by_stack.stderr
    assert json.loads(by_stack.stdout) == len(FINDINGS)
    by_env = s3doctor(
        "findings", "list", *query, AWS_ENDPOINT_URL=url, FINDINGS_TABLE_NAME=findings_table
    )
    assert json.loads(by_env.stdout) == len(FINDINGS)
    nothing = s3doctor("findings", "list", AWS_ENDPOINT_URL=url)
    assert nothing.returncode == 2 and "--table" in nothing.stderr
    get = s3doctor(
        "findings", "get", FINDINGS[0].finding_id, "--endpoint-url", url, "--stack", stack,
        "--query", "finding_id",
    )  # fmt: skip
    assert json.loads(get.stdout) == FINDINGS[0].finding_id
