"""ACL parsing, permission → action table, grantee matching, canned ACLs and request headers.

Truth tables from https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html
("Mapping of ACL permissions and access policy permissions", "Canned ACL", "Who is a grantee").
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.engine.acl import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    EC2_BUNDLE_READER_ID,
    LOG_DELIVERY,
    Acl,
    AclGrant,
    CannedAcl,
    Permission,
    acl_grants,
    acl_is_public,
    acl_statement_refs,
    canned_acl_grants,
    canonical_user,
    group,
    parse_access_control_policy,
    parse_acl,
    parse_grant_header,
    request_acl_is_public,
)
from chalicelib.model import InputError

OWNER = "owner-canonical-id"
OTHER = "other-account-canonical-id"

# Every IAM action an ACL permission can authorise, to test that a permission grants exactly
# its row of the table and nothing else.
ALL_ACL_ACTIONS = (
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:GetBucketAcl",
    "s3:PutBucketAcl",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAcl",
    "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:PutBucketPolicy",
)

BUCKET_READ = {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}
BUCKET_WRITE = {"s3:PutObject", "s3:DeleteObject"}
OBJECT_READ = {"s3:GetObject", "s3:GetObjectVersion"}
OBJECT_READ_ACP = {"s3:GetObjectAcl", "s3:GetObjectVersionAcl"}
OBJECT_WRITE_ACP = {"s3:PutObjectAcl", "s3:PutObjectVersionAcl"}

PERMISSION_TABLE = [
    (Permission.READ, False, BUCKET_READ),
    (Permission.WRITE, False, BUCKET_WRITE),
    (Permission.READ_ACP, False, {"s3:GetBucketAcl"}),
    (Permission.WRITE_ACP, False, {"s3:PutBucketAcl"}),
    (
        Permission.FULL_CONTROL,
        False,
        BUCKET_READ | BUCKET_WRITE | {"s3:GetBucketAcl", "s3:PutBucketAcl"},
    ),
    (Permission.READ, True, OBJECT_READ),
    (Permission.WRITE, True, set()),  # "Not applicable" on objects
    (Permission.READ_ACP, True, OBJECT_READ_ACP),
    (Permission.WRITE_ACP, True, OBJECT_WRITE_ACP),
    (Permission.FULL_CONTROL, True, OBJECT_READ | OBJECT_READ_ACP | OBJECT_WRITE_ACP),
]


def _acl(*grants: tuple[Any, Permission], owner: str = OWNER) -> Acl:
    return Acl(
        owner_id=owner,
        grants=tuple(AclGrant(grantee=g, permission=p) for g, p in grants),
    )


def _granted(acl: Acl, action: str, *, on_object: bool, **kwargs: Any) -> bool:
    options: dict[str, Any] = {
        "grantee_canonical_id": OTHER,
        "authenticated": True,
        "ignore_public": False,
    }
    options.update(kwargs)
    return bool(acl_grants(acl, action=action, on_object=on_object, **options))


# --------------------------------------------------------------------------- parsing


def test_parse_acl_reads_get_bucket_acl_output() -> None:
    # GIVEN the shape `aws s3api get-bucket-acl` prints
    data = {
        "Owner": {"DisplayName": "owner", "ID": OWNER},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": OWNER}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
            {
                "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"},
                "Permission": "READ_ACP",
            },
        ],
    }
    # WHEN it is parsed
    acl = parse_acl(data)
    # THEN owner and every grant are kept, in order, and it renders back unchanged
    assert acl.owner_id == OWNER
    assert [(g.grantee.describe(), g.permission) for g in acl.grants] == [
        (f"account {OWNER}", Permission.FULL_CONTROL),
        ("group AllUsers", Permission.READ),
        ("account by e-mail a@example.com", Permission.READ_ACP),
    ]
    assert acl.to_dict() == data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param([], "acl", id="not-an-object"),
        pytest.param({"Grants": []}, "acl.Owner", id="no-owner"),
        pytest.param({"Owner": {"DisplayName": "x"}}, "acl.Owner.ID", id="no-owner-id"),
        pytest.param({"Owner": {"ID": OWNER}, "Grants": {}}, "acl.Grants", id="grants-not-list"),
        pytest.param(
            {"Owner": {"ID": OWNER}, "Grants": [{"Grantee": {"Type": "Group", "URI": ALL_USERS}}]},
            "acl.Grants[0].Permission",
            id="no-permission",
        ),
        pytest.param(
            {
                "Owner": {"ID": OWNER},
                "Grants": [
                    {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
                    {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "DELETE"},
                ],
            },
            "acl.Grants[1].Permission",
            id="unknown-permission",
        ),
        pytest.param(
            {
                "Owner": {"ID": OWNER},
                "Grants": [{"Grantee": {"Type": "User"}, "Permission": "READ"}],
            },
            "acl.Grants[0].Grantee.Type",
            id="unknown-grantee-type",
        ),
        pytest.param(
            {
                "Owner": {"ID": OWNER},
                "Grants": [{"Grantee": {"Type": "CanonicalUser"}, "Permission": "READ"}],
            },
            "acl.Grants[0].Grantee.ID",
            id="canonical-user-without-id",
        ),
        pytest.param(
            {
                "Owner": {"ID": OWNER},
                "Grants": [
                    {
                        "Grantee": {"Type": "Group", "URI": "https://acs.amazonaws.com/groups/x"},
                        "Permission": "READ",
                    }
                ],
            },
            "acl.Grants[0].Grantee.URI",
            id="unknown-group",
        ),
    ],
)
def test_parse_acl_malformed_names_the_field(data: Any, field: str) -> None:
    with pytest.raises(InputError) as error:
        parse_acl(data)
    assert error.value.field_path == field


def test_parse_acl_field_prefix_is_the_callers() -> None:
    with pytest.raises(InputError) as error:
        parse_acl({}, field="s3.buckets.b.objects.k.acl")
    assert error.value.field_path == "s3.buckets.b.objects.k.acl.Owner"


# --------------------------------------------------------------------------- permission table


@pytest.mark.parametrize(
    ("permission", "on_object", "expected"),
    [
        pytest.param(p, o, e, id=f"{p.value}-{'object' if o else 'bucket'}")
        for p, o, e in PERMISSION_TABLE
    ],
)
def test_acl_permission_grants_exactly_its_documented_actions(
    permission: Permission, on_object: bool, expected: set[str]
) -> None:
    # GIVEN a grant of one permission to another account (not the bucket owner)
    acl = _acl((canonical_user(OTHER), permission))
    # THEN exactly the documented actions are authorised, on the documented resource kind
    granted = {a for a in ALL_ACL_ACTIONS if _granted(acl, a, on_object=on_object)}
    assert granted == expected


def test_bucket_acl_read_never_grants_object_reads() -> None:
    acl = _acl((canonical_user(OTHER), Permission.FULL_CONTROL))
    assert not _granted(acl, "s3:GetObject", on_object=False)


@pytest.mark.parametrize("permission", [Permission.WRITE, Permission.FULL_CONTROL])
def test_bucket_acl_write_to_bucket_owner_also_allows_delete_object_version(
    permission: Permission,
) -> None:
    # "when the grantee is the bucket owner, granting WRITE permission in a bucket ACL allows
    # the s3:DeleteObjectVersion action"
    own = _acl((canonical_user(OWNER), permission))
    others = _acl((canonical_user(OTHER), permission))
    assert _granted(own, "s3:DeleteObjectVersion", on_object=False, grantee_canonical_id=OWNER)
    assert not _granted(others, "s3:DeleteObjectVersion", on_object=False)


def test_acl_actions_compare_case_insensitively() -> None:
    acl = _acl((canonical_user(OTHER), Permission.READ))
    assert _granted(acl, "S3:getobject", on_object=True)


# --------------------------------------------------------------------------- grantees


@pytest.mark.parametrize(
    ("grantee", "requester", "authenticated", "log_delivery", "expected"),
    [
        pytest.param(group(ALL_USERS), None, False, False, True, id="all-users-anonymous"),
        pytest.param(group(ALL_USERS), OTHER, True, False, True, id="all-users-signed"),
        pytest.param(
            group(AUTHENTICATED_USERS), OTHER, True, False, True, id="authenticated-signed"
        ),
        pytest.param(
            group(AUTHENTICATED_USERS), None, False, False, False, id="authenticated-anonymous"
        ),
        pytest.param(group(LOG_DELIVERY), OTHER, True, False, False, id="log-delivery-user"),
        pytest.param(group(LOG_DELIVERY), None, True, True, True, id="log-delivery-service"),
        pytest.param(canonical_user(OTHER), OTHER, True, False, True, id="same-canonical-id"),
        pytest.param(canonical_user(OWNER), OTHER, True, False, False, id="other-canonical-id"),
        pytest.param(canonical_user(OTHER), None, False, False, False, id="account-anonymous"),
    ],
)
def test_acl_grantee_matching(
    grantee: Any, requester: str | None, authenticated: bool, log_delivery: bool, expected: bool
) -> None:
    acl = _acl((grantee, Permission.READ))
    granted = _granted(
        acl,
        "s3:ListBucket",
        on_object=False,
        grantee_canonical_id=requester,
        authenticated=authenticated,
        log_delivery=log_delivery,
    )
    assert granted is expected


def test_acl_grants_report_index_grantee_and_publicness() -> None:
    acl = _acl(
        (canonical_user(OWNER), Permission.FULL_CONTROL),
        (group(AUTHENTICATED_USERS), Permission.READ),
        (canonical_user(OTHER), Permission.READ),
    )
    matches = acl_grants(
        acl,
        action="s3:GetObject",
        on_object=True,
        grantee_canonical_id=OTHER,
        authenticated=True,
        ignore_public=False,
    )
    assert [(m.index, m.grantee.describe(), m.permission, m.public) for m in matches] == [
        (1, "group AuthenticatedUsers", Permission.READ, True),
        (2, f"account {OTHER}", Permission.READ, False),
    ]


def test_acl_grants_ignore_public_drops_all_users_and_authenticated_users() -> None:
    acl = _acl((group(ALL_USERS), Permission.READ), (group(AUTHENTICATED_USERS), Permission.READ))
    assert _granted(acl, "s3:GetObject", on_object=True)
    assert not _granted(acl, "s3:GetObject", on_object=True, ignore_public=True)


def test_acl_statement_refs_point_at_the_grants() -> None:
    acl = _acl(
        (canonical_user(OWNER), Permission.FULL_CONTROL), (group(ALL_USERS), Permission.READ)
    )
    matches = acl_grants(
        acl,
        action="s3:GetObject",
        on_object=True,
        grantee_canonical_id=None,
        authenticated=False,
        ignore_public=False,
    )
    refs = acl_statement_refs(matches, policy="acl:bucket/key")
    assert [(r.policy, r.index, r.effect) for r in refs] == [("acl:bucket/key", 1, "Allow")]
    assert refs[0].note == "grant #1: READ to group AllUsers"


@pytest.mark.parametrize(
    ("grantee", "public"),
    [
        (group(ALL_USERS), True),
        (group(AUTHENTICATED_USERS), True),
        (group(LOG_DELIVERY), False),
        (canonical_user(OTHER), False),
    ],
)
def test_acl_is_public_only_for_all_users_and_authenticated_users(
    grantee: Any, public: bool
) -> None:
    acl = _acl((canonical_user(OWNER), Permission.FULL_CONTROL), (grantee, Permission.READ_ACP))
    assert acl_is_public(acl) is public


# --------------------------------------------------------------------------- canned ACLs

OBJ_OWNER = "object-owner-id"
BKT_OWNER = "bucket-owner-id"

CANNED_TABLE = [
    # (name, on_object, expected grants beyond the owner's FULL_CONTROL)
    ("private", True, []),
    ("private", False, []),
    ("public-read", True, [(ALL_USERS, "READ")]),
    ("public-read", False, [(ALL_USERS, "READ")]),
    ("public-read-write", True, [(ALL_USERS, "READ"), (ALL_USERS, "WRITE")]),
    ("public-read-write", False, [(ALL_USERS, "READ"), (ALL_USERS, "WRITE")]),
    ("aws-exec-read", True, [(EC2_BUNDLE_READER_ID, "READ")]),
    ("aws-exec-read", False, [(EC2_BUNDLE_READER_ID, "READ")]),
    ("authenticated-read", True, [(AUTHENTICATED_USERS, "READ")]),
    ("authenticated-read", False, [(AUTHENTICATED_USERS, "READ")]),
    ("bucket-owner-read", True, [(BKT_OWNER, "READ")]),
    ("bucket-owner-read", False, []),  # "If you specify this canned ACL when creating a bucket,
    ("bucket-owner-full-control", True, [(BKT_OWNER, "FULL_CONTROL")]),  # Amazon S3 ignores it"
    ("bucket-owner-full-control", False, []),
    ("log-delivery-write", False, [(LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")]),
    ("log-delivery-write", True, []),
]


def _who(grant: AclGrant) -> str:
    return grant.grantee.uri or grant.grantee.id or ""


@pytest.mark.parametrize(
    ("name", "on_object", "extra"),
    [pytest.param(n, o, e, id=f"{n}-{'object' if o else 'bucket'}") for n, o, e in CANNED_TABLE],
)
def test_canned_acl_grants(name: str, on_object: bool, extra: list[tuple[str, str]]) -> None:
    grants = canned_acl_grants(
        name, owner_id=OBJ_OWNER, bucket_owner_id=BKT_OWNER, on_object=on_object
    )
    assert [(_who(g), g.permission.value) for g in grants] == [
        (OBJ_OWNER, "FULL_CONTROL"),
        *extra,
    ]


def test_canned_acl_table_covers_every_canned_acl() -> None:
    assert {name for name, _, _ in CANNED_TABLE} == {c.value for c in CannedAcl}


def test_bucket_owner_full_control_by_the_bucket_owner_is_one_grant() -> None:
    grants = canned_acl_grants(
        "bucket-owner-full-control", owner_id=BKT_OWNER, bucket_owner_id=BKT_OWNER, on_object=True
    )
    assert [(_who(g), g.permission.value) for g in grants] == [(BKT_OWNER, "FULL_CONTROL")]


def test_unknown_canned_acl_names_the_header() -> None:
    with pytest.raises(InputError) as error:
        canned_acl_grants("public", owner_id=OWNER, bucket_owner_id=OWNER, on_object=True)
    assert error.value.field_path == "x-amz-acl"


# --------------------------------------------------------------------------- request headers


@pytest.mark.parametrize(
    ("canned", "public"),
    [
        ("private", False),
        ("public-read", True),
        ("public-read-write", True),
        ("aws-exec-read", False),
        ("authenticated-read", True),
        ("bucket-owner-read", False),
        ("bucket-owner-full-control", False),
        ("log-delivery-write", False),
        (None, False),
    ],
)
def test_request_acl_is_public_for_canned_acls(canned: str | None, public: bool) -> None:
    assert request_acl_is_public(canned, {}) is public


@pytest.mark.parametrize(
    ("headers", "public"),
    [
        pytest.param({"x-amz-grant-read": f'uri="{ALL_USERS}"'}, True, id="read-all-users"),
        pytest.param(
            {"X-Amz-Grant-Write-Acp": f"uri={AUTHENTICATED_USERS}"},
            True,
            id="unquoted-mixed-case-header",
        ),
        pytest.param(
            {"x-amz-grant-full-control": f'id="{OTHER}", uri="{ALL_USERS}"'},
            True,
            id="list-with-public-entry",
        ),
        pytest.param({"x-amz-grant-read": f'id="{OTHER}"'}, False, id="account-id"),
        pytest.param(
            {"x-amz-grant-read": 'emailAddress="a@example.com"'}, False, id="email-address"
        ),
        pytest.param({"x-amz-grant-write": f'uri="{LOG_DELIVERY}"'}, False, id="log-delivery"),
        pytest.param(
            {"x-amz-server-side-encryption": "aws:kms"}, False, id="unrelated-header-ignored"
        ),
    ],
)
def test_request_acl_is_public_for_grant_headers(headers: dict[str, str], public: bool) -> None:
    assert request_acl_is_public(None, headers) is public


def test_grant_header_parses_each_grantee() -> None:
    grants = parse_grant_header(
        "x-amz-grant-read", f'id="{OTHER}", emailAddress="a@example.com",uri="{ALL_USERS}"'
    )
    assert [g.grantee.describe() for g in grants] == [
        f"account {OTHER}",
        "account by e-mail a@example.com",
        "group AllUsers",
    ]
    assert {g.permission for g in grants} == {Permission.READ}


@pytest.mark.parametrize(
    "value", ['user="alice"', "uri", 'id=""'], ids=["unknown-kind", "no-equals", "empty"]
)
def test_malformed_grant_header_names_the_header(value: str) -> None:
    with pytest.raises(InputError) as error:
        request_acl_is_public(None, {"x-amz-grant-read-acp": value})
    assert error.value.field_path == "x-amz-grant-read-acp"


# --------------------------------------------------------------------------- request bodies


def test_access_control_policy_body_as_cloudtrail_records_it() -> None:
    # GIVEN PutBucketAcl's XML body as CloudTrail renders it (one Grant is an object, not a list)
    body = {
        "AccessControlList": {
            "Grant": {
                "Grantee": {
                    "xsi:type": "Group",
                    "URI": ALL_USERS,
                    "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                },
                "Permission": "READ",
            }
        },
        "Owner": {"ID": OWNER},
    }
    acl = parse_access_control_policy(body)
    assert acl.owner_id == OWNER
    assert [(g.grantee.describe(), g.permission) for g in acl.grants] == [
        ("group AllUsers", Permission.READ)
    ]
    assert acl_is_public(acl)


def test_access_control_policy_grantee_type_inferred_when_missing() -> None:
    body = {
        "AccessControlList": {
            "Grant": [
                {"Grantee": {"ID": OTHER}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"EmailAddress": "a@example.com"}, "Permission": "READ"},
            ]
        }
    }
    acl = parse_access_control_policy(body)
    assert [g.grantee.describe() for g in acl.grants] == [
        f"account {OTHER}",
        "account by e-mail a@example.com",
    ]
    assert not acl_is_public(acl)


def test_access_control_policy_malformed_grant_names_the_field() -> None:
    body = {"AccessControlList": {"Grant": [{"Grantee": {"URI": ALL_USERS}, "Permission": "ALL"}]}}
    with pytest.raises(InputError) as error:
        parse_access_control_policy(body)
    assert error.value.field_path == "AccessControlPolicy.AccessControlList.Grant[0].Permission"
