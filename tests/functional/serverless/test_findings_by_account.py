"""Issue 14.4: findings by account, on both stores (moto DynamoDB and the in-memory twin), in
the SNS attributes and in Security Hub."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import boto3
import pytest

from chalicelib.model import InputError
from chalicelib.publish.memory import InMemoryFindingStore
from chalicelib.publish.message import attributes
from chalicelib.publish.ports import FindingQuery, WriteOutcome, finding_account
from chalicelib.publish.securityhub import SecurityHubPublisher, product_arn
from chalicelib.publish.store import DynamoFindingStore, create_table
from tests.unit.publish.builders import build_finding

WINDOW_END = "2025-03-09T10:15:00Z"
MEMBER_A = "111111111111"
MEMBER_B = "222222222222"


@pytest.fixture(params=["memory", "dynamodb"])
def store(request, moto_env):
    if request.param == "memory":
        return InMemoryFindingStore()
    client = boto3.Session(region_name="us-east-1").client("dynamodb")
    table = f"by-account-{uuid.uuid4().hex[:8]}"
    create_table(client, table)
    return DynamoFindingStore(table, client)


def _in(account: str, finding_id: str, *, day: int, bucket: str = "reports", **fields):
    finding = build_finding(
        finding_id, bucket=bucket, first_seen=f"2025-03-0{day}T10:00:00Z", **fields
    )
    return replace(finding, request=replace(finding.request, bucket_account=account))


def _create(store, finding):
    outcome = store.create(
        finding, event_key=finding.finding_id, aggregate_keys=(), window_end=WINDOW_END
    )
    assert outcome is WriteOutcome.WRITTEN


def _ids(page):
    return [f.finding_id for f in page.findings]


def test_the_account_is_the_buckets_else_the_requesters_else_the_extension():
    finding = _in(MEMBER_A, "a", day=1)
    assert finding_account(finding) == MEMBER_A
    requester_only = replace(finding, request=replace(finding.request, bucket_account=None))
    assert finding_account(requester_only) == finding.request.principal.account_id
    assert finding_account(replace(finding, extra={"account": MEMBER_B})) == MEMBER_B


def test_list_by_account_newest_first_with_a_token_valid_for_that_listing(store):
    for finding in (
        _in(MEMBER_A, "a1", day=1),
        _in(MEMBER_B, "b1", day=2),
        _in(MEMBER_A, "a2", day=3),
        _in(MEMBER_A, "a3", day=4, bucket="other"),
    ):
        _create(store, finding)
    assert _ids(store.list(FindingQuery(account=MEMBER_A))) == ["a3", "a2", "a1"]
    assert _ids(store.list(FindingQuery(account=MEMBER_B))) == ["b1"]
    first = store.list(FindingQuery(account=MEMBER_A, limit=2))
    assert _ids(first) == ["a3", "a2"] and first.next_token
    rest = store.list(FindingQuery(account=MEMBER_A, limit=2, next_token=first.next_token))
    assert (_ids(rest), rest.next_token) == (["a1"], None)
    with pytest.raises(InputError) as error:  # another listing's token
        store.list(FindingQuery(bucket="reports", next_token=first.next_token))
    assert error.value.field_path == "next_token"
    # combined with the other filters, and since
    assert _ids(store.list(FindingQuery(account=MEMBER_A, bucket="reports"))) == ["a2", "a1"]
    assert _ids(store.list(FindingQuery(account=MEMBER_B, bucket="reports"))) == ["b1"]
    since = datetime(2025, 3, 3, tzinfo=UTC)
    assert _ids(store.list(FindingQuery(account=MEMBER_A, since=since))) == ["a3", "a2"]
    principal = "arn:aws:iam::111122223333:user/alice"
    assert _ids(store.list(FindingQuery(account=MEMBER_B, principal_arn=principal))) == ["b1"]


def test_a_bad_account_is_refused_naming_it(store):
    with pytest.raises(InputError) as error:
        store.list(FindingQuery(account="12345"))
    assert error.value.field_path == "account"


def test_the_sns_message_carries_the_account():
    tags = attributes(_in(MEMBER_A, "a1", day=1))
    assert tags["account"] == {"DataType": "String", "StringValue": MEMBER_A}


def test_security_hub_imports_a_members_finding_as_the_central_accounts(moto_env):
    """With the default product, Security Hub accepts a finding only from the account its
    AwsAccountId names (BatchImportFindings API reference): the central account imports the
    member's denial as its own, naming the member in ProductFields and the description."""
    client = boto3.Session(region_name="us-east-1").client("securityhub")
    central = boto3.Session(region_name="us-east-1").client("sts").get_caller_identity()
    publisher = SecurityHubPublisher(
        client,
        account_id=central["Account"],
        region="us-east-1",
        clock=lambda: datetime(2025, 3, 2, tzinfo=UTC),
    )
    finding_id = f"a-{uuid.uuid4().hex}"
    asff = publisher.publish(_in(MEMBER_A, finding_id, day=1))

    [imported] = [f for f in client.get_findings()["Findings"] if f["Id"] == asff]
    assert imported["AwsAccountId"] == central["Account"] != MEMBER_A
    assert imported["ProductArn"] == product_arn("us-east-1", central["Account"])
    assert imported["ProductFields"]["s3doctor/Account"] == MEMBER_A
    assert f"in account {MEMBER_A}" in imported["Description"]
