"""A tag grant that misses only because the bucket's ABAC is disabled gets the fix "enable the
bucket's ABAC" (PutBucketAbac), verified like every fix on the patched snapshot: offered only when
it lets the request through, with the exact command, naming whom else it lets in."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose import remedies
from chalicelib.diagnose.patches import NO_COMMAND, apply_patch, apply_patch_shared
from chalicelib.diagnose.render import render_markdown, render_text
from chalicelib.model import Finding, InputError, Remedy, Verdict
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.diagnose.scenarios import SCENARIOS, load_scenario
from tests.unit.diagnose.test_fix_commands import run_pasted, stub_dir  # noqa: F401 (fixture)
from tests.unit.diagnose.test_render import (
    assert_inert_in_every_rendering,
)
from tests.unit.engine.runbook_documents import object_read, read_statement

ACCOUNT = "111122223333"
BUCKET = "finance-data"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ABAC = "ENABLE_BUCKET_ABAC"
TEAM = "${aws:PrincipalTag/team}"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _tag_grant(bucket: str = BUCKET, key: str = "aws:ResourceTag/team", **more: Any) -> Any:
    return read_statement("Allow", bucket, Condition={"StringEquals": {key: TEAM}}, **more)


def _document(
    bucket: str = BUCKET,
    *,
    identity: tuple[dict[str, Any], ...] | None = None,
    bucket_policy: tuple[dict[str, Any], ...] = (),
    abac: Any = "Disabled",
    tags: Any = None,
) -> dict[str, Any]:
    """Alice (tag team = finance) and `bucket` (tagged team = finance unless `tags` says)."""
    statements = (_tag_grant(bucket),) if identity is None else identity
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE000000000000",
        "Arn": ALICE,
        "Path": "/",
        "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": _policy(*statements)}]
        if statements
        else [],
        "AttachedManagedPolicies": [],
        "GroupList": [],
        "Tags": [{"Key": "team", "Value": "finance"}],
    }
    entry: dict[str, Any] = {
        "tags": [{"Key": "team", "Value": "finance"}] if tags is None else tags,
        "abac": abac,
    }
    if bucket_policy:
        entry["policy"] = _policy(*bucket_policy)
    return {
        "account_id": ACCOUNT,
        "partition": "aws",
        "region": "us-east-1",
        "iam": {"UserDetailList": [alice], "RoleDetailList": [], "GroupDetailList": []},
        "s3": {"buckets": {bucket: entry}},
    }


def _diagnose(document: dict[str, Any], bucket: str = BUCKET, **more: Any) -> Finding:
    request = request_from_runbook(object_read(ALICE, bucket))
    if more:
        request = dataclasses.replace(request, **more)
    return pipeline.diagnose(request, load_snapshot(document))


def _abac(finding: Finding) -> list[Remedy]:
    return [r for r in finding.remedies if r.code == ABAC]


@pytest.mark.parametrize(
    ("key", "identity", "bucket_policy"),
    [
        ("aws:ResourceTag/team", None, ()),
        ("s3:BucketTag/team", (), (_tag_grant(key="s3:BucketTag/team", Principal={"AWS": ALICE}),)),
    ],
    ids=["identity-grant", "bucket-policy-grant"],
)
def test_a_tag_grant_missed_because_abac_is_off_is_fixed_by_enabling_it(
    key: str, identity: Any, bucket_policy: Any
) -> None:
    document = _document(identity=identity, bucket_policy=bucket_policy)
    finding = _diagnose(document)

    assert finding.decision is Verdict.IMPLICIT_DENY
    first = finding.remedies[0]
    assert first.code == ABAC and first.verified, [r.summary for r in finding.remedies]
    assert first.target == f"arn:aws:s3:::{BUCKET}"
    assert first.cli == (
        "aws s3api put-bucket-abac --bucket finance-data --abac-status Status=Enabled"
    )
    assert first.patch == {"kind": "abac", "bucket": BUCKET, "status": "Enabled"}
    assert f"Enable ABAC on bucket {BUCKET}" in first.summary
    assert f"{key} in statement #0" in first.summary
    assert "the bucket has team = [finance]" in first.summary
    assert "grants and denies alike" in first.summary
    assert "also lets in" not in first.summary  # the grant names alice alone
    # Applied as the command would, the request goes through.
    assert _diagnose(apply_patch(document, first.patch)).decision is Verdict.ALLOWED


@pytest.mark.parametrize(
    "state",
    [
        {"abac": {"$unreadable": "AccessDenied", "needs": "s3:GetBucketAbac"}},
        {"abac": None},
        {"tags": {"$unreadable": "AccessDenied", "needs": "s3:GetBucketTagging"}},
        {"tags": [{"Key": "team", "Value": "marketing"}]},
        {"tags": [{"Key": "owner", "Value": "finance"}]},
    ],
    ids=["abac-unreadable", "abac-not-collected", "tags-unreadable", "tag-mismatch", "tag-absent"],
)
def test_enabling_abac_is_offered_only_when_the_snapshot_shows_it_lets_the_request_through(
    state: dict[str, Any],
) -> None:
    """Only an ABAC status read as Disabled and tags read (the control); never when the bucket's
    tags would not satisfy the grant even with ABAC on (the patched snapshot still denies)."""
    control = _diagnose(_document())
    finding = _diagnose(_document(**state))

    assert [r.code for r in control.remedies] == [ABAC]
    assert finding.decision is not Verdict.ALLOWED
    assert not _abac(finding), [r.summary for r in finding.remedies]


def test_no_abac_fix_for_a_directory_bucket_or_a_request_through_an_access_point() -> None:
    directory = "finance--use1-az4--x-s3"
    control = _diagnose(_document())
    through_point = _diagnose(
        _document(),
        access_point_arn=f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/finance",
    )
    express = _diagnose(_document(directory), directory)

    assert _abac(control)
    assert through_point.decision is not Verdict.ALLOWED and not _abac(through_point)
    assert express.decision is not Verdict.ALLOWED and not _abac(express)


def test_a_tag_grant_to_everyone_is_offered_saying_whom_else_abac_lets_in() -> None:
    """A bucket-policy grant to "*" on the principal's tag: enabling ABAC opens the bucket to
    every principal with that tag, as the account wrote. Kept, but said, and ranked after a fix
    that lets alice alone in (here: come through the endpoint her own grant names)."""
    grant = _tag_grant(key="s3:BucketTag/team", Principal="*")
    finding = _diagnose(_document(identity=(), bucket_policy=(grant,)))

    [fix] = _abac(finding)
    assert fix.verified
    assert f"It also lets in another principal of account {ACCOUNT} with no grant" in fix.summary

    through = read_statement("Allow", BUCKET, Condition={"StringEquals": {"aws:SourceVpce": "v"}})
    broad = _diagnose(_document(identity=(through,), bucket_policy=(grant,)))
    narrow = _diagnose(_document(identity=(through, _tag_grant())))
    assert [r.code for r in broad.remedies if r.verified] == ["COMPLY_WITH_DENY", ABAC]
    assert [r.code for r in narrow.remedies if r.verified] == [ABAC, "COMPLY_WITH_DENY"]


def test_a_tag_deny_lifted_by_abac_says_it_lets_in_every_principal_granted_by_iam() -> None:
    """`Deny unless the bucket is tagged team = finance` denies everyone while ABAC is off;
    enabling it lets in alice, and every other principal whose IAM policy allows the read."""
    deny = read_statement(
        "Deny",
        BUCKET,
        Principal="*",
        Condition={"StringNotEquals": {"aws:ResourceTag/team": "finance"}},
    )
    document = _document(identity=(read_statement("Allow", BUCKET),), bucket_policy=(deny,))
    finding = _diagnose(document)

    assert finding.decision is Verdict.EXPLICIT_DENY
    # The fix, not "send aws:ResourceTag/team": no request sends the bucket's own tags.
    [fix] = finding.remedies
    assert fix.code == ABAC and fix.verified
    assert (
        f"It also lets in any other principal of account {ACCOUNT} whose IAM policy allows "
        "s3:GetObject" in fix.summary
    )
    # Without alice's own grant ABAC alone lets nobody in: no ABAC fix, the advice stays.
    document["iam"]["UserDetailList"][0]["UserPolicyList"] = []
    codes = [r.code for r in _diagnose(document).remedies]
    assert ABAC not in codes and "COMPLY_WITH_DENY" in codes, codes


def test_the_patched_snapshot_is_checked_in_full_for_an_abac_patch() -> None:
    """Nothing of an ABAC patch is short-cut: no probe is declared unaffected, no twin taken."""
    finding = _diagnose(_document())
    [fix] = _abac(finding)
    assert fix.patch is not None
    snapshot = load_snapshot(_document())
    probes = remedies.Probes(finding.request, None)
    assert not any(remedies.unaffected(snapshot, probe, fix.patch) for probe in probes.plain())


def test_a_hostile_bucket_tag_value_is_data_in_the_summary_and_every_rendering() -> None:
    value = "finance\n\nFIX\n<!channel> [x](https://evil.example) $(id) \x1b]52;c;"
    grant = read_statement(
        "Allow", BUCKET, Condition={"StringEquals": {"aws:ResourceTag/team": value}}
    )
    finding = _diagnose(_document(identity=(grant,), tags=[{"Key": "team", "Value": value}]))

    [fix] = _abac(finding)
    assert fix.verified and f"the bucket has team = [{value}]" in fix.summary
    assert "Enable ABAC on bucket finance-data" in render_text(finding)
    assert "put-bucket-abac" in render_markdown(finding)
    assert_inert_in_every_rendering(finding)


@pytest.mark.parametrize("bucket", ["finance$(touch PWNED);'x'", "a`touch PWNED`b", "-x --debug"])
def test_a_hostile_bucket_name_reaches_aws_intact_and_nothing_else_runs(
    bucket: str,
    stub_dir: Path,  # noqa: F811 (the fixture)
) -> None:
    finding = _diagnose(_document(bucket), bucket)

    [fix] = _abac(finding)
    assert fix.verified and f"Enable ABAC on bucket {bucket} " in fix.summary
    assert fix.cli is not None
    assert run_pasted(fix.cli, stub_dir) == [
        "s3api", "put-bucket-abac", "--bucket", bucket, "--abac-status", "Status=Enabled"
    ]  # fmt: skip


def test_a_bucket_name_with_a_control_character_gets_no_command() -> None:
    bucket = "finance\x1b[2J"
    finding = _diagnose(_document(bucket), bucket)

    [fix] = _abac(finding)
    assert fix.cli is None and fix.summary.endswith(f"({NO_COMMAND})")


def test_the_abac_patch_gives_the_same_document_shared_or_copied() -> None:
    original = _document(bucket_policy=(read_statement("Deny", "other"),))
    before = copy.deepcopy(original)
    patch = {"kind": "abac", "bucket": BUCKET, "status": "Enabled"}

    copied, shared = apply_patch(original, patch), apply_patch_shared(original, patch)

    assert copied == shared
    assert copied["s3"]["buckets"][BUCKET]["abac"] == "Enabled"
    assert copied["s3"]["buckets"][BUCKET]["tags"] == before["s3"]["buckets"][BUCKET]["tags"]
    assert original == before  # neither changes the snapshot it patches


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"kind": "abac", "bucket": "missing", "status": "Enabled"}, "patch.bucket"),
        ({"kind": "abac", "bucket": "b--use1-az4--x-s3", "status": "Enabled"}, "patch.bucket"),
        ({"kind": "abac", "bucket": BUCKET, "status": "On"}, "patch.status"),
    ],
)
def test_a_bad_abac_patch_is_a_clear_error_either_way(patch: dict[str, Any], field: str) -> None:
    document = _document()
    document["s3"]["buckets"]["b--use1-az4--x-s3"] = {"abac": "Disabled"}
    for apply in (apply_patch, apply_patch_shared):
        with pytest.raises(InputError) as raised:
            apply(document, patch)
        assert raised.value.field_path == field


@pytest.mark.parametrize(
    "document",
    [
        _document(),
        _document(identity=(), bucket_policy=(_tag_grant(key="s3:BucketTag/team", Principal="*"),)),
        _document(
            identity=(read_statement("Allow", BUCKET),),
            bucket_policy=(
                read_statement(
                    "Deny",
                    BUCKET,
                    Principal="*",
                    Condition={"StringNotEquals": {"aws:ResourceTag/team": "finance"}},
                ),
            ),
        ),
    ],
    ids=["identity-grant", "grant-to-everyone", "tag-deny"],
)
def test_the_abac_fix_is_the_same_with_the_verification_caches_off(
    document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twice on one snapshot with the caches on (the patched snapshot kept and sharing compiled
    policies, verdicts by `decide`), as on a fresh one with them off (a deep-copied patched
    document, `evaluate` for every verdict)."""
    snapshot = load_snapshot(copy.deepcopy(document))
    request = request_from_runbook(object_read(ALICE, BUCKET))
    cached = [pipeline.diagnose(request, snapshot).to_dict() for _ in range(2)]
    monkeypatch.setattr(remedies, "CACHE", False)
    plain = pipeline.diagnose(request, load_snapshot(copy.deepcopy(document))).to_dict()

    assert cached[0] == cached[1] == plain
    assert [r["code"] for r in plain["remedies"] if r["verified"]][-1] == ABAC


def test_a_tag_condition_on_the_kms_leg_is_about_the_key_not_the_bucket() -> None:
    """On S3's call to KMS, aws:ResourceTag is the key's tags: enabling the bucket's ABAC is no
    fix for it, even when the bucket carries a tag of that name (the control: on the S3 leg)."""
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    decrypt = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}
    document = _document(identity=(read_statement("Allow", BUCKET), _tag_grant(**decrypt)))
    document["kms"] = {
        "keys": {
            key: {
                "metadata": {"Arn": key, "KeyState": "Enabled", "KeyManager": "CUSTOMER"},
                "policy": _policy(
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ),
                "tags": [],  # read: the key carries no team tag
            }
        }
    }
    control = _diagnose(_document())
    finding = _diagnose(document, kms_key_arn=key)

    assert _abac(control)
    assert finding.decision is Verdict.IMPLICIT_DENY
    assert [e.decision for e in finding.evaluations] == [Verdict.ALLOWED, Verdict.IMPLICIT_DENY]
    assert not _abac(finding), [r.summary for r in finding.remedies]


def test_across_accounts_the_abac_fix_is_the_bucket_accounts_with_its_credentials() -> None:
    """Judged on both sides, enabling the bucket's ABAC is the bucket account's change."""
    requester, owner = "111122223333", "222233334444"
    scenario = load_scenario(SCENARIOS / "cross-account-org-bucket-policy-no-grant")
    document = copy.deepcopy(scenario.snapshot.document)
    bucket = document["s3"]["buckets"]["shared-exports"]
    bucket["policy"] = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{requester}:role/etl/loader"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared-exports/exports/*",
            "Condition": {"StringEquals": {"s3:BucketTag/share": "partners"}},
        }
    )
    bucket.update(tags=[{"Key": "share", "Value": "partners"}], abac="Disabled")
    finding = pipeline.diagnose(scenario.request, load_snapshot(document))

    [fix] = _abac(finding)
    assert fix.verified
    assert fix.summary.startswith(f"Bucket account {owner}: enable ABAC on bucket shared-exports")
    assert fix.summary.endswith(f"Run it with credentials of account {owner}.")


def test_the_abac_fix_says_whom_a_tag_deny_then_shuts_out() -> None:
    """Tag denies count too once ABAC is on: a Deny of the bucket's `classification` tag to
    all but alice leaves alice in and shuts out the account's other readers, allowed today."""
    restricted = read_statement(
        "Deny",
        BUCKET,
        Principal="*",
        Condition={
            "StringEquals": {"aws:ResourceTag/classification": "restricted"},
            "ArnNotEquals": {"aws:PrincipalArn": ALICE},
        },
    )
    tags = [{"Key": "team", "Value": "finance"}, {"Key": "classification", "Value": "restricted"}]
    finding = _diagnose(_document(bucket_policy=(restricted,), tags=tags))

    [fix] = _abac(finding)
    assert fix.verified and "also lets in" not in fix.summary
    assert (
        f"It also shuts out any other principal of account {ACCOUNT} whose IAM policy allows "
        "s3:GetObject, allowed today" in fix.summary
    )
    assert finding.remedies[0].code == ABAC
