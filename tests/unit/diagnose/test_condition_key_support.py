"""A near miss names a condition key the action never carries (Service Authorization Reference)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from chalicelib.pipeline import diagnose
from chalicelib.request import request_from_runbook

SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "denial-not-reproduced"


def _finding(condition: dict[str, dict[str, str]]):
    snapshot = json.loads((SCENARIO / "snapshot.json").read_text())
    snapshot = copy.deepcopy(snapshot)
    role = snapshot["iam"]["RoleDetailList"][0]
    role["RolePolicyList"][0]["PolicyDocument"]["Statement"][0]["Condition"] = condition
    request = request_from_runbook(json.loads((SCENARIO / "request.json").read_text()))
    return diagnose(request, snapshot, finding_id="f", now="2025-03-01T10:00:00Z")


def test_a_condition_on_a_key_getobject_never_carries_is_named() -> None:
    finding = _finding({"StringLike": {"s3:prefix": "data/*"}})

    whys = [miss.why for miss in finding.near_misses]
    assert any("s3:GetObject never carries s3:prefix" in why for why in whys), whys


def test_a_key_the_action_carries_is_not_called_unsupported() -> None:
    finding = _finding({"StringEquals": {"s3:ExistingObjectTag/team": "red"}})

    whys = [miss.why for miss in finding.near_misses]
    assert any("s3:ExistingObjectTag/team" in why for why in whys), whys
    assert not any("never carries" in why for why in whys)
