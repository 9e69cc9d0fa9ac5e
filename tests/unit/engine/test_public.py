"""Block Public Access: settings, "the meaning of public" for policies, and the four checks.

Cases derived from https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html
("The meaning of public", "Access points", the RestrictPublicBuckets walk-through) and the
project spec §3.4.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.engine.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    Acl,
    AclGrant,
    Permission,
    canonical_user,
    group,
)
from chalicelib.engine.public import (
    BpaLevel,
    BpaLevels,
    BpaSetting,
    BpaVerdict,
    PublicAccessBlock,
    check_block_public_acls,
    check_block_public_policy,
    check_ignore_public_acls,
    check_restrict_public_buckets,
    effective_block,
    parse_public_access_block,
    policy_is_public,
)
from chalicelib.model import InputError

OWNER_ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
OWNER_ID = "owner-canonical-id"


def _allow(principal: Any = "*", condition: dict[str, Any] | None = None, **extra: Any) -> Any:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
    }
    if condition is not None:
        statement["Condition"] = condition
    statement.update(extra)
    return statement


def _policy(*statements: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _is_public(*statements: Any, **kwargs: Any) -> bool:
    return policy_is_public(_policy(*statements), **kwargs).is_public


# --------------------------------------------------------------------------- settings


def test_parse_public_access_block_reads_flags_and_defaults_missing_ones_to_false() -> None:
    block = parse_public_access_block({"BlockPublicAcls": True, "RestrictPublicBuckets": True})
    assert block == PublicAccessBlock(block_public_acls=True, restrict_public_buckets=True)
    wrapped = parse_public_access_block(
        {"PublicAccessBlockConfiguration": {"IgnorePublicAcls": True}}
    )
    assert wrapped == PublicAccessBlock(ignore_public_acls=True)
    assert parse_public_access_block(None) is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param({"BlockPublicAcls": "true"}, "pab.BlockPublicAcls", id="string-flag"),
        pytest.param({"BlockPublicAccess": True}, "pab.BlockPublicAccess", id="unknown-flag"),
        pytest.param([], "pab", id="not-an-object"),
        pytest.param(
            {"PublicAccessBlockConfiguration": {"IgnorePublicAcls": 1}},
            "pab.PublicAccessBlockConfiguration.IgnorePublicAcls",
            id="wrapped-number",
        ),
    ],
)
def test_parse_public_access_block_malformed_names_the_field(data: Any, field: str) -> None:
    with pytest.raises(InputError) as error:
        parse_public_access_block(data, field="pab")
    assert error.value.field_path == field


def test_effective_block_is_the_most_restrictive_combination() -> None:
    account = PublicAccessBlock(block_public_acls=True)
    bucket = PublicAccessBlock(block_public_policy=True)
    access_point = PublicAccessBlock(restrict_public_buckets=True)
    assert effective_block(account, bucket, access_point) == PublicAccessBlock(
        block_public_acls=True, block_public_policy=True, restrict_public_buckets=True
    )
    assert effective_block(None, None, None) == PublicAccessBlock()
    # a level that turns a setting off cannot undo another level turning it on
    assert effective_block(
        PublicAccessBlock(ignore_public_acls=True), PublicAccessBlock(), None
    ).ignore_public_acls


def test_bpa_levels_say_which_level_set_a_setting() -> None:
    on = PublicAccessBlock(block_public_policy=True)
    levels = BpaLevels(account=on, bucket=PublicAccessBlock(), access_point=on)
    assert levels.set_at(BpaSetting.BLOCK_PUBLIC_POLICY) == (
        BpaLevel.ACCOUNT,
        BpaLevel.ACCESS_POINT,
    )
    assert levels.set_at(BpaSetting.BLOCK_PUBLIC_ACLS) == ()


# --------------------------------------------------------------------------- policy_is_public

DOC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"
)


@pytest.mark.parametrize(
    ("principal", "public"),
    [
        pytest.param("*", True, id="star"),
        pytest.param({"AWS": "*"}, True, id="aws-star"),
        pytest.param({"AWS": ["arn:aws:iam::444455556666:root", "*"]}, True, id="list-with-star"),
        pytest.param({"AWS": "arn:aws:iam::111122223333:role/JohnDoe"}, False, id="doc-role"),
        pytest.param({"AWS": "444455556666"}, False, id="account-id"),
        pytest.param({"CanonicalUser": "79a59df900b949e55d96a1e698fbace"}, False, id="canonical"),
        pytest.param({"Service": "cloudtrail.amazonaws.com"}, False, id="service-principal"),
        pytest.param({"Federated": "graph.facebook.com"}, True, id="doc-federated-facebook"),
        pytest.param(
            {"AWS": "arn:aws:iam::111122223333:user/${aws:username}"}, True, id="variable"
        ),
    ],
)
def test_policy_principal_publicness(principal: Any, public: bool) -> None:
    assert _is_public(_allow(principal)) is public


def test_allow_with_not_principal_is_public() -> None:
    statement = _allow()
    del statement["Principal"]
    statement["NotPrincipal"] = {"AWS": "arn:aws:iam::111122223333:root"}
    assert _is_public(statement)


@pytest.mark.parametrize(
    ("cidrs", "public"),
    [
        pytest.param("192.168.1.1/32", False, id="doc-example-32"),
        pytest.param("203.0.113.0/24", False, id="public-24"),
        pytest.param("12.0.0.0/8", False, id="public-8-is-the-limit"),
        pytest.param("12.0.0.0/7", True, id="public-7"),
        pytest.param("0.0.0.0/1", True, id="doc-broad-0-1"),
        pytest.param("0.0.0.0/0", True, id="everyone"),
        pytest.param("10.0.0.0/8", False, id="rfc1918-10"),
        pytest.param("172.16.0.0/12", False, id="rfc1918-172"),
        pytest.param("192.168.0.0/16", False, id="rfc1918-192"),
        pytest.param("203.0.113.7", False, id="single-address"),
        pytest.param("2001:db8::/32", False, id="ipv6-32"),
        pytest.param("2001:db8::/31", True, id="ipv6-31"),
        pytest.param(["203.0.113.0/24", "0.0.0.0/1"], True, id="one-broad-range-in-list"),
        pytest.param("not-an-ip", True, id="unreadable-cidr"),
    ],
)
def test_source_ip_cidr_width(cidrs: Any, public: bool) -> None:
    assert _is_public(_allow(condition={"IpAddress": {"aws:SourceIp": cidrs}})) is public


def test_not_ip_address_never_limits_a_statement() -> None:
    assert _is_public(_allow(condition={"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))


FIXED_KEY_VALUES = [
    ("StringEquals", "aws:SourceVpc", "vpc-91237329"),  # the doc's own example
    ("ArnEquals", "aws:SourceArn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"),
    ("StringEquals", "aws:SourceVpce", "vpce-1a2b3c4d"),
    ("StringEquals", "aws:SourceOwner", "111122223333"),
    ("StringEquals", "aws:SourceAccount", "111122223333"),
    ("StringEquals", "aws:PrincipalOrgID", "o-exampleorgid"),
    ("StringEquals", "aws:PrincipalAccount", "111122223333"),
    (
        "StringEquals",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ),
    ("StringEquals", "aws:userid", "AIDAEXAMPLEUSERID"),
    ("StringLike", "aws:userid", "AROAEXAMPLEROLEID:*"),  # the "AROLEID:*" pattern
    ("StringEquals", "s3:DataAccessPointAccount", "111122223333"),
    ("ArnEquals", "s3:DataAccessPointArn", "arn:aws:s3:us-west-2:123456789012:accesspoint/ap"),
]


@pytest.mark.parametrize(
    ("operator", "key", "value"), [pytest.param(*row, id=row[1]) for row in FIXED_KEY_VALUES]
)
def test_fixed_value_of_each_listed_key_makes_star_non_public(
    operator: str, key: str, value: str
) -> None:
    assert not _is_public(_allow(condition={operator: {key: value}}))


@pytest.mark.parametrize(
    ("operator", "key", "value"), [pytest.param(*row, id=row[1]) for row in FIXED_KEY_VALUES]
)
def test_wildcard_or_variable_value_of_each_listed_key_stays_public(
    operator: str, key: str, value: str
) -> None:
    like = operator.replace("Equals", "Like")
    assert _is_public(_allow(condition={like: {key: "*"}}))
    assert _is_public(_allow(condition={operator: {key: "${aws:PrincipalTag/x}"}}))


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param({"StringLike": {"aws:SourceVpc": "vpc-*"}}, id="doc-vpc-wildcard"),
        pytest.param({"StringLike": {"aws:SourceVpce": "vpce-?abc"}}, id="question-mark"),
        pytest.param({"StringLike": {"aws:userid": "AIDA*"}}, id="userid-prefix"),
        pytest.param({"StringEquals": {"aws:username": "alice"}}, id="unlisted-key"),
        pytest.param({"Bool": {"aws:SecureTransport": "true"}}, id="secure-transport"),
        pytest.param({"StringNotEquals": {"aws:PrincipalOrgID": "o-x"}}, id="negated"),
        pytest.param({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}, id="if-exists"),
        pytest.param(
            {"ForAllValues:StringEquals": {"aws:SourceVpc": "vpc-1"}}, id="for-all-values"
        ),
        pytest.param({"Null": {"aws:SourceVpc": "false"}}, id="null-check"),
        pytest.param({"Bool": {"aws:PrincipalIsAWSService": False}}, id="not-a-service"),
    ],
)
def test_conditions_that_do_not_limit_to_fixed_values_stay_public(
    condition: dict[str, Any],
) -> None:
    assert _is_public(_allow(condition=condition))


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param(
            {"ForAnyValue:StringEquals": {"aws:SourceVpc": ["vpc-1", "vpc-2"]}}, id="for-any-value"
        ),
        pytest.param({"StringLike": {"aws:SourceVpc": "vpc-1"}}, id="like-without-wildcard"),
        pytest.param({"Bool": {"aws:PrincipalIsAWSService": True}}, id="service-only-json-bool"),
        pytest.param(
            {
                "Bool": {"aws:SecureTransport": "true"},
                "StringEquals": {"aws:PrincipalOrgID": "o-x"},
            },
            id="one-limiting-key-among-others",
        ),
        pytest.param(
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/app-*"}},
            id="principal-arn-fixed-account",
        ),
        pytest.param(
            {"StringLike": {"aws:PrincipalOrgPaths": "o-x/r-ab12/ou-ab12-11111111/*"}},
            id="org-path-fixed-org",
        ),
    ],
)
def test_conditions_that_limit_to_fixed_values_make_star_non_public(
    condition: dict[str, Any],
) -> None:
    assert not _is_public(_allow(condition=condition))


def test_principal_arn_with_wildcard_account_is_public() -> None:
    condition = {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app"}}
    assert _is_public(_allow(condition=condition))


def test_data_access_point_arn_wildcard_name_is_public_only_in_access_point_policies() -> None:
    # DOC: "allowing access to arn:aws:s3:us-west-2:123456789012:accesspoint/* … without
    # rendering the bucket policy public … this behavior is different for access point policies"
    condition = {
        "StringLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:123456789012:accesspoint/*"}
    }
    assert not _is_public(_allow(condition=condition))
    assert _is_public(_allow(condition=condition), on_access_point=True)
    any_account = {"StringLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:*:accesspoint/*"}}
    assert _is_public(_allow(condition=any_account))


def test_access_point_with_vpc_origin_is_never_public() -> None:
    assert not _is_public(_allow(), on_access_point=True, vpc_origin=True)


def test_deny_statements_never_make_a_policy_public() -> None:
    deny = {**_allow(), "Effect": "Deny"}
    verdict = policy_is_public(_policy(deny))
    assert not verdict.is_public
    assert verdict.statements == ()


def test_public_verdict_names_every_public_statement_by_index_and_sid() -> None:
    # GIVEN the doc's walk-through: a service, another account, and the public
    policy = _policy(
        _allow({"Service": "cloudtrail.amazonaws.com"}, Sid="CloudTrail"),
        _allow({"AWS": "arn:aws:iam::444455556666:root"}, Sid="Account2"),
        _allow("*", Sid="Everyone"),
        _allow({"AWS": "*"}),
    )
    verdict = policy_is_public(policy)
    assert verdict.is_public
    assert [(s.index, s.sid) for s in verdict.statements] == [(2, "Everyone"), (3, None)]
    assert verdict.reason.startswith("statement 2 (Everyone): ")


def test_policy_is_public_accepts_the_json_string_apis_return() -> None:
    assert policy_is_public(json.dumps(_policy(_allow()))).is_public
    single = {"Version": "2012-10-17", "Statement": _allow({"AWS": "444455556666"})}
    assert not policy_is_public(single).is_public


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        pytest.param("{not json", "p", id="not-json"),
        pytest.param("[]", "p", id="not-an-object"),
        pytest.param({"Statement": "x"}, "p.Statement", id="statement-not-list"),
        pytest.param({"Statement": ["x"]}, "p.Statement[0]", id="statement-not-object"),
        pytest.param(
            {"Statement": [{"Effect": "Allow", "Action": "s3:*"}]},
            "p.Statement[0].Principal",
            id="no-principal",
        ),
        pytest.param(
            {"Statement": [_allow(condition={"StringEquals": "x"})]},
            "p.Statement[0].Condition.StringEquals",
            id="condition-block-not-object",
        ),
        pytest.param(
            {"Statement": [_allow(principal=["*"])]}, "p.Statement[0].Principal", id="bad-principal"
        ),
    ],
)
def test_unreadable_policy_names_the_field(policy: Any, field: str) -> None:
    with pytest.raises(InputError) as error:
        policy_is_public(policy, field="p")
    assert error.value.field_path == field


# --------------------------------------------------------------------------- checks

ALL_ON = PublicAccessBlock(
    block_public_acls=True,
    ignore_public_acls=True,
    block_public_policy=True,
    restrict_public_buckets=True,
)
BUCKET_ON = BpaLevels(bucket=ALL_ON)
ALL_OFF = BpaLevels(account=PublicAccessBlock(), bucket=PublicAccessBlock())
ACCOUNT_UNREADABLE = BpaLevels(bucket=PublicAccessBlock(), unreadable=frozenset({BpaLevel.ACCOUNT}))


@pytest.mark.parametrize(
    "action", ["s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:PutBucketAcl"]
)
@pytest.mark.parametrize("canned", ["public-read", "public-read-write", "authenticated-read"])
def test_block_public_acls_denies_writes_carrying_a_public_canned_acl(
    action: str, canned: str
) -> None:
    check = check_block_public_acls(BUCKET_ON, action=action, canned_acl=canned)
    assert check is not None
    assert check.verdict is BpaVerdict.BLOCKED
    assert check.setting is BpaSetting.BLOCK_PUBLIC_ACLS
    assert check.levels == (BpaLevel.BUCKET,)
    assert f"x-amz-acl: {canned}" in check.reason


def test_block_public_acls_checks_grant_headers_and_body_acls() -> None:
    headers = {"x-amz-grant-read": f'uri="{ALL_USERS}"'}
    assert check_block_public_acls(BUCKET_ON, action="s3:PutObject", grant_headers=headers)
    body = Acl(
        owner_id=OWNER_ID,
        grants=(AclGrant(grantee=group(AUTHENTICATED_USERS), permission=Permission.READ),),
    )
    assert check_block_public_acls(BUCKET_ON, action="s3:PutBucketAcl", body_acl=body)


@pytest.mark.parametrize(
    ("levels", "action", "canned"),
    [
        pytest.param(BUCKET_ON, "s3:PutObject", "private", id="private-acl"),
        pytest.param(BUCKET_ON, "s3:PutObject", None, id="no-acl"),
        pytest.param(BUCKET_ON, "s3:GetObject", "public-read", id="not-a-write"),
        pytest.param(ALL_OFF, "s3:PutObject", "public-read", id="setting-off"),
    ],
)
def test_block_public_acls_does_not_apply(
    levels: BpaLevels, action: str, canned: str | None
) -> None:
    assert check_block_public_acls(levels, action=action, canned_acl=canned) is None


def test_block_public_acls_at_an_unreadable_level_is_unknown() -> None:
    check = check_block_public_acls(
        ACCOUNT_UNREADABLE, action="s3:PutObject", canned_acl="public-read"
    )
    assert check is not None
    assert check.verdict is BpaVerdict.UNKNOWN
    assert check.levels == (BpaLevel.ACCOUNT,)


@pytest.mark.parametrize("action", ["s3:PutBucketPolicy", "s3:PutAccessPointPolicy"])
def test_block_public_policy_denies_putting_a_public_policy(action: str) -> None:
    levels = BpaLevels(account=PublicAccessBlock(block_public_policy=True))
    check = check_block_public_policy(levels, action=action, policy=_policy(_allow(Sid="Pub")))
    assert check is not None
    assert check.verdict is BpaVerdict.BLOCKED
    assert check.levels == (BpaLevel.ACCOUNT,)
    assert check.statements == (0,)
    assert "root is not exempt" in check.reason


def test_block_public_policy_lets_non_public_policies_and_other_actions_through() -> None:
    fixed = _policy(_allow({"AWS": "arn:aws:iam::444455556666:root"}))
    assert check_block_public_policy(BUCKET_ON, action="s3:PutBucketPolicy", policy=fixed) is None
    assert (
        check_block_public_policy(ALL_OFF, action="s3:PutBucketPolicy", policy=_policy(_allow()))
        is None
    )
    assert (
        check_block_public_policy(BUCKET_ON, action="s3:GetObject", policy=_policy(_allow()))
        is None
    )


def test_block_public_policy_access_point_rules_apply_to_put_access_point_policy() -> None:
    condition = {
        "StringLike": {"s3:DataAccessPointArn": "arn:aws:s3:us-west-2:123456789012:accesspoint/*"}
    }
    policy = _policy(_allow(condition=condition))
    assert check_block_public_policy(BUCKET_ON, action="s3:PutBucketPolicy", policy=policy) is None
    assert check_block_public_policy(BUCKET_ON, action="s3:PutAccessPointPolicy", policy=policy)


def test_block_public_policy_without_the_new_policy_is_unknown() -> None:
    check = check_block_public_policy(BUCKET_ON, action="s3:PutBucketPolicy", policy=None)
    assert check is not None
    assert check.verdict is BpaVerdict.UNKNOWN


def _public_read_object_acl(*extra: AclGrant) -> Acl:
    return Acl(
        owner_id="writer-id",
        grants=(
            AclGrant(grantee=canonical_user("writer-id"), permission=Permission.FULL_CONTROL),
            AclGrant(grantee=group(ALL_USERS), permission=Permission.READ),
            *extra,
        ),
    )


def test_ignore_public_acls_reports_the_only_acl_grant_it_ignores() -> None:
    check = check_ignore_public_acls(
        BpaLevels(account=PublicAccessBlock(ignore_public_acls=True)),
        acl=_public_read_object_acl(),
        action="s3:GetObject",
        on_object=True,
        grantee_canonical_id=OWNER_ID,
        authenticated=True,
    )
    assert check is not None
    assert check.verdict is BpaVerdict.BLOCKED
    assert check.grants == (1,)
    assert check.levels == (BpaLevel.ACCOUNT,)


@pytest.mark.parametrize(
    ("levels", "acl"),
    [
        pytest.param(ALL_OFF, _public_read_object_acl(), id="setting-off"),
        pytest.param(
            BUCKET_ON,
            _public_read_object_acl(
                AclGrant(grantee=canonical_user(OWNER_ID), permission=Permission.READ)
            ),
            id="account-grant-still-applies",
        ),
        pytest.param(
            BUCKET_ON,
            Acl(
                owner_id=OWNER_ID,
                grants=(AclGrant(grantee=group(ALL_USERS), permission=Permission.READ_ACP),),
            ),
            id="public-grant-not-for-this-action",
        ),
    ],
)
def test_ignore_public_acls_does_not_apply(levels: BpaLevels, acl: Acl) -> None:
    check = check_ignore_public_acls(
        levels,
        acl=acl,
        action="s3:GetObject",
        on_object=True,
        grantee_canonical_id=OWNER_ID,
        authenticated=True,
    )
    assert check is None


PUBLIC_POLICY = _policy(
    _allow({"AWS": "arn:aws:iam::444455556666:root"}, Sid="Account2"),
    _allow("*", Sid="Everyone"),
)


@pytest.mark.parametrize(
    ("principal_account", "who"),
    [(OTHER_ACCOUNT, f"account {OTHER_ACCOUNT}"), (None, "anonymous")],
)
def test_restrict_public_buckets_blocks_other_accounts_even_through_non_public_statements(
    principal_account: str | None, who: str
) -> None:
    # DOC walk-through: "Even though statement 2 isn't public, Amazon S3 disables access by
    # Account-2"
    check = check_restrict_public_buckets(
        BUCKET_ON,
        policy=PUBLIC_POLICY,
        principal_account=principal_account,
        bucket_account=OWNER_ACCOUNT,
        granting_statements=[0],
    )
    assert check is not None
    assert check.verdict is BpaVerdict.BLOCKED
    assert check.statements == (1,)
    assert who in check.reason


def test_restrict_public_buckets_keeps_service_principals() -> None:
    check = check_restrict_public_buckets(
        BUCKET_ON,
        policy=PUBLIC_POLICY,
        principal_account=None,
        bucket_account=OWNER_ACCOUNT,
        is_service_principal=True,
    )
    assert check is None


def test_restrict_public_buckets_same_account_only_public_grant_is_possible() -> None:
    check = check_restrict_public_buckets(
        BUCKET_ON,
        policy=PUBLIC_POLICY,
        principal_account=OWNER_ACCOUNT,
        bucket_account=OWNER_ACCOUNT,
        granting_statements=[1],
    )
    assert check is not None
    assert check.verdict is BpaVerdict.POSSIBLE
    assert check.statements == (1,)


@pytest.mark.parametrize(
    "granting", [pytest.param([0, 1], id="non-public-grant-too"), pytest.param([], id="no-grant")]
)
def test_restrict_public_buckets_same_account_with_another_grant_is_not_a_cause(
    granting: list[int],
) -> None:
    check = check_restrict_public_buckets(
        BUCKET_ON,
        policy=PUBLIC_POLICY,
        principal_account=OWNER_ACCOUNT,
        bucket_account=OWNER_ACCOUNT,
        granting_statements=granting,
    )
    assert check is None


def test_restrict_public_buckets_ignores_non_public_policies_and_unset_setting() -> None:
    fixed = _policy(_allow({"AWS": "arn:aws:iam::444455556666:root"}))
    kwargs: dict[str, Any] = {"principal_account": OTHER_ACCOUNT, "bucket_account": OWNER_ACCOUNT}
    assert check_restrict_public_buckets(BUCKET_ON, policy=fixed, **kwargs) is None
    assert check_restrict_public_buckets(ALL_OFF, policy=PUBLIC_POLICY, **kwargs) is None
    unknown = check_restrict_public_buckets(ACCOUNT_UNREADABLE, policy=PUBLIC_POLICY, **kwargs)
    assert unknown is not None
    assert unknown.verdict is BpaVerdict.UNKNOWN
