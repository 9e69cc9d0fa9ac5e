"""The runbook's inputs (DESIGN 3.1) → AccessRequest, with one clear error per bad field."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.events.operations import lookup, operations_for
from chalicelib.model import InputError, PrincipalType
from chalicelib.request import _TEMPLATES, REQUEST_SCHEMA, request_from_runbook

ACCT = "111122223333"


def _request(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "requester_arn": f"arn:aws:iam::{ACCT}:user/alice",
        "action": "s3:GetObject",
        "resource_arn": "arn:aws:s3:::acme-reports/q1/report.csv",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def _context(request: Any) -> dict[str, tuple[tuple[str, ...], str]]:
    return {entry.name: (entry.values, entry.source) for entry in request.context}


@pytest.mark.parametrize(
    ("requester_arn", "session_name", "kind", "requester", "principal", "derived"),
    [
        (
            f"arn:aws:iam::{ACCT}:user/team/alice",
            None,
            PrincipalType.IAM_USER,
            f"arn:aws:iam::{ACCT}:user/team/alice",
            f"arn:aws:iam::{ACCT}:user/team/alice",
            {"aws:PrincipalType": ("User",), "aws:username": ("alice",)},
        ),
        (
            f"arn:aws:iam::{ACCT}:role/service-role/etl",
            None,
            PrincipalType.ROLE,
            f"arn:aws:iam::{ACCT}:role/service-role/etl",
            f"arn:aws:iam::{ACCT}:role/service-role/etl",
            {"aws:PrincipalType": ("AssumedRole",)},
        ),
        (
            f"arn:aws:iam::{ACCT}:role/service-role/etl",
            "run-42",
            PrincipalType.ASSUMED_ROLE,
            f"arn:aws:sts::{ACCT}:assumed-role/etl/run-42",
            f"arn:aws:iam::{ACCT}:role/service-role/etl",
            {"aws:PrincipalArn": (f"arn:aws:iam::{ACCT}:role/service-role/etl",)},
        ),
        (
            f"arn:aws:sts::{ACCT}:assumed-role/etl/run-42",
            None,
            PrincipalType.ASSUMED_ROLE,
            f"arn:aws:sts::{ACCT}:assumed-role/etl/run-42",
            f"arn:aws:iam::{ACCT}:role/etl",
            {"aws:PrincipalArn": (f"arn:aws:iam::{ACCT}:role/etl",)},
        ),
        (
            f"arn:aws:sts::{ACCT}:federated-user/bob",
            None,
            PrincipalType.FEDERATED_USER,
            f"arn:aws:sts::{ACCT}:federated-user/bob",
            f"arn:aws:sts::{ACCT}:federated-user/bob",
            {"aws:userid": (f"{ACCT}:bob",), "aws:PrincipalType": ("FederatedUser",)},
        ),
        (
            f"arn:aws:iam::{ACCT}:root",
            None,
            PrincipalType.ROOT,
            f"arn:aws:iam::{ACCT}:root",
            f"arn:aws:iam::{ACCT}:root",
            {"aws:userid": (ACCT,), "aws:PrincipalType": ("Account",)},
        ),
    ],
)
def test_principal_and_its_keys_are_derived_from_the_requester_arn(
    requester_arn: str,
    session_name: str | None,
    kind: PrincipalType,
    requester: str,
    principal: str,
    derived: dict[str, tuple[str, ...]],
) -> None:
    request = request_from_runbook(_request(requester_arn=requester_arn, session_name=session_name))

    assert request.principal.type is kind
    assert request.principal.requester_arn == requester
    assert request.principal.principal_arn == principal
    keys = _context(request)
    assert keys["aws:PrincipalAccount"] == ((ACCT,), "derived:requester_arn")
    for name, values in derived.items():
        assert keys[name] == (values, "derived:requester_arn")


def test_role_session_arn_warns_that_the_role_path_is_unknown() -> None:
    request = request_from_runbook(
        _request(requester_arn=f"arn:aws:sts::{ACCT}:assumed-role/etl/run-42")
    )

    assert any("role path" in note for note in request.notes)


def test_explicit_context_entries_win_over_derived_ones() -> None:
    given = f"arn:aws:iam::{ACCT}:user/someone-else"
    request = request_from_runbook(
        _request(
            context=[
                {
                    "ContextKeyName": "aws:principalarn",
                    "ContextKeyValues": [given],
                    "ContextKeyType": "string",
                },
                {
                    "ContextKeyName": "aws:SourceIp",
                    "ContextKeyValues": ["10.1.2.3"],
                    "ContextKeyType": "ip",
                },
            ]
        )
    )

    assert request.context_value("aws:PrincipalArn") == (given,)
    assert request.context_value("aws:SourceIp") == ("10.1.2.3",)
    assert len([e for e in request.context if e.name.lower() == "aws:principalarn"]) == 1


@pytest.mark.parametrize(
    ("action", "versioned"),
    [
        ("s3:GetObject", "s3:GetObjectVersion"),
        ("s3:DeleteObject", "s3:DeleteObjectVersion"),
        ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
        ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    ],
)
def test_version_id_turns_the_action_into_its_version_form(action: str, versioned: str) -> None:
    request = request_from_runbook(_request(action=action, version_id="v1"))

    assert request.action == versioned
    assert request.operations[0].version_id == "v1"
    assert request.context_value("s3:VersionId") == ("v1",)


@pytest.mark.parametrize(
    ("action", "version_id", "call"),
    [
        ("s3:GetObjectAttributes", None, "GetObjectAttributes"),
        ("s3:GetObjectAttributes", "v1", "GetObjectAttributes"),
        ("s3:GetObjectVersionAttributes", "v1", "GetObjectAttributes"),
        ("s3:UpdateObjectEncryption", None, "UpdateObjectEncryption"),
    ],
)
def test_an_action_one_call_alone_needs_gets_the_operations_of_its_event(
    action: str, version_id: str | None, call: str
) -> None:
    """GetObjectAttributes needs s3:GetObject and s3:GetObjectAttributes (with a version id,
    s3:GetObjectVersion and s3:GetObjectVersionAttributes): its API reference. A runbook
    request naming the attributes action was judged on it alone."""
    request = request_from_runbook(_request(action=action, version_id=version_id))

    spec = lookup(call)
    assert spec is not None
    bucket, key = "acme-reports", "q1/report.csv"
    event, _ = operations_for(spec, bucket=bucket, key=key, version_id=version_id, params={})
    assert request.operations == event
    assert len(request.operations) == 2
    assert f"S3 authorises {call} as " in " ".join(request.notes)


def test_the_version_attributes_action_without_a_version_id_keeps_its_version_form() -> None:
    request = request_from_runbook(_request(action="s3:GetObjectVersionAttributes"))

    actions = [op.action for op in request.operations]
    assert actions == ["s3:GetObjectVersion", "s3:GetObjectVersionAttributes"]
    assert request.operations[0].kms_actions == ("kms:Decrypt",)


def test_object_read_carries_its_kms_leg_and_key() -> None:
    key = "arn:aws:kms:us-east-1:111122223333:key/1234"
    request = request_from_runbook(_request(kms_key_arn=key))

    assert request.kms_key_arn == key
    assert request.operations[0].kms_actions == ("kms:Decrypt",)


def test_vpc_endpoint_gives_source_vpce() -> None:
    request = request_from_runbook(_request(vpc_endpoint_id="vpce-0abc123"))

    assert request.vpc_endpoint_id == "vpce-0abc123"
    assert request.context_value("aws:SourceVpce") == ("vpce-0abc123",)


def test_policies_given_as_json_text_are_read() -> None:
    policy = '{"Version": "2012-10-17", "Statement": []}'
    request = request_from_runbook(_request(session_policy=policy, scp_policies=[policy]))

    assert request.session_policy == {"Version": "2012-10-17", "Statement": []}
    assert request.scp_policies == ({"Version": "2012-10-17", "Statement": []},)


def test_bucket_action_on_a_bucket_and_account_action_on_star() -> None:
    listing = request_from_runbook(
        _request(action="s3:ListBucket", resource_arn="arn:aws:s3:::acme-reports")
    )
    buckets = request_from_runbook(_request(action="s3:ListAllMyBuckets", resource_arn="*"))

    assert (listing.bucket, listing.key) == ("acme-reports", None)
    assert buckets.resource_arn == "*"


@pytest.mark.parametrize(
    ("action", "resource_arn", "version_id", "checked"),
    [
        ("s3:GetObjectAnnotation", "arn:aws:s3:::acme-reports/q1/report.csv", None, None),
        (
            "s3:PutObjectAnnotation",
            "arn:aws:s3:::acme-reports/q1/report.csv",
            "v1",
            "s3:PutObjectVersionAnnotation",
        ),
        ("s3:ListObjectVersionAnnotations", "arn:aws:s3:::acme-reports/q1/report.csv", "v1", None),
        ("s3:GetBucketAbac", "arn:aws:s3:::acme-reports", None, None),
        (
            "s3:UpdateBucketMetadataAnnotationTableConfiguration",
            "arn:aws:s3:::acme-reports",
            None,
            None,
        ),
    ],
)
def test_actions_of_newer_s3_apis_are_checked_on_their_resource_form(
    action: str, resource_arn: str, version_id: str | None, checked: str | None
) -> None:
    """Object annotations were refused as "not an S3 action" and ABAC or S3 Metadata actions
    taken on any ARN ("not in the operation table"): the table now gives their resource."""
    request = request_from_runbook(
        _request(action=action, resource_arn=resource_arn, version_id=version_id)
    )

    assert request.action == (checked or action)
    assert request.resource_arn == resource_arn
    assert not any("not in the operation table" in note for note in request.notes)


@pytest.mark.parametrize(
    ("action", "resource_arn", "words"),
    [
        ("s3:GetObjectAnnotation", "arn:aws:s3:::acme-reports", "acts on objects"),
        ("s3:PutBucketAbac", "arn:aws:s3:::acme-reports/q1/report.csv", "acts on a bucket"),
        ("s3:GetPublicAccessBlock", "arn:aws:s3:::acme-reports", "s3:GetBucketPublicAccessBlock"),
        (
            "s3:CreateBucketMetadataConfiguration",
            "arn:aws:s3:::acme-reports",
            "s3:CreateBucketMetadataTableConfiguration",
        ),
    ],
)
def test_newer_s3_apis_on_the_wrong_resource_or_by_api_name_are_bad_input(
    action: str, resource_arn: str, words: str
) -> None:
    with pytest.raises(InputError) as raised:
        request_from_runbook(_request(action=action, resource_arn=resource_arn))

    assert raised.value.field_path in ("action", "resource_arn")
    assert words in str(raised.value)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"requester_arn": ...}, "requester_arn", "required"),
        ({"requester_arn": "alice"}, "requester_arn", "IAM or STS ARN"),
        ({"requester_arn": f"arn:aws:iam::{ACCT}:group/admins"}, "requester_arn", "not a user"),
        ({"action": "GetObject"}, "action", "IAM action"),
        ({"action": "s3:ListObjectsV2"}, "action", "s3:ListBucket"),
        ({"action": "s3:HeadObject"}, "action", "s3:GetObject"),
        ({"action": "kms:Decrypt"}, "action", "only S3"),
        ({"resource_arn": "acme-reports/key"}, "resource_arn", "not an S3"),
        ({"resource_arn": "arn:aws:s3:::acme-reports"}, "resource_arn", "acts on objects"),
        (
            {"action": "s3:ListBucket", "resource_arn": "arn:aws:s3:::b/k"},
            "resource_arn",
            "acts on a bucket",
        ),
        ({"kms_key_arn": "1234"}, "kms_key_arn", "KMS key ARN"),
        ({"vpc_endpoint_id": "vpc-123"}, "vpc_endpoint_id", "vpce-"),
        ({"extra": 1}, "extra", "unknown field"),
        ({"context": [{"ContextKeyName": "aws:SourceIp"}]}, "context[0].ContextKeyValues", ""),
        (
            {
                "context": [
                    {
                        "ContextKeyName": "aws:SourceIp",
                        "ContextKeyValues": ["x"],
                        "ContextKeyType": "ipaddress",
                    }
                ]
            },
            "context[0].ContextKeyType",
            "is not one of",
        ),
        (
            {
                "context": [
                    {
                        "ContextKeyName": "aws:SourceIp",
                        "ContextKeyValues": ["not-an-ip"],
                        "ContextKeyType": "ip",
                    }
                ]
            },
            "context[0].ContextKeyValues",
            "IP address",
        ),
        (
            {
                "context": [
                    {
                        "ContextKeyName": "aws:MultiFactorAuthPresent",
                        "ContextKeyValues": ["yes"],
                        "ContextKeyType": "boolean",
                    }
                ]
            },
            "context[0].ContextKeyValues",
            "boolean",
        ),
        (
            {
                "context": [
                    {
                        "ContextKeyName": "s3:max-keys",
                        "ContextKeyValues": ["1", "2"],
                        "ContextKeyType": "numeric",
                    }
                ]
            },
            "context[0].ContextKeyValues",
            "numericList",
        ),
        ({"session_policy": "{not json"}, "session_policy", "not valid JSON"),
        (
            {
                "session_policy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:*",
                            "NotAction": "s3:Get*",
                            "Resource": "*",
                        }
                    ],
                }
            },
            "session_policy",
            "a policy IAM would refuse: Action",
        ),
        (
            {
                "scp_policies": [
                    '{"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", '
                    '"Condition": "x"}]}'
                ]
            },
            "scp_policies[0]",
            "a policy IAM would refuse: Condition",
        ),
        ({"resource": "arn:aws:s3:::b/k"}, "resource", "unknown field; expected action, "),
        ({"a\u001b[2J": 1}, '"a\\u001b[2J"', "unknown field"),
        (
            {
                "context": [
                    {
                        "ContextKeyName": "aws:SourceIp",
                        "ContextKeyValues": ["192.0.2.1"],
                        "ContextKeyType": "ip",
                        "ContextKeyTyp": "ip",
                    }
                ]
            },
            "context[0].ContextKeyTyp",
            "expected ContextKeyName, ContextKeyType, ContextKeyValues",
        ),
        ({"scp_policies": ["[1]"]}, "scp_policies[0]", "policy document"),
        (
            {"requester_arn": f"arn:aws:sts::{ACCT}:assumed-role/etl/a", "session_name": "b"},
            "session_name",
            "differs",
        ),
    ],
)
@pytest.mark.parametrize("seen", [False, True], ids=["first-of-its-kind", "after-a-good-one"])
def test_bad_input_names_the_field(
    changes: dict[str, Any], field: str, words: str, seen: bool
) -> None:
    _TEMPLATES.clear()
    if seen:  # a batch line after a good one: the bad part may be all that differs
        request_from_runbook(_request())
    with pytest.raises(InputError) as raised:
        request_from_runbook(_request(**changes))

    assert raised.value.field_path == field
    assert words in raised.value.message


def test_schema_documents_every_runbook_field() -> None:
    assert set(REQUEST_SCHEMA["properties"]) == {
        "requester_arn",
        "action",
        "resource_arn",
        "session_name",
        "version_id",
        "kms_key_arn",
        "vpc_endpoint_id",
        "context",
        "session_policy",
        "scp_policies",
    }


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(
        [
            f"arn:aws:iam::{ACCT}:user/alice",
            f"arn:aws:sts::{ACCT}:assumed-role/r/s",
            "arn:aws:s3:::b/k",
            "s3:GetObject",
            "*",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=16), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"version_id": "v1"},
        {"vpc_endpoint_id": "vpce-0abc123", "kms_key_arn": f"arn:aws:kms:us-east-1:{ACCT}:key/k"},
        {
            "context": [
                {
                    "ContextKeyName": "aws:PrincipalArn",
                    "ContextKeyValues": [f"arn:aws:iam::{ACCT}:user/other"],
                    "ContextKeyType": "string",
                },
                {
                    "ContextKeyName": "s3:VersionId",
                    "ContextKeyValues": ["v9"],
                    "ContextKeyType": "string",
                },
            ],
            "version_id": "v1",
        },
        {
            "action": "s3:ListBucket",
            "resource_arn": "arn:aws:s3:::acme-reports",
            "version_id": "v1",
        },
    ],
)
def test_a_line_like_an_earlier_one_gives_the_same_request(changes: dict[str, Any]) -> None:
    _TEMPLATES.clear()
    first = request_from_runbook(_request(**changes))
    again = request_from_runbook(_request(**changes))
    assert again == first
    other = dict(_request(**changes), resource_arn="arn:aws:s3:::acme-reports/q2/other.csv")
    if "ListBucket" not in str(changes):
        assert request_from_runbook(other).resource_arn == other["resource_arn"]


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(sorted(REQUEST_SCHEMA["properties"])), _VALUES))
def test_any_document_gives_a_request_or_an_input_error(changes: dict[str, Any]) -> None:
    request_from_runbook(_request())  # so the document may also meet a known template
    try:
        request = request_from_runbook(_request(**changes))
    except InputError as error:
        assert error.field_path
        return
    assert request.operations


@pytest.mark.parametrize(
    ("field", "where"),
    [("vpc_endpoint_id", "vpc_endpoint_id"), ("context", "context[0].ContextKeyName")],
)
def test_a_value_ending_with_a_newline_is_refused_on_every_path(field: str, where: str) -> None:
    """`$` of a pattern is the end of the text: "vpce-1a\\n" breaks `^vpce-[0-9a-f]+$`. The
    field-naming check reads `$` before a final newline and found no fault, so such a request
    was built; it is refused, by the request builder and by the batch's verdict path alike."""
    from bench.engine_fixture import snapshot
    from chalicelib.runbook_verdicts import decide_runbook
    from chalicelib.snapshot import load_snapshot

    value: Any = "vpce-1a\n"
    if field == "context":
        entry = {"ContextKeyName": "aws:SourceIp\n", "ContextKeyValues": ["10.0.0.1"]}
        value = [{**entry, "ContextKeyType": "ip"}]
    loaded = load_snapshot(snapshot())
    for build in (request_from_runbook, lambda doc: decide_runbook(doc, loaded)):
        for _ in range(3):  # the first line of a template, then lines that meet it
            with pytest.raises(InputError) as refused:
                build(_request(**{field: value}))
            assert str(refused.value).startswith(f"{where}: must match pattern")
