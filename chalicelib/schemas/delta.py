"""The check of a document that shares its parts with a document already found valid.

Fix verification loads the snapshot document with one change, many times: the rest is the very
objects of a document checked before. `conforms_like(name, new, old)` is True only when `new`
is valid, given that `old` is; it walks both along the schema as fastjsonschema (the full check)
reads it, and checks only what is not the same object as in `old`:

- an object or array whose schema (past a bare `$ref`) has only local keywords (`type`,
  `required`, `properties`, `additionalProperties`, `propertyNames`, `items` with one schema,
  annotations) is checked keyword by keyword: properties and items are independent, so a value
  that is the very object of `old` under the same property (or an item of the old array) is
  valid; any other is walked against the old one (same property or index), or checked whole;
- at an `anyOf`, the walk goes on in the branch that accepted the old value when every other
  branch is shown to reject it (its `type`, or a `required` key missing); else the new value is
  checked whole;
- anything else (`enum`, `pattern`, `oneOf`, `$ref` beside other keywords...) is checked whole,
  by a validator compiled from that part of the schema (same library, draft and options).

The rule is read from the schema at run time; a schema with references other than
`#/$defs/<name>`, nested `$id`s or anchors, or `default`s (the full check would fill them in)
is never walked. False means "not shown valid": the caller runs the full check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Final

import fastjsonschema

from ..lean_dataclass import dataclass
from . import schema_text

ANNOTATIONS: Final = frozenset({"title", "description", "$comment"})
LOCAL: Final = ANNOTATIONS | {
    "type",
    "required",
    "properties",
    "additionalProperties",
    "propertyNames",
    "items",
}
ROOT_LOCAL: Final = LOCAL | {"$schema", "$id", "$defs"}
ANY_OF: Final = ANNOTATIONS | {"anyOf"}
BARE_REF: Final = ANNOTATIONS | {"$ref"}
UNSAFE: Final = frozenset(
    {
        "default",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
    }
)
REF: Final = re.compile(r"#/\$defs/([^/~%]+)")  # no pointer escapes
# fastjsonschema's `type` check (draft04.JSON_TYPE_TO_PYTHON_TYPE), for the types that need no
# care about bool being an int.
PYTHON_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "object": (dict,),
    "array": (list, tuple),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
}
Validator = Callable[[Any], Any]


def conforms_like(name: str, new: Any, old: Any) -> bool:
    """True when `new` is valid against the `name` schema, given that `old` is (see above)."""
    walk = _walk(name)
    if walk is None:
        return False
    try:
        return walk.accepts(new, old, walk.root, root=True)
    except RecursionError:  # very deep documents: the full check decides
        return False


@cache
def _walk(name: str) -> _Walk | None:
    """The walk of the `name` schema; None when the schema is not plain enough to walk."""
    # Its own parse: fastjsonschema rewrites the `$ref`s of a schema it compiles (absolute
    # against its `$id`), so a copy another compile has seen could send ours to the network.
    root = json.loads(schema_text(name))
    return _Walk(root) if _plain(root, root, top=True) else None


def _plain(node: Any, root: Mapping[str, Any], *, top: bool = False) -> bool:
    """No reference other than an existing `#/$defs/<name>`, no nested `$id`, no anchors, no
    defaults, anywhere in `node` (keys are looked at wherever they are: a property named
    like a keyword only makes the answer No)."""
    if isinstance(node, list):
        return all(_plain(item, root) for item in node)
    if not isinstance(node, dict):
        return True
    if UNSAFE & node.keys() or ("$id" in node and not top):
        return False
    ref = node.get("$ref")
    if ref is not None and _target(ref, root) is None:
        return False
    return all(_plain(value, root) for value in node.values())


def _target(ref: Any, root: Mapping[str, Any]) -> Any:
    match = REF.fullmatch(ref) if isinstance(ref, str) else None
    defs = root.get("$defs")
    if match is None or not isinstance(defs, dict) or match[1] not in defs:
        return None
    return defs[match[1]]


@dataclass(frozen=True, slots=True)
class _Branch:
    """A branch of an anyOf, with what shows cheaply that it rejects a value."""

    node: Any
    types: tuple[type, ...] | None  # fastjsonschema's isinstance check of its `type`
    required: tuple[str, ...]

    def rejects(self, value: Any) -> bool:
        if not isinstance(self.node, dict):
            return self.node is False
        if self.types is not None and not isinstance(value, self.types):
            return True
        return isinstance(value, dict) and any(key not in value for key in self.required)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How the walk reads a schema node: `node` is past bare `$ref`s (None: a cycle of them)."""

    raw: Any
    node: Any
    branches: tuple[_Branch, ...] | None = None  # a bare anyOf
    objects: bool = False  # a dict is taken apart (local keywords only, `object` typed)
    arrays: bool = False  # a list is taken apart (local keywords, `items` one schema)


class _Walk:
    """Walks a new document along the schema, beside the old one (see the module doc)."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self._head: dict[str, Any] = {k: root[k] for k in ("$schema", "$defs") if k in root}
        self._compiled: dict[int, tuple[Any, Validator]] = {}
        self._plans: dict[int, _Plan] = {}
        self._root = self._read(root, ROOT_LOCAL)

    def accepts(self, new: Any, old: Any, node: Any, *, root: bool = False) -> bool:
        """True when `new` is valid against `node`, given that `old` is."""
        if new is old:
            return True
        plan = self._root if root and node is self.root else self._plan(node)
        if plan.branches is not None:
            left = [b for b in plan.branches if not b.rejects(old)]
            if len(left) == 1 and self.accepts(new, old, left[0].node):
                return True
        elif plan.objects and isinstance(new, dict) and isinstance(old, dict):
            return self._object(new, old, plan.node)
        elif plan.arrays and isinstance(new, list) and isinstance(old, list):
            return self._array(new, old, plan.node.get("items", True))
        return not root and self.whole(new, plan.node)

    def whole(self, value: Any, node: Any) -> bool:
        """`value` checked against `node` in full."""
        node = self._plan(node).node
        if not isinstance(node, dict):
            return node is True
        hit = self._compiled.get(id(node))
        if hit is None or hit[0] is not node:
            try:
                check = fastjsonschema.compile({**self._head, **node}, detailed_exceptions=False)
            except fastjsonschema.JsonSchemaException:  # e.g. not a schema: not shown valid
                return False
            hit = self._compiled[id(node)] = (node, check)
        try:
            hit[1](value)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def _object(self, new: dict[str, Any], old: dict[str, Any], node: dict[str, Any]) -> bool:
        if any(key not in new for key in node.get("required", ())):
            return False
        properties = node.get("properties", {})
        extra = node.get("additionalProperties", True)
        names = node.get("propertyNames")
        for key, value in new.items():
            if names is not None and key not in old and not self.whole(key, names):
                return False
            sub = properties.get(key, extra)
            if sub is True:
                continue
            if key in old:
                if not self.accepts(value, old[key], sub):
                    return False
            elif not self.whole(value, sub):
                return False
        return True

    def _array(self, new: list[Any], old: list[Any], items: Any) -> bool:
        known: set[int] | None = None
        for i, item in enumerate(new):
            if i < len(old) and item is old[i]:
                continue
            if known is None:
                known = {id(x) for x in old}  # `old` holds them: no id is reused meanwhile
            if id(item) in known:
                continue
            if not (self.accepts(item, old[i], items) if i < len(old) else self.whole(item, items)):
                return False
        return True

    def _plan(self, node: Any) -> _Plan:
        hit = self._plans.get(id(node))
        if hit is None or hit.raw is not node:
            hit = self._plans[id(node)] = self._read(node, LOCAL)
        return hit

    def _read(self, raw: Any, local: frozenset[str]) -> _Plan:
        node = self._bare(raw)
        if not isinstance(node, dict):
            return _Plan(raw, node)
        keys = node.keys()
        if "anyOf" in node and keys <= ANY_OF and isinstance(node["anyOf"], list):
            return _Plan(raw, node, branches=tuple(map(self._branch, node["anyOf"])))
        if not keys <= local:
            return _Plan(raw, node)
        types = node.get("type")
        names = set(types) if isinstance(types, list) else {types}
        return _Plan(
            raw,
            node,
            objects=types is None or "object" in names,
            arrays=(types is None or "array" in names)
            and isinstance(node.get("items", True), (dict, bool)),
        )

    def _branch(self, raw: Any) -> _Branch:
        node = self._bare(raw)
        if not isinstance(node, dict) or "$ref" in node:  # fastjsonschema reads a $ref alone
            return _Branch(node, None, ())  # shown to reject only when it is `false`
        types = node.get("type")
        names: list[Any] = types if isinstance(types, list) else [types]
        known = types is not None and all(name in PYTHON_TYPES for name in names)
        python = tuple(t for name in names for t in PYTHON_TYPES.get(name, ()))
        return _Branch(node, python if known else None, tuple(node.get("required", ())))

    def _bare(self, node: Any) -> Any:
        """`node` past `$ref`s that stand alone (with annotations at most)."""
        for _ in range(64):
            if not (isinstance(node, dict) and "$ref" in node and node.keys() <= BARE_REF):
                return node
            node = _target(node["$ref"], self.root)
        return None  # a cycle of references: not shown valid
