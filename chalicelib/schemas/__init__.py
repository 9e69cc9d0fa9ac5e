"""JSON Schemas of the contracts (snapshot, request) and a fast validity check.

`conforms` runs a compiled validator (fastjsonschema: microseconds per document) so the happy
path of a large batch stays cheap; only an invalid document goes through `jsonschema`, whose
best-matching error names the offending field. The schemas use only draft-07 keywords, which
both libraries read the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema


@cache
def schema(name: str) -> dict[str, Any]:
    """The parsed `<name>.schema.json` of this package."""
    text = resources.files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _compiled(name: str) -> Callable[[Any], Any]:
    validate: Callable[[Any], Any] = fastjsonschema.compile(schema(name))
    return validate


def conforms(name: str, document: Any) -> bool:
    """True when `document` is valid against the `name` schema."""
    try:
        _compiled(name)(document)
    except fastjsonschema.JsonSchemaException:
        return False
    return True
