"""JSON Schemas of the contracts (snapshot, request) and a fast validity check.

`conforms` runs a compiled validator (fastjsonschema: microseconds per document) so the happy
path of a large batch stays cheap; only an invalid document goes through `jsonschema`, whose
best-matching error names the offending field. The schemas use only draft-07 keywords, which
both libraries read the same way. The validators' code is generated once and shipped
(`<name>_validator.py`, see `codegen`): a start does not generate and compile it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

import fastjsonschema


@cache
def schema_text(name: str) -> str:
    """The text of `<name>.schema.json` of this package."""
    return Path(__file__).with_name(f"{name}.schema.json").read_text(encoding="utf-8")


def digest(name: str) -> str:
    """SHA-256 of the schema's text, as its generated validator records it."""
    return hashlib.sha256(schema_text(name).encode()).hexdigest()


@cache
def schema(name: str) -> dict[str, Any]:
    """The parsed `<name>.schema.json` of this package."""
    loaded: dict[str, Any] = json.loads(schema_text(name))
    return loaded


@cache
def _compiled(name: str) -> Callable[[Any], Any]:
    """The shipped validator of the schema while it was generated from this very text, else
    the schema compiled now (the same code, generated at run time)."""
    shipped = import_module(f".{name}_validator", __name__)
    if digest(name) == shipped.SCHEMA_SHA256:
        validate: Callable[[Any], Any] = shipped.validate
        return validate
    fresh = json.loads(schema_text(name))  # compiling rewrites its `$ref`s: not the shared one
    compiled: Callable[[Any], Any] = fastjsonschema.compile(fresh, detailed_exceptions=False)
    return compiled


def conforms(name: str, document: Any) -> bool:
    """True when `document` is valid against the `name` schema."""
    try:
        _compiled(name)(document)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def refusal(name: str, document: Any) -> str | None:
    """The compiled validator's reason for refusing `document` ("data.account_id must match
    pattern ..."), None when it accepts it."""
    try:
        _compiled(name)(document)
    except fastjsonschema.JsonSchemaException as error:
        return str(error)
    return None
