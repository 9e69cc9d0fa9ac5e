"""Policy documents: parsing like IAM, statement matching, and element-by-element explanations.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.engine.context import RequestContext
from chalicelib.engine.policy import PolicyKind, compile_policy
from chalicelib.engine.principals import identity_for
from chalicelib.model import MalformedPolicyError, Principal, PrincipalType

ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/app/Reader"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Reader/job"
READER = identity_for(
    Principal(
        type=PrincipalType.ASSUMED_ROLE,
        requester_arn=SESSION,
        principal_arn=ROLE,
        account_id=ACCT,
    )
)
EMPTY = RequestContext({})

BUCKET_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecure",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "ReadBucketOnly",
            "Effect": "Allow",
            "Principal": {"AWS": ROLE},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": "arn:aws:s3:::b",
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/Reader"},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b/*",
        },
    ],
}


def bucket_policy(document: Any = None) -> Any:
    return compile_policy(
        BUCKET_POLICY if document is None else document,
        policy_id="bucket-policy:b",
        kind=PolicyKind.RESOURCE,
    )


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize(
    "document",
    [
        BUCKET_POLICY,
        json.dumps(BUCKET_POLICY),
        json.dumps(BUCKET_POLICY).encode(),
        quote(json.dumps(BUCKET_POLICY)),  # IAM GetPolicyVersion returns URL-encoded JSON
    ],
    ids=["dict", "json", "bytes", "url-encoded"],
)
def test_documents_are_accepted_in_every_form_the_apis_return(document: Any) -> None:
    policy = bucket_policy(document)
    assert [s.sid for s in policy.statements] == ["DenyInsecure", "ReadBucketOnly", None]
    assert policy.raw["Version"] == "2012-10-17"
    assert policy.version == "2012-10-17"


def test_single_statement_and_string_values() -> None:
    policy = compile_policy(
        {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}},
        policy_id="p",
        kind=PolicyKind.IDENTITY,
    )
    (statement,) = policy.statements
    assert statement.index == 0 and statement.effect == "Allow" and policy.version is None
    assert statement.principal_match(READER) is None  # identity policies name no principal


def test_statements_for_action_filters_and_is_memoised() -> None:
    policy = bucket_policy()
    first = policy.statements_for_action("s3:GetObject")
    assert [s.index for s in first] == [0, 1]
    assert policy.statements_for_action("S3:GETOBJECT") is first
    assert [s.index for s in policy.statements_for_action("s3:PutObject")] == [0, 2]
    assert [s.index for s in policy.statements_for_action("kms:Decrypt")] == []


def test_not_action_and_not_resource_invert_the_match() -> None:
    policy = compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Deny",
                "NotAction": "s3:Get*",
                "NotResource": "arn:aws:s3:::public/*",
            },
        },
        policy_id="p",
        kind=PolicyKind.SCP,
    )
    statement = policy.statements[0]
    assert statement.matches_action("s3:PutObject")
    assert not statement.matches_action("s3:GetObject")
    assert statement.matches_resource("arn:aws:s3:::private/k", EMPTY)
    assert not statement.matches_resource("arn:aws:s3:::public/k", EMPTY)


def test_applies_to_combines_every_element() -> None:
    deny = bucket_policy().statements[0]
    insecure = RequestContext({"aws:SecureTransport": ["false"]})
    secure = RequestContext({"aws:SecureTransport": ["true"]})
    assert deny.applies_to("s3:GetObject", "arn:aws:s3:::b/k", insecure, READER)
    assert not deny.applies_to("s3:GetObject", "arn:aws:s3:::b/k", secure, READER)
    assert not deny.applies_to("s3:GetObject", "arn:aws:s3:::other/k", insecure, READER)


# --------------------------------------------------------------------------- malformed


def _statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    ("document", "kind", "element"),
    [
        ("{not json", PolicyKind.IDENTITY, "Document"),
        ("[1, 2]", PolicyKind.IDENTITY, "Document"),
        (42, PolicyKind.IDENTITY, "Document"),
        ({"Version": "2012-10-17"}, PolicyKind.IDENTITY, "Statement"),
        ({"Version": "2020-01-01", "Statement": []}, PolicyKind.IDENTITY, "Version"),
        ({"Statement": "x"}, PolicyKind.IDENTITY, "Statement"),
        ({"Statement": ["x"]}, PolicyKind.IDENTITY, "Statement"),
        ({"Statement": [], "Extra": 1}, PolicyKind.IDENTITY, "Extra"),
        ({"Statement": [_statement(Effect="allow")]}, PolicyKind.IDENTITY, "Effect"),
        ({"Statement": [_statement(Effect=None)]}, PolicyKind.IDENTITY, "Effect"),
        ({"Statement": [_statement(NotAction="s3:*")]}, PolicyKind.IDENTITY, "Action"),
        ({"Statement": [_statement(Action=None)]}, PolicyKind.IDENTITY, "Action"),
        ({"Statement": [_statement(Action="GetObject")]}, PolicyKind.IDENTITY, "Action"),
        ({"Statement": [_statement(Action=[])]}, PolicyKind.IDENTITY, "Action"),
        ({"Statement": [_statement(Action=["s3:GetObject", 7])]}, PolicyKind.IDENTITY, "Action"),
        ({"Statement": [_statement(Resource=None)]}, PolicyKind.IDENTITY, "Resource"),
        ({"Statement": [_statement(NotResource="*")]}, PolicyKind.IDENTITY, "Resource"),
        ({"Statement": [_statement(Sid=5)]}, PolicyKind.IDENTITY, "Sid"),
        ({"Statement": [_statement(Principal="*")]}, PolicyKind.IDENTITY, "Principal"),
        ({"Statement": [_statement(Principal="*")]}, PolicyKind.BOUNDARY, "Principal"),
        ({"Statement": [_statement(NotPrincipal="*")]}, PolicyKind.SCP, "NotPrincipal"),
        ({"Statement": [_statement()]}, PolicyKind.RESOURCE, "Principal"),
        ({"Statement": [_statement()]}, PolicyKind.KEY_POLICY, "Principal"),
        ({"Statement": [_statement(Principal={"AWS": "x"})]}, PolicyKind.RESOURCE, "Principal"),
        (
            {"Statement": [_statement(Principal="*", NotPrincipal="*")]},
            PolicyKind.RESOURCE,
            "Principal",
        ),
        (
            {"Statement": [_statement(Condition={"Nope": {"k": "v"}})]},
            PolicyKind.IDENTITY,
            "Condition",
        ),
        ({"Statement": [_statement(Actions="s3:*")]}, PolicyKind.IDENTITY, "Actions"),
    ],
)
def test_malformed_documents_name_the_element(
    document: Any, kind: PolicyKind, element: str
) -> None:
    with pytest.raises(MalformedPolicyError) as info:
        compile_policy(document, policy_id="pol", kind=kind)
    assert info.value.element == element
    assert info.value.policy_id == "pol"


# --------------------------------------------------------------------------- explanations


def test_explain_reports_a_bucket_arn_used_for_an_object_action() -> None:
    # GIVEN the role is granted s3:GetObject on the bucket ARN only
    statement = bucket_policy().statements[1]
    # WHEN an object read is explained
    explanation = statement.explain("s3:GetObject", "arn:aws:s3:::b/report.csv", READER, EMPTY)
    # THEN only Resource fails, with the near-miss hint
    assert not explanation.applies
    assert [c.element for c in explanation.failed] == ["Resource"]
    assert explanation.failed[0].hint == "Resource arn:aws:s3:::b lacks /* for object actions"


def test_explain_reports_a_role_arn_without_its_path() -> None:
    statement = bucket_policy().statements[2]
    explanation = statement.explain("s3:PutObject", "arn:aws:s3:::b/k", READER, EMPTY)
    (failed,) = explanation.failed
    assert failed.element == "Principal"
    assert failed.hint is not None and "lacks the role path" in failed.hint


def test_explain_reports_the_failed_condition_with_both_sides() -> None:
    statement = bucket_policy().statements[0]
    ctx = RequestContext({"aws:SecureTransport": ["true"]})
    explanation = statement.explain("s3:GetObject", "arn:aws:s3:::b/k", READER, ctx)
    (failed,) = explanation.failed
    assert failed.element == "Condition"
    assert failed.reason == "aws:SecureTransport Bool expected ['false'], actual ['true']"
    assert explanation.condition_failures[0].actual == ("true",)


def test_explain_of_an_applying_statement_has_no_failures() -> None:
    statement = bucket_policy().statements[0]
    ctx = RequestContext({"aws:SecureTransport": ["false"]})
    explanation = statement.explain("s3:GetObject", "arn:aws:s3:::b/k", READER, ctx)
    assert explanation.applies and explanation.failed == ()
    assert [c.element for c in explanation.checks] == [
        "Action",
        "Resource",
        "Principal",
        "Condition",
    ]
    assert (explanation.policy_id, explanation.index, explanation.sid, explanation.effect) == (
        "bucket-policy:b",
        0,
        "DenyInsecure",
        "Deny",
    )


def test_explain_reports_an_object_pattern_used_for_a_bucket_action() -> None:
    statement = bucket_policy().statements[2]
    explanation = statement.explain("s3:PutObject", "arn:aws:s3:::b", READER, EMPTY)
    resource = next(c for c in explanation.failed if c.element == "Resource")
    assert resource.hint is not None and "not the bucket" in resource.hint


def test_explain_reports_a_missing_variable() -> None:
    policy = compile_policy(
        {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/home/${aws:username}/*",
            },
        },
        policy_id="p",
        kind=PolicyKind.IDENTITY,
    )
    explanation = policy.statements[0].explain(
        "s3:GetObject", "arn:aws:s3:::b/home/x/y", None, EMPTY
    )
    (failed,) = explanation.failed
    assert failed.hint is not None and "aws:username" in failed.hint
