"""The shipped schema validators (`chalicelib/schemas/<name>_validator.py`, generated once so a
start does not generate them): they are the code of the schemas as they are now, and they
accept and refuse what the validator compiled from the schema at run time does."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from chalicelib import schemas
from chalicelib.schemas import codegen

DATA = Path(__file__).resolve().parents[2] / "data"
RUFF = Path(sys.executable).with_name("ruff")


@pytest.mark.parametrize("name", codegen.NAMES)
def test_shipped_validator_is_the_code_of_the_schema(name: str) -> None:
    ruff = str(RUFF) if RUFF.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff (a development tool) formats the generated code")
    shipped = Path(codegen.__file__).with_name(f"{name}_validator.py").read_text()
    assert shipped == codegen.source(name, ruff), (
        f"{name}.schema.json changed: run `python -m chalicelib.schemas.codegen`"
    )


@pytest.mark.parametrize("name", codegen.NAMES)
def test_conforms_uses_the_shipped_validator(name: str) -> None:
    """The run-time compile is only the fallback of a schema edited since generation."""
    shipped = __import__(f"chalicelib.schemas.{name}_validator", fromlist=["validate"])
    assert schemas._compiled(name) is shipped.validate


def _mutants(document: Any) -> Iterator[Any]:
    """`document`, then with one value at a time replaced by a value of another type or
    removed (changed in place and put back after each yield)."""
    yield document
    places: list[tuple[Any, Any]] = []

    def collect(value: Any) -> None:
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in list(children):
            places.append((value, key))
            if isinstance(child, dict | list):
                collect(child)

    collect(document)
    for parent, key in places:
        original = parent[key]
        for replacement in (None, 7, "123456789012", {}, ...):
            if replacement is ...:
                if isinstance(parent, list):
                    continue
                del parent[key]
            else:
                parent[key] = replacement
            yield document
            parent[key] = original


def _documents(name: str) -> list[Any]:
    if name == "snapshot":
        found = [json.loads(p.read_text()) for p in sorted(DATA.glob("scenarios/*/snapshot.json"))]
        for case in sorted(DATA.glob("cases/*.json")):
            loaded = json.loads(case.read_text())
            found += [c["snapshot"] for c in loaded.get("cases", []) if "snapshot" in c][:1]
        return found
    return [json.loads(p.read_text()) for p in sorted(DATA.glob("scenarios/*/request.json"))]


@pytest.mark.parametrize("name", codegen.NAMES)
def test_shipped_and_run_time_validators_agree(name: str) -> None:
    """Every golden document and each of its one-value mutants: the same answer."""
    shipped = schemas._compiled(name)
    text = schemas.schema_text(name)  # a parse of its own: compiling rewrites its `$ref`s
    fresh = fastjsonschema.compile(json.loads(text), detailed_exceptions=False)

    def answer(validate: Any, document: Any) -> bool:
        try:
            validate(document)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    documents = _documents(name)
    assert len(documents) > 20
    seen = {True: 0, False: 0}
    for document in documents:
        for mutant in _mutants(document):
            expected = answer(fresh, mutant)
            assert answer(shipped, mutant) is expected, json.dumps(mutant)[:300]
            seen[expected] += 1
    assert min(seen.values()) > 100  # both answers are exercised
