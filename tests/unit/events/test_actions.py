"""The S3 action table (Service Authorization Reference): known actions, guesses, condition keys."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.events.actions import (
    TABLE_PATH,
    action_names,
    check_action,
    is_known_action,
    nearest_action,
    supports_condition_key,
)
from chalicelib.events.operations import TABLE_PATH as OPERATIONS_PATH
from chalicelib.model import InputError


def test_every_action_the_operation_table_names_is_in_the_reference() -> None:
    named = set(re.findall(r"s3:[A-Za-z0-9]+", OPERATIONS_PATH.read_text(encoding="utf-8")))

    assert named
    assert sorted(a for a in named if not is_known_action(a)) == []


def test_the_table_keeps_its_provenance_and_every_action_has_its_keys() -> None:
    doc = json.loads(TABLE_PATH.read_text(encoding="utf-8"))

    assert any("service-authorization" in source for source in doc["_source"])
    assert len(action_names()) >= 150
    assert all(isinstance(spec["condition_keys"], list) for spec in doc["actions"].values())


@pytest.mark.parametrize(
    ("action", "known"),
    [
        ("s3:GetObject", True),
        ("S3:getobject", True),  # IAM compares actions case-insensitively
        ("s3:ListBucket", True),
        ("s3:GetObjekt", False),
        ("s3:Get*", False),
        ("kms:Decrypt", False),
        ("GetObject", False),
    ],
)
def test_is_known_action(action: str, known: bool) -> None:
    assert is_known_action(action) is known


@pytest.mark.parametrize(
    ("action", "nearest"),
    [
        ("s3:GetObjekt", "s3:GetObject"),
        ("s3:putobjectacl", "s3:PutObjectAcl"),
        ("s3:ListBuckets", "s3:ListBucket"),
        ("kms:Decrypt", None),
    ],
)
def test_nearest_action(action: str, nearest: str | None) -> None:
    assert nearest_action(action) == nearest


def test_an_unknown_action_is_bad_input_naming_action_with_a_guess() -> None:
    with pytest.raises(InputError) as raised:
        check_action("s3:GetObjekt")

    assert raised.value.field_path == "action"
    assert "did you mean s3:GetObject?" in str(raised.value)


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:Get*", "kms:Decrypt"])
def test_known_wildcard_and_foreign_actions_pass_the_check(action: str) -> None:
    check_action(action)


@pytest.mark.parametrize(
    ("action", "key", "supported"),
    [
        ("s3:ListBucket", "s3:prefix", True),
        ("s3:GetObject", "s3:prefix", False),  # a near miss: GetObject never carries it
        ("s3:GetObject", "S3:ExistingObjectTag/team", True),
        ("s3:PutObject", "s3:RequestObjectTag/team", True),
        ("s3:GetObject", "s3:x-amz-server-side-encryption", False),
        ("s3:PutObject", "s3:x-amz-server-side-encryption", True),
        ("s3:GetObject", "aws:SecureTransport", True),  # global keys
        ("s3:GetObject", "aws:SourceIp", True),
        ("s3:GetObject", "aws:RequestTag/team", False),
        ("s3:GetObject", "kms:ViaService", None),  # another service's key: cannot tell
        ("s3:GetObjekt", "s3:prefix", None),  # unknown action: cannot tell
    ],
)
def test_supports_condition_key(action: str, key: str, supported: bool | None) -> None:
    assert supports_condition_key(action, key) is supported


SCENARIO = TABLE_PATH.parents[2] / "tests" / "data" / "scenarios" / "no-identity-allow"


def test_no_fix_is_verified_for_an_action_s3_does_not_have() -> None:
    from dataclasses import replace

    from chalicelib import pipeline
    from chalicelib.request import request_from_runbook

    document = json.loads((SCENARIO / "request.json").read_text(encoding="utf-8"))
    snapshot = json.loads((SCENARIO / "snapshot.json").read_text(encoding="utf-8"))
    known = request_from_runbook(document)
    unknown = replace(
        known,
        operations=tuple(replace(op, action="s3:GetObjekt") for op in known.operations),
    )

    assert any(r.verified for r in pipeline.diagnose(known, snapshot).remedies)
    remedies = pipeline.diagnose(unknown, snapshot).remedies
    assert remedies
    assert not any(r.verified for r in remedies)
