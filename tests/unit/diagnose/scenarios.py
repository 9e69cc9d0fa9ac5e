"""Scenario folders: request.json (DESIGN 3.1) or event.json, plus snapshot.json -> Finding."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.events import parse_event
from chalicelib.model import AccessRequest, Finding
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import Snapshot, load_snapshot

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"

# Engine or event-parsing gaps reported to the lead; tests on these scenarios are strict
# xfails, so they fail (and ask for a golden review) once the gap is closed.
ENGINE_GAPS = {}


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    path: Path
    request: AccessRequest
    snapshot: Snapshot
    expected: dict[str, Any]

    def finding(self) -> Finding:
        """The finding as the pipeline makes it (the request as the snapshot completes it, its
        notes as the pipeline leaves them); engine version "golden"."""
        finding = pipeline.diagnose(self.request, self.snapshot, finding_id=f"golden-{self.name}")
        return replace(finding, engine_version="golden")


def scenario_paths() -> list[Path]:
    return sorted(p for p in SCENARIOS.iterdir() if (p / "snapshot.json").exists())


def with_gaps(paths: list[Path], gaps: frozenset[str]) -> list[Any]:
    """pytest params, strict xfail for the scenarios whose named gap affects the test."""
    return [
        pytest.param(
            p,
            id=p.name,
            marks=[pytest.mark.xfail(strict=True, reason=ENGINE_GAPS[p.name])]
            if p.name in gaps
            else [],
        )
        for p in paths
    ]


def load_scenario(path: Path) -> Scenario:
    def read(name: str) -> Any:
        return json.loads((path / name).read_text(encoding="utf-8"))

    if (path / "event.json").exists():
        request = parse_event(read("event.json"))
    else:
        request = request_from_runbook(read("request.json"))
    return Scenario(
        name=path.name,
        path=path,
        request=request,
        snapshot=load_snapshot(read("snapshot.json")),
        expected=read("expected.json"),
    )
