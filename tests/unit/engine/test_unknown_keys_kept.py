"""Issue 15: the keys a request may have had and lacks (`resolve.unknown_keys`), kept per
snapshot by what they depend on (the accounts, the names given; for an event's request, whether
the requester is a service and how the record says it was signed), are those of a snapshot
that has kept nothing.

Every request of `test_resolved_forms` (the rich account's grid of runbook documents and
CloudTrail records, signed in the header and presigned, the account's policies naming the keys
of a service's call as well, its organization read or not; every golden scenario's
requests and event), as given and as completed, and as a service's and an anonymous one's, is
asked on one snapshot that keeps the answers and on a fresh snapshot for each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.engine import resolve_principal
from chalicelib.engine.resolve import unknown_keys
from chalicelib.model import AccessRequest, PrincipalType
from chalicelib.snapshot import load_snapshot

from .test_resolved_forms import (
    SCENARIOS,
    UNREAD,
    _grid,
    _records,
    _requests,
    _rich_document,
    _scenario_requests,
)

SERVICE_KEYS = ("aws:SourceArn", "aws:SourceAccount", "aws:SourceOrgID", "aws:SourceOrgPaths")


def _rich(organization: bool) -> dict[str, Any]:
    """The rich account, whose policies name the keys of a service's call too; its
    organization read or not (then its requests may have had `aws:PrincipalOrgID`...)."""
    document = _rich_document()
    statement = document["iam"]["UserDetailList"][0]["UserPolicyList"][0]["PolicyDocument"]
    statement["Statement"][0]["Condition"]["StringLikeIfExists"].update(
        dict.fromkeys(SERVICE_KEYS, "*")
    )
    if not organization:
        document["organization"] = UNREAD
    return document


def _cases() -> Iterator[Any]:
    yield pytest.param(_rich(True), "grid", id="rich-account")
    yield pytest.param(_rich(False), "grid", id="rich-account-organization-unreadable")
    for folder in sorted(SCENARIOS.iterdir()):
        yield pytest.param(folder, "scenario", id=folder.name)


def _variants(request: AccessRequest, document: dict[str, Any]) -> list[AccessRequest]:
    """The request as given and as completed, and as a service's and an anonymous one's (both
    outside any organization)."""
    others = [
        replace(request, principal=replace(request.principal, type=kind))
        for kind in (PrincipalType.AWS_SERVICE, PrincipalType.ANONYMOUS)
    ]
    return [request, resolve_principal(request, load_snapshot(document)), *others]


@pytest.mark.parametrize(("source", "kind"), list(_cases()))
def test_kept_unknown_keys_are_those_of_a_fresh_snapshot(source: Any, kind: str) -> None:
    if kind == "grid":
        document = source
        requests = _requests(_grid(), _records())[::3]
    else:
        document = json.loads((Path(source) / "snapshot.json").read_text())
        requests = _scenario_requests(source)
    keeping = load_snapshot(document)
    kinds = set()
    for given in requests:
        for request in _variants(given, document):
            for from_event in (False, True):
                want = unknown_keys(request, load_snapshot(document), from_event=from_event)
                got = unknown_keys(request, keeping, from_event=from_event)
                assert got == want, (request, from_event)
                kinds.add(tuple(sorted(want)))
    if kind == "grid":  # not vacuous: presigned or not, a service's or not, organization known
        named = {key for keys in kinds for key in keys}
        assert {"s3:signatureAge", "aws:Referer", *SERVICE_KEYS} <= named, kinds
        assert ("aws:PrincipalOrgID" in named) is (document["organization"] == UNREAD), kinds
