"""errorMessage → DenialHint (spec 4.1 grammar, BPA, KMS and SSE-C sentences)."""

from __future__ import annotations

import pytest

from chalicelib.events.message import bpa_setting, parse_denial_message
from tests.unit.events.eventdata import parsed

USER = "User: arn:aws:iam::111122223333:user/alice is not authorized to perform:"
SCP_ARN = "arn:aws:organizations::999988887777:policy/o-a1b2c3d4e5/service_control_policy/p-1"


@pytest.mark.parametrize(
    ("message", "action", "resource", "policy_type", "explicit", "policy_arn"),
    [
        (
            f'{USER} s3:GetObject on resource: "arn:aws:s3:::b/k" because no identity-based '
            "policy allows the s3:GetObject action",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            "identity-policy",
            False,
            None,
        ),
        (
            f'{USER} s3:GetObject on resource: "arn:aws:s3:::b/k" with an explicit deny in a '
            "resource-based policy",
            "s3:GetObject",
            "arn:aws:s3:::b/k",
            "bucket-policy",
            True,
            None,
        ),
        (
            f"{USER} s3:PutObject with an explicit deny in a service control policy: {SCP_ARN}",
            "s3:PutObject",
            None,
            "scp",
            True,
            SCP_ARN,
        ),
        (
            f"{USER} s3:PutObject because no resource control policy allows the s3:PutObject "
            "action",
            "s3:PutObject",
            None,
            "rcp",
            False,
            None,
        ),
        (
            f"{USER} s3:ListBucket with an explicit deny in a VPC endpoint policy",
            "s3:ListBucket",
            None,
            "vpc-endpoint-policy",
            True,
            None,
        ),
        (
            f"{USER} s3:ListBucket because no permissions boundary allows the s3:ListBucket action",
            "s3:ListBucket",
            None,
            "permissions-boundary",
            False,
            None,
        ),
        (
            f"{USER} s3:DeleteObject with an explicit deny in a session policy",
            "s3:DeleteObject",
            None,
            "session-policy",
            True,
            None,
        ),
        (
            f'{USER} s3:DeleteObject on resource: "arn:aws:s3:::b/k" with an explicit deny in an '
            "identity-based policy: arn:aws:iam::111122223333:policy/NoDeletes",
            "s3:DeleteObject",
            "arn:aws:s3:::b/k",
            "identity-policy",
            True,
            "arn:aws:iam::111122223333:policy/NoDeletes",
        ),
        (
            f"{USER} kms:Decrypt on the resource associated with this ciphertext because the "
            "resource does not exist in this Region, no resource-based policies allow access, "
            "or a resource-based policy explicitly denies access",
            "kms:Decrypt",
            None,
            "kms-key-policy",
            None,
            None,
        ),
        (
            f"{USER} kms:Decrypt on resource: arn:aws:kms:us-east-1:111122223333:key/k with an "
            "explicit deny in a resource-based policy",
            "kms:Decrypt",
            "arn:aws:kms:us-east-1:111122223333:key/k",
            "kms-key-policy",
            True,
            None,
        ),
        (
            f'{USER} s3:GetObject on resource: "arn:aws:s3:us-east-1:111122223333:accesspoint/ap/'
            'object/k" with an explicit deny in a resource-based policy',
            "s3:GetObject",
            "arn:aws:s3:us-east-1:111122223333:accesspoint/ap/object/k",
            "access-point-policy",
            True,
            None,
        ),
        ("Access Denied", None, None, None, None, None),
    ],
)
def test_message_names_action_resource_layer_and_policy(
    message: str,
    action: str | None,
    resource: str | None,
    policy_type: str | None,
    explicit: bool | None,
    policy_arn: str | None,
) -> None:
    hint = parse_denial_message(message)

    assert hint.raw == message
    assert (hint.action, hint.resource, hint.policy_type, hint.explicit, hint.policy_arn) == (
        action,
        resource,
        policy_type,
        explicit,
        policy_arn,
    )


@pytest.mark.parametrize(
    ("scenario", "setting"),
    [
        ("03-root-putbucketpolicy-blockpublicpolicy", "BlockPublicPolicy"),
        ("bare-record-iamuser-putobject-acl-tagging-lock-headers", "BlockPublicAcls"),
    ],
)
def test_block_public_access_sentences_name_the_setting(scenario: str, setting: str) -> None:
    hint = parsed(scenario).denial_hint

    assert hint is not None
    assert hint.policy_type == "block-public-access"
    assert bpa_setting(hint) == setting


def test_sse_c_blocking_sentence_is_a_request_level_denial() -> None:
    hint = parsed("putobject-sse-c-blocked").denial_hint

    assert hint is not None
    assert (hint.policy_type, hint.explicit) == ("request", True)


def test_kms_leg_in_message_gives_the_key_and_a_note() -> None:
    request = parsed("02-assumedrole-putobject-ssekms-generatedatakey-denied")

    assert request.denial_hint is not None
    assert request.denial_hint.action == "kms:GenerateDataKey"
    assert request.kms_key_arn == (
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    assert any("KMS leg failed" in note for note in request.notes)


def test_message_naming_the_copy_source_leg_agrees_with_the_derived_operations() -> None:
    request = parsed("copyobject-versioned-source-url-encoded")

    assert request.denial_hint is not None
    assert request.denial_hint.action == "s3:GetObjectVersion"
    assert not any("errorMessage names" in note for note in request.notes)
