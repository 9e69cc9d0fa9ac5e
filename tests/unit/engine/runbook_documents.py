"""Runbook documents, policy statements, records and batch runs of the context-derivation tests
(one object read)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalicelib.cli import main
from chalicelib.demo.cloudtrail import iam_user_identity, s3_access_denied_record


def read_statement(effect: str, bucket: str, **more: Any) -> dict[str, Any]:
    """A statement on s3:GetObject of every object of `bucket`, with `more` elements."""
    return {
        "Effect": effect,
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    } | more


def object_read(requester: str, bucket: str, **more: Any) -> dict[str, Any]:
    """The runbook document of `requester` reading `reports/q1.csv` in `bucket`."""
    return {
        "requester_arn": requester,
        "action": "s3:GetObject",
        "resource_arn": f"arn:aws:s3:::{bucket}/reports/q1.csv",
        **more,
    }


def user_get_record(account: str, bucket: str, key: str, **more: Any) -> dict[str, Any]:
    """The CloudTrail record of IAM user alice's denied GetObject of `key` in `bucket` (an
    account's own), with `s3_access_denied_record`'s keyword arguments `more`."""
    identity = iam_user_identity(
        account_id=account, user_name="alice", user_id="AIDAALICE0000000000"
    )
    return get_record(identity, account, bucket, key, **more)


def get_record(
    identity: Mapping[str, Any], account: str, bucket: str, key: str, **more: Any
) -> dict[str, Any]:
    """The CloudTrail record of `identity`'s denied GetObject of `key` in `bucket` (of
    `account`), with `s3_access_denied_record`'s keyword arguments `more`."""
    return s3_access_denied_record(
        event_id="e-1",
        event_time="2025-11-24T16:00:00Z",
        region="us-east-1",
        identity=dict(identity),
        event_name="GetObject",
        bucket=bucket,
        bucket_account=account,
        key=key,
        **more,
    )


def batch_decisions(
    folder: Path, capsys: Any, snapshot: Mapping[str, Any], documents: list[Any], detail: str
) -> list[str]:
    """The decisions `s3doctor diagnose --batch` answers for the runbook `documents`."""
    (folder / "s.json").write_text(json.dumps(snapshot))
    lines = "".join(json.dumps({"id": i, "request": d}) + "\n" for i, d in enumerate(documents))
    (folder / "b.jsonl").write_text(lines)
    args = ["diagnose", "--snapshot", str(folder / "s.json"), "--batch", str(folder / "b.jsonl")]
    assert main([*args, "--detail", detail]) == 0
    return [json.loads(line)["decision"] for line in capsys.readouterr().out.splitlines()]
