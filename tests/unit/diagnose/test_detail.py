"""The `references` detail level reveals no policy text, condition value or patch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.diagnose.catalog import CauseCode, RemedyCode, entry, remedy_title
from chalicelib.diagnose.detail import OBJECT_UNREADABLE, Detail, at_detail
from chalicelib.model import Finding, Layer
from tests.unit.diagnose.scenarios import SCENARIOS

PATHS = sorted(p for p in SCENARIOS.iterdir() if (p / "golden.json").exists())


def _golden(path: Path) -> Finding:
    return Finding.from_dict(json.loads((path / "golden.json").read_text(encoding="utf-8")))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _pointers(value: Any) -> Iterator[str]:
    """The policy ARNs/ids and remedy targets that `references` keeps."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("policy", "target") and isinstance(v, str):
                yield v
            else:
                yield from _pointers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _pointers(v)


def _condition_values(value: Any) -> Iterator[str]:
    """Every value of a `Condition` block in the snapshot's policies (documents may be strings)."""
    if isinstance(value, str) and '"Statement"' in value:
        try:
            yield from _condition_values(json.loads(value))
        except ValueError:
            return
    elif isinstance(value, dict):
        for k, v in value.items():
            if k == "Condition" and isinstance(v, dict):
                for by_key in v.values():
                    for values in by_key.values() if isinstance(by_key, dict) else ():
                        items = values if isinstance(values, list) else [values]
                        yield from (str(i) for i in items)
            else:
                yield from _condition_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _condition_values(v)


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _keys(v)


def test_every_scenario_has_a_golden_finding() -> None:
    assert len(PATHS) >= 20


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_references_reveal_no_policy_text_condition_value_or_patch(path: Path) -> None:
    full = _golden(path)
    shown = at_detail(full, Detail.REFERENCES).to_dict()
    assert shown["detail"] == "references"
    assert all(r["patch"] is None and r["cli"] is None for r in shown["remedies"])
    assert "failed_condition" not in set(_keys(shown))
    assert "Statement" not in set(_keys(shown))  # no policy document anywhere
    assert shown["request"]["session_policy"] is None
    assert shown["request"]["scp_policies"] == []
    assert shown["request"]["proposed_policy"] is None
    assert shown["notes"] == []

    snapshot = json.loads((path / "snapshot.json").read_text(encoding="utf-8"))
    # The request's own facts (what the caller sent) may equal a condition value; nothing else.
    outside_request = {k: v for k, v in shown.items() if k != "request"}
    texts = list(_strings(outside_request))
    # ... and pointers may contain one (an organization id in an SCP's ARN).
    told = list(_strings(shown["request"])) + list(_pointers(outside_request))
    for value in set(_condition_values(snapshot)):
        if value in told or (len(value) >= 6 and any(value in text for text in told)):
            continue  # the request shows it (an account id a scope sentence names too)
        assert value not in texts, value
        if len(value) >= 6:
            assert not any(value in text for text in texts), value


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_references_keep_the_pointers(path: Path) -> None:
    full = _golden(path)
    shown = at_detail(full, Detail.REFERENCES)
    assert shown.finding_id == full.finding_id
    assert (shown.decision, shown.blocked_by) == (full.decision, full.blocked_by)
    assert [c.code for c in shown.causes] == [c.code for c in full.causes]
    assert [
        (c.layer, c.statement and (c.statement.policy, c.statement.sid)) for c in shown.causes
    ] == [(c.layer, c.statement and (c.statement.policy, c.statement.sid)) for c in full.causes]
    assert [(n.policy, n.index, n.sid, n.layer) for n in shown.near_misses] == [
        (n.policy, n.index, n.sid, n.layer) for n in full.near_misses
    ]
    # Each fix once: two that differ only in their patch (exact key or `prefix/*`) read the same.
    assert [(r.code, r.target, r.verified) for r in shown.remedies] == list(
        dict.fromkeys((r.code, r.target, r.verified) for r in full.remedies)
    )
    objects = any(c.layer is Layer.OBJECT_EXISTENCE for c in full.causes)
    for remedy in shown.remedies:
        # The catalog's own advice, and what the deployment lacks, keep their text.
        kept = remedy.code == RemedyCode.GRANT_DIAGNOSER_READ
        if kept or (remedy.code == RemedyCode.FOLLOW_ADVICE and not objects):
            assert remedy.summary in [r.summary for r in full.remedies]
        else:
            assert remedy.summary == remedy_title(RemedyCode(remedy.code))
    for cause, whole in zip(shown.causes, full.causes, strict=True):
        if cause.code.startswith("OUT_OF_SCOPE_"):  # why it was judged so: no policy in it
            assert cause.message == whole.message
        elif cause.layer is not Layer.OBJECT_EXISTENCE:
            assert cause.message == entry(CauseCode(cause.code)).title


def test_a_request_not_diagnosed_says_why_at_references() -> None:
    full = _golden(SCENARIOS / "event-anonymous-head-object")
    shown = at_detail(full, Detail.REFERENCES)
    assert shown.causes[0].code == "OUT_OF_SCOPE_ANONYMOUS"
    assert shown.causes[0].message == "Anonymous request: only public grants can apply"


def test_a_deciding_condition_is_named_by_key_without_its_values() -> None:
    shown = at_detail(_golden(SCENARIOS / "allow-condition-source-ip"), Detail.REFERENCES)
    cause = shown.causes[0]
    assert cause.statement is not None
    assert cause.statement.note == "decided by condition aws:SourceIp IpAddress"
    assert shown.near_misses[0].why == "element Condition did not match"


def test_a_missing_object_is_reported_as_missing_or_unreadable() -> None:
    shown = at_detail(_golden(SCENARIOS / "object-missing-without-listbucket"), Detail.REFERENCES)
    assert [c.message for c in shown.causes] == [OBJECT_UNREADABLE]
    assert "does not exist" not in json.dumps(shown.to_dict())


def test_full_detail_is_the_finding_itself() -> None:
    full = _golden(SCENARIOS / "allow-condition-source-ip")
    assert at_detail(full, Detail.FULL) is full
