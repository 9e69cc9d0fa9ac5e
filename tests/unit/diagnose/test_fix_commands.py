"""Fix commands are safe to paste: hostile names reach `aws` intact and nothing else runs.

Each command is run by `/bin/sh -c` with a stub `aws` first on PATH that writes its arguments
(NUL-separated, so any argument is recorded exactly) to a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.diagnose.catalog import RemedyCode
from chalicelib.diagnose.patches import NO_COMMAND, cli_for
from chalicelib.diagnose.remedies import Candidate, _check
from chalicelib.diagnose.untrusted import command_safe
from chalicelib.model import AccessRequest, Json, Principal, PrincipalType
from tests.unit.diagnose.diagnose_builders import ACCT, request

PAYLOADS = [
    "$(touch PWNED)", "`touch PWNED`", ";touch PWNED;", "|touch PWNED", "&& touch PWNED",
    "$(touch${IFS}PWNED)", "${IFS}", "$HOME", "'", '"', "\\", "\n", " ", "*", "~", "!", "#",
    "--", "-x", "%s", "\t", "é", "日本", "\u202e", "\x1b[2J", "a", "/", "<x>", "{}", "[a]",
]  # fmt: skip
hostile = st.one_of(
    st.lists(st.sampled_from(PAYLOADS), min_size=1, max_size=6).map("".join),
    st.text(min_size=1, max_size=12),
)
no_slash = hostile.map(lambda s: s.replace("/", "_") or "_")
NASTY_PATH = "/$(touch${IFS}PWNED)/"


@pytest.fixture(scope="module")
def stub_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        aws = Path(name) / "aws"
        aws.write_text('#!/bin/sh\nprintf "%s\\0" "$@" > "$ARGV_FILE"\n')
        aws.chmod(0o755)
        yield Path(name)


def run_pasted(command: str, stub_dir: Path) -> list[str]:
    """Run `command` as a shell would when pasted; the argv `aws` received."""
    with tempfile.TemporaryDirectory() as cwd:
        argv_file = Path(cwd) / "argv"
        env = {"PATH": f"{stub_dir}:/usr/bin:/bin", "ARGV_FILE": str(argv_file), "HOME": cwd}
        subprocess.run(["/bin/sh", "-c", command], cwd=cwd, env=env, check=True, timeout=10)
        assert sorted(os.listdir(cwd)) == ["argv"], "something other than aws ran"
        return argv_file.read_bytes().decode().split("\0")[:-1]


def compact(document: Json) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def cases(
    name: str, path: str, session: str, doc: Json
) -> list[tuple[Json, AccessRequest, list[str]]]:
    """(patch, request, the argv `aws` must receive) for every kind of command."""
    plain = request()
    role = f"arn:aws:iam::{ACCT}:role{path}{name}"
    policy_arn = f"arn:aws:iam::{ACCT}:policy{path}{name}"
    session_request = request(
        who=Principal(
            type=PrincipalType.ASSUMED_ROLE,
            requester_arn=f"arn:aws:sts::{ACCT}:assumed-role/{name}/{session}",
            principal_arn=role,
            account_id=ACCT,
            session_name=session,
        )
    )
    text = compact(doc)
    policy: dict[str, Any] = {"kind": "policy", "document": doc}
    return [
        (
            {"kind": "ownership", "bucket": name, "object_ownership": "BucketOwnerEnforced"},
            plain,
            ["s3api", "put-bucket-ownership-controls", "--bucket", name,
             "--ownership-controls", "Rules=[{ObjectOwnership=BucketOwnerEnforced}]"],
        ),
        (
            {"kind": "session-policy", "document": doc},
            session_request,
            ["sts", "assume-role", "--role-arn", role, "--role-session-name", session,
             "--policy", text],
        ),
        *(
            (
                {**policy, "policy": f"inline:{entity}/{session}/{name}"},
                plain,
                ["iam", f"put-{entity}-policy", f"--{entity}-name", session,
                 "--policy-name", name, "--policy-document", text],
            )
            for entity in ("user", "role", "group")
        ),
        (
            {**policy, "policy": policy_arn},
            plain,
            ["iam", "create-policy-version", "--policy-arn", policy_arn, "--set-as-default",
             "--policy-document", text],
        ),
        (
            {**policy, "policy": f"bucket-policy:{name}"},
            plain,
            ["s3api", "put-bucket-policy", "--bucket", name, "--policy", text],
        ),
        (
            {**policy, "policy": f"key-policy:arn:aws:kms:us-east-1:{ACCT}:key/{name}"},
            plain,
            ["kms", "put-key-policy", "--key-id", f"arn:aws:kms:us-east-1:{ACCT}:key/{name}",
             "--policy-name", "default", "--policy", text],
        ),
        (
            {**policy, "policy": f"vpce-policy:{name}"},
            plain,
            ["ec2", "modify-vpc-endpoint", "--vpc-endpoint-id", name, "--policy-document", text],
        ),
    ]  # fmt: skip


@given(name=no_slash, path=hostile.map(lambda s: f"/{s}/"), session=no_slash, value=hostile)
@example(
    name="app$(touch PWNED)",
    path=NASTY_PATH,
    session="s;touch PWNED",
    value="`touch PWNED`'\"$(touch PWNED)\n",
)
@settings(max_examples=60, deadline=None)
def test_every_command_passes_each_argument_intact_and_runs_nothing_else(
    stub_dir: Path, name: str, path: str, session: str, value: str
) -> None:
    doc: Json = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": value, "Effect": "Allow", "Resource": f"arn:aws:s3:::{value}/*"}],
    }
    for patch, req, expected in cases(name, path, session, doc):
        cli = cli_for(patch, req)
        if not all(command_safe(arg) for arg in expected):
            assert cli is None  # a control or bidi character: no command, patch by hand
            continue
        assert cli is not None and cli.startswith("aws ") and command_safe(cli)
        assert run_pasted(cli, stub_dir) == expected


def test_the_issue_policy_path_is_quoted(stub_dir: Path) -> None:
    arn = f"arn:aws:iam::{ACCT}:policy{NASTY_PATH}read"
    cli = cli_for({"kind": "policy", "policy": arn, "document": {}}, request())
    assert cli == (
        f"aws iam create-policy-version --policy-arn 'arn:aws:iam::{ACCT}:policy/$(touch${{IFS}}"
        "PWNED)/read' --set-as-default --policy-document '{}'"
    )
    assert run_pasted(cli, stub_dir)[3] == arn


def test_a_remedy_whose_arguments_hold_control_characters_offers_no_command() -> None:
    patch: Json = {"kind": "policy", "policy": "vpce-policy:vpce-1\n\x1b[2J", "document": {}}
    candidate = Candidate(
        code=RemedyCode.FIX_STATEMENT, target="vpce-1", summary="Fix it.", patch=patch
    )
    remedy = _check(candidate, request(), None, verify=False)  # type: ignore[arg-type]
    assert remedy is not None and remedy.cli is None
    assert remedy.summary == f"Fix it. ({NO_COMMAND})"
