"""`s3doctor collect` against moto, the snapshot file source and the composite source."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.collect.file import CompositeSnapshotSource, FileSnapshotSource
from chalicelib.collect.live import Boto3SnapshotSource
from chalicelib.commands.collect import register, run_collect
from chalicelib.model import AccessRequest, InputError, Operation, Principal, PrincipalType
from chalicelib.pipeline import diagnose
from chalicelib.request import request_from_runbook
from tests.functional.collect.conftest import ACCOUNT, Seeded, moto_clients

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="s3doctor")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["collect", *argv])


def _run(url: str, *argv: str) -> tuple[int, str]:
    err = io.StringIO()
    code = run_collect(
        _parse(*argv), lambda region: Boto3SnapshotSource(moto_clients(url)), err=err
    )
    return code, err.getvalue()


def _request(key: str) -> AccessRequest:
    return request_from_runbook(
        {
            "requester_arn": ALICE,
            "action": "s3:GetObject",
            "resource_arn": f"arn:aws:s3:::reports-bucket/{key}",
        }
    )


def test_collect_writes_a_snapshot_that_diagnoses_like_the_live_account(
    moto_url: str, seeded: Seeded, tmp_path: Path
) -> None:
    # GIVEN a snapshot written by the command
    out = tmp_path / "snapshot.json"
    code, err = _run(
        moto_url, "--bucket", "reports-bucket", "--key", "2026/q3.csv", "--principal", ALICE,
        "--out", str(out),
    )  # fmt: skip
    assert (code, err) == (0, "")

    # WHEN the same request is diagnosed live and from the file
    request = _request("2026/q3.csv")
    live = diagnose(request, Boto3SnapshotSource(moto_clients(moto_url)).snapshot_for(request))
    offline = diagnose(request, FileSnapshotSource(out).snapshot_for(request))

    # THEN the findings agree
    assert offline.decision == live.decision
    assert offline.blocked_by == live.blocked_by
    assert [c.code for c in offline.causes] == [c.code for c in live.causes]
    assert [e.to_dict() for e in offline.evaluations] == [e.to_dict() for e in live.evaluations]
    written = json.loads(out.read_text())
    assert set(written["s3"]["buckets"]["reports-bucket"]["objects"]) == {"2026/q3.csv"}


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--bucket", "x"], "--bucket"),
        (["--bucket", "a-bucket", "--bucket", "b-bucket", "--key", "k"], "--key"),
        (["--bucket", "a-bucket", "--principal", "alice"], "--principal"),
        (["--bucket", "a-bucket", "--kms-key-arn", "arn:aws:s3:::a-bucket"], "--kms-key-arn"),
        (["--bucket", "a-bucket", "--vpc-endpoint-id", "vpc-123"], "--vpc-endpoint-id"),
    ],
)
def test_collect_bad_input_exits_2_with_one_line_naming_the_option(
    argv: list[str], field: str, tmp_path: Path
) -> None:
    def no_collector(region: str | None) -> Any:
        raise AssertionError("bad input must be refused before reading the account")

    err = io.StringIO()
    code = run_collect(_parse(*argv, "--out", str(tmp_path / "s.json")), no_collector, err=err)

    assert code == 2
    (line,) = err.getvalue().splitlines()
    assert line.startswith(f"s3doctor collect: {field}:")


def test_collect_of_a_bucket_that_does_not_exist_says_so_and_leaves_it_out(
    moto_url: str, seeded: Seeded, tmp_path: Path
) -> None:
    out = tmp_path / "snapshot.json"
    code, err = _run(
        moto_url, "--bucket", "reports-bucket", "--bucket", "no-such-bucket-here", "--out", str(out)
    )

    assert code == 0
    assert err.splitlines() == [
        "s3doctor collect: note: bucket no-such-bucket-here does not exist (NoSuchBucket): left "
        "out of the snapshot, which diagnoses a request on it as on a missing bucket"
    ]
    assert set(json.loads(out.read_text())["s3"]["buckets"]) == {"reports-bucket"}


def test_collect_to_an_unwritable_path_exits_2(moto_url: str, seeded: Seeded) -> None:
    code, err = _run(moto_url, "--bucket", "plain-bucket", "--out", "/no/such/dir/s.json")

    assert code == 2
    assert err.startswith("s3doctor collect: --out: cannot write /no/such/dir/s.json")


def test_collect_when_aws_fails_exits_1(tmp_path: Path) -> None:
    err = io.StringIO()
    unreachable = Boto3SnapshotSource(moto_clients("http://127.0.0.1:9"), account_id=ACCOUNT)

    code = run_collect(
        _parse("--bucket", "plain-bucket", "--out", str(tmp_path / "s.json")),
        lambda region: unreachable,
        err=err,
    )

    assert code == 1
    assert err.getvalue().startswith("s3doctor collect: error:")


def test_file_source_names_the_file_when_it_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")

    with pytest.raises(InputError, match=r"^snapshot: .*broken.json is not JSON"):
        FileSnapshotSource(path)


def test_file_source_rejects_a_document_that_is_not_a_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps({"account_id": "not-an-account"}))

    with pytest.raises(InputError, match="account_id"):
        FileSnapshotSource(path)


def test_composite_source_fills_what_the_account_could_not_read(tmp_path: Path) -> None:
    # GIVEN a live snapshot whose SCPs were unreadable, and SCPs supplied from a file
    class Primary:
        def snapshot_for(self, request: AccessRequest) -> dict[str, Any]:
            return {
                "account_id": ACCOUNT,
                "organization": {"$unreadable": "NotConfigured", "needs": "x"},
                "s3": {"buckets": {"b": {"policy": "{}", "acl": {"Grants": []}}}},
            }

    scps = {"organization": {"levels": [{"target_id": ACCOUNT, "scps": [{"Content": "{}"}]}]}}
    overlay = {**scps, "s3": {"buckets": {"b": {"policy": '{"Statement": []}'}}}}
    request = AccessRequest(
        principal=Principal(
            type=PrincipalType.ROOT,
            requester_arn=f"arn:aws:iam::{ACCOUNT}:root",
            principal_arn=f"arn:aws:iam::{ACCOUNT}:root",
            account_id=ACCOUNT,
        ),
        operations=(Operation(action="s3:ListBucket", resource_arn="arn:aws:s3:::b", bucket="b"),),
    )

    # WHEN
    doc = CompositeSnapshotSource(Primary(), overlay).snapshot_for(request)

    # THEN the overlay replaces the marker whole and merges into the rest
    assert doc["organization"] == scps["organization"]
    assert doc["s3"]["buckets"]["b"] == {"policy": '{"Statement": []}', "acl": {"Grants": []}}
