"""Engine cases as data: every case under `tests/data/cases/` run through `evaluate`.

A case file is `{"about": "...", "cases": [...]}`; a case is
`{name, source, request, snapshot, expected, xfail?}`:

- `request` is the compact form of `casefile.request_from_case` (context keys verbatim);
- `snapshot` is a DESIGN 3.2 snapshot document, loaded with `load_snapshot`;
- `source` names the spec section (`spec §2.3`) or the AWS page the expectation rests on;
- `expected` holds `decision` and `blocked_by` (an unordered list of layers) and optionally
  `layers` (layer -> outcome in the first evaluation), `evaluations` (per evaluation, by position:
  `action`, `decision`, `blocked_by`, `layers`), `statement` (`layer`, `policy`, `sid`, optional
  `failed_condition_key`: the statement that decided) and `unchecked` (layers the decision
  names as not checked, with an optional `reason_contains`);
- `xfail` is the reason, with a doc URL, why the engine is known to disagree with AWS.

Expectations come from the documentation, never from running the engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from chalicelib.engine import evaluate
from chalicelib.model import Decision, Evaluation, Layer, Outcome, StatementRef, Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.casefile import request_from_case

CASES = Path(__file__).resolve().parents[2] / "data" / "cases"
CASE_KEYS = {"name", "source", "request", "snapshot", "expected", "xfail"}
EXPECTED_KEYS = {"decision", "blocked_by", "layers", "evaluations", "statement", "unchecked"}
KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
LAYERS = {layer.value for layer in Layer}
VERDICTS = {verdict.value for verdict in Verdict}
DECIDING = {Outcome.EXPLICIT_DENY: "Deny", Outcome.ALLOW: "Allow"}
SOURCE = re.compile(
    r"spec §\d+(\.\d+)*|https://(docs\.aws\.amazon\.com|repost\.aws|aws\.amazon\.com)/"
)


def _files() -> list[Path]:
    return sorted(CASES.rglob("*.json"))


def _all_cases() -> Iterator[tuple[Path, Mapping[str, Any]]]:
    for path in _files():
        for case in json.loads(path.read_text())["cases"]:
            yield path, case


def _params() -> Iterator[Any]:
    for path, case in _all_cases():
        marks = []
        if case.get("xfail"):
            marks.append(pytest.mark.xfail(strict=True, reason=str(case["xfail"])))
        yield pytest.param(case, id=f"{path.stem}::{case['name']}", marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_case(case: Mapping[str, Any]) -> None:
    decision = evaluate(request_from_case(case["request"]), load_snapshot(case["snapshot"]))
    expected = case["expected"]
    trace = _trace(decision)
    assert decision.decision is Verdict(expected["decision"]), trace
    assert _layers(decision.blocked_by) == sorted(expected["blocked_by"]), trace
    if "layers" in expected:
        _check_layers(decision.evaluations[0], expected["layers"], trace)
    for index, wanted in enumerate(expected.get("evaluations", ())):
        assert index < len(decision.evaluations), trace
        _check_evaluation(decision.evaluations[index], wanted, trace)
    if "statement" in expected:
        _check_statement(decision, expected["statement"], trace)
    if "unchecked" in expected:
        _check_unchecked(decision, expected["unchecked"], trace)


def _check_evaluation(evaluation: Evaluation, wanted: Mapping[str, Any], trace: str) -> None:
    if "action" in wanted:
        assert evaluation.action == wanted["action"], trace
    if "resource_arn" in wanted:
        assert evaluation.resource_arn == wanted["resource_arn"], trace
    if "decision" in wanted:
        assert evaluation.decision is Verdict(wanted["decision"]), trace
    if "blocked_by" in wanted:
        assert _layers(evaluation.blocked_by) == sorted(wanted["blocked_by"]), trace
    if "layers" in wanted:
        _check_layers(evaluation, wanted["layers"], trace)


def _check_layers(evaluation: Evaluation, wanted: Mapping[str, str], trace: str) -> None:
    for name, outcome in wanted.items():
        result = evaluation.layer(Layer(name))
        actual = Outcome.NOT_APPLICABLE if result is None else result.outcome
        assert actual is Outcome(outcome), f"layer {name}: {trace}"


def _check_statement(decision: Decision, wanted: Mapping[str, Any], trace: str) -> None:
    """The statement decided: listed in its layer, with the effect of the layer's outcome."""
    layer = Layer(wanted["layer"])
    found: list[StatementRef] = []
    for evaluation in decision.evaluations:
        result = evaluation.layer(layer)
        if result is None or result.outcome not in DECIDING:
            continue
        effect = DECIDING[result.outcome]
        found.extend(
            ref
            for ref in result.statements
            if ref.policy == wanted["policy"]
            and ref.sid == wanted.get("sid")
            and ref.effect in (effect, None)
        )
    assert found, f"statement {wanted} did not decide: {trace}"
    key = wanted.get("failed_condition_key")
    if key is not None:
        keys = {ref.failed_condition.key.lower() for ref in found if ref.failed_condition}
        assert key.lower() in keys, trace


def _check_unchecked(decision: Decision, wanted: Mapping[str, Any], trace: str) -> None:
    layers = {u.layer.value for u in decision.unchecked}
    for name in wanted["layers"]:
        assert name in layers, trace
    text = wanted.get("reason_contains")
    if text is not None:
        assert any(text in u.reason for u in decision.unchecked), trace
    needs = wanted.get("needs")
    if needs is not None:
        assert any(u.needs == needs for u in decision.unchecked), trace


def _layers(layers: tuple[Layer, ...]) -> list[str]:
    return sorted(layer.value for layer in layers)


def _trace(decision: Decision) -> str:
    body = {
        "decision": decision.decision.value,
        "blocked_by": _layers(decision.blocked_by),
        "evaluations": [e.to_dict() for e in decision.evaluations],
        "unchecked": [u.to_dict() for u in decision.unchecked],
        "notes": list(decision.notes),
    }
    return json.dumps(body, indent=1, sort_keys=True)


# --------------------------------------------------------------------------- the files themselves


def test_every_topic_has_cases() -> None:
    assert _files(), f"no case files under {CASES}"
    for path in _files():
        assert json.loads(path.read_text())["cases"], f"{path.name} holds no case"


def test_cases_are_well_formed() -> None:
    """Unique kebab-case names, a source, known keys, layers from the fixed vocabulary, and
    an AWS doc behind every known engine disagreement."""
    seen: dict[str, Path] = {}
    for path, case in _all_cases():
        name = case.get("name", "")
        where = f"{path.name}::{name}"
        assert KEBAB.fullmatch(name), f"{where}: name is not kebab-case"
        assert name not in seen, f"{where}: name also used in {seen[name].name}"
        seen[name] = path
        assert set(case) <= CASE_KEYS, f"{where}: unknown keys {set(case) - CASE_KEYS}"
        assert SOURCE.match(case.get("source", "")), f"{where}: source names no spec § or AWS doc"
        expected = case["expected"]
        assert set(expected) <= EXPECTED_KEYS, f"{where}: unknown expected keys"
        assert expected["decision"] in VERDICTS, f"{where}: unknown decision"
        named = list(expected["blocked_by"]) + list(expected.get("layers", {}))
        named += [expected["statement"]["layer"]] if "statement" in expected else []
        named += list(expected.get("unchecked", {}).get("layers", ()))
        for evaluation in expected.get("evaluations", ()):
            named += list(evaluation.get("blocked_by", ())) + list(evaluation.get("layers", {}))
        assert set(named) <= LAYERS, f"{where}: unknown layers {set(named) - LAYERS}"
        if "xfail" in case:
            assert "https://" in case["xfail"], f"{where}: xfail reason cites no AWS doc"
