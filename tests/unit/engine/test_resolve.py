"""The requester's user or role resolved by name in the snapshot, path included (issue 11.1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib import pipeline
from chalicelib.engine import resolve_principal
from chalicelib.request import ROLE_PATH_UNKNOWN_NOTE, request_from_runbook
from chalicelib.snapshot import load_snapshot

ACCT = "111122223333"
WITH_PATH = f"arn:aws:iam::{ACCT}:role/service-role/etl-role"
PATHLESS = f"arn:aws:iam::{ACCT}:role/etl-role"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/etl-role/nightly"


def _snapshot(path: str = "/service-role/", account: str = ACCT) -> Any:
    role = {
        "RoleName": "etl-role",
        "RoleId": "AROAEXAMPLEETLROLE001",
        "Path": path,
        "Arn": f"arn:aws:iam::{ACCT}:role{path}etl-role",
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
    }
    iam = {"UserDetailList": [], "RoleDetailList": [role], "GroupDetailList": [], "Policies": []}
    return load_snapshot(
        {"account_id": account, "partition": "aws", "region": "us-east-1", "iam": iam, "s3": {}}
    )


def _request(requester: str, **more: Any) -> Any:
    doc = {
        "requester_arn": requester,
        "action": "s3:GetObject",
        "resource_arn": "arn:aws:s3:::example-bucket/k",
        **more,
    }
    return request_from_runbook(doc)


def test_a_session_takes_the_role_arn_with_its_path() -> None:
    request = resolve_principal(_request(SESSION), _snapshot())

    assert request.principal.principal_arn == WITH_PATH
    assert request.principal.requester_arn == SESSION
    assert request.context_value("aws:PrincipalArn") == (WITH_PATH,)


def test_a_role_arn_without_its_path_takes_the_path() -> None:
    request = resolve_principal(_request(PATHLESS, session_name="nightly"), _snapshot())

    assert request.principal.principal_arn == WITH_PATH
    assert request.context_value("aws:PrincipalArn") == (WITH_PATH,)


def test_an_explicit_principal_arn_is_kept() -> None:
    given = [
        {
            "ContextKeyName": "aws:PrincipalArn",
            "ContextKeyValues": [PATHLESS],
            "ContextKeyType": "string",
        }
    ]
    request = resolve_principal(_request(SESSION, context=given), _snapshot())

    assert request.principal.principal_arn == WITH_PATH
    assert request.context_value("aws:PrincipalArn") == (PATHLESS,)


def test_nothing_changes_without_the_role_or_in_another_account() -> None:
    for snapshot in (_snapshot(path="/"), _snapshot(account="444455556666")):
        original = _request(SESSION)
        assert resolve_principal(original, snapshot) is original


def test_the_finding_names_the_role_with_its_path_and_keeps_its_id() -> None:
    request = _request(SESSION)
    snapshot = _snapshot()

    finding = pipeline.diagnose(request, snapshot, now="2026-01-01T00:00:00Z")

    assert finding.request.principal.principal_arn == WITH_PATH
    assert not any(n.startswith(ROLE_PATH_UNKNOWN_NOTE) for n in finding.request.notes)
    assert any(WITH_PATH in note for note in finding.request.notes)
    assert finding.finding_id == pipeline.finding_id_for(request)


def test_a_requester_met_again_is_resolved_already() -> None:
    """Each line of a batch (each probe of a fix) brings its own equal principal: resolution
    gives its request back, not a copy (a copy is evaluated in full instead of by shape)."""
    snapshot = _snapshot(path="/")
    for requester in (SESSION, f"arn:aws:iam::{ACCT}:user/nobody"):
        first = _request(requester)
        again = replace(first, principal=replace(first.principal))
        assert again.principal == first.principal and again.principal is not first.principal
        assert resolve_principal(first, snapshot) is first
        assert resolve_principal(again, snapshot) is again


def test_a_resolved_request_resolves_as_itself() -> None:
    """A request the snapshot completed is kept as resolving to itself (the engine resolves it
    again at each evaluation): every golden scenario's requests and event, completed on one
    snapshot, complete to an equal request on a snapshot that never saw them."""
    import contextlib
    import json
    from pathlib import Path

    from chalicelib.events import parse_event
    from chalicelib.model import InputError
    from tests.unit.engine.test_speed_runbook import runbook_requests

    scenarios = Path(__file__).resolve().parents[2] / "data" / "scenarios"
    changed = 0
    for folder in sorted(scenarios.iterdir()):
        document = json.loads((folder / "snapshot.json").read_text())
        requests = runbook_requests(folder) if (folder / "request.json").exists() else []
        if (folder / "event.json").exists():
            with contextlib.suppress(InputError):
                requests.append(parse_event(json.loads((folder / "event.json").read_text())))
        snapshot = load_snapshot(document)
        for request in requests:
            resolved = resolve_principal(request, snapshot)
            assert resolve_principal(resolved, snapshot) is resolved
            assert resolve_principal(resolved, load_snapshot(document)) == resolved, folder.name
            changed += resolved is not request
    assert changed > 1000
