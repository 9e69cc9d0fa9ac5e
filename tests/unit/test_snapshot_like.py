"""Issue 15: `load_snapshot(doc, like=base)` is the full load, only cheaper.

For every golden scenario's snapshot: the documents fix verification loads (recorded while the
scenario is diagnosed: patched policies, the granted probe user, both at once), and mutants of
the scenario's document that share every unchanged part with it (a wrong type at each place of
the document, an `$unreadable` marker swapped in, a part removed, a part replaced by an equal
copy, a new user, role, policy or bucket, a broken statement) are loaded with `like` and in full
(from a deep copy). Both must accept the same documents, with the same error otherwise, and
index the same snapshot: every table in the same order, and the same evaluation of the
scenario's request.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from chalicelib import pipeline
from chalicelib.diagnose import remedies, verification
from chalicelib.engine import evaluate
from chalicelib.model import AccessRequest, InputError
from chalicelib.schemas import schema
from chalicelib.schemas.delta import _Walk, _walk, conforms_like
from chalicelib.snapshot import Snapshot, load_snapshot

from .diagnose.scenarios import Scenario, load_scenario, scenario_paths

PATHS = scenario_paths()
FIELDS = (
    "account_id",
    "partition",
    "region",
    "iam",
    "organization",
    "account_public_access_block",
    "buckets",
    "access_points",
    "kms_keys",
    "vpc_endpoints",
    "accounts",
)
TABLES = frozenset({"buckets", "access_points", "keys", "vpc_endpoints", "accounts", "objects"})
OPAQUE = frozenset({"PolicyDocument", "Document", "policy", "Content"})  # policies: any JSON
REMOVED = object()
PER_PLACE = 2  # places of the same kind (e.g. every grant of every ACL) tried at most


def _document(path: Path) -> Any:
    return json.loads((path / "snapshot.json").read_text(encoding="utf-8"))


def _outcome(load: Callable[[], Snapshot]) -> tuple[str, Any]:
    try:
        return "loaded", load()
    except InputError as error:
        return "refused", (error.field_path, error.message, str(error))


def _evaluation(request: AccessRequest, snapshot: Snapshot) -> Any:
    try:
        return evaluate(request, snapshot).to_dict()
    except Exception as error:  # the same failure on both sides is the same outcome
        return (type(error).__name__, str(error))


def _assert_same(doc: Any, like: Snapshot, request: AccessRequest) -> str:
    """`doc` loaded with `like` and in full (a deep copy: nothing shared) give the same;
    "loaded" or "refused"."""
    kind, shortcut = _outcome(lambda: load_snapshot(doc, like=like))
    full_kind, full = _outcome(lambda: load_snapshot(copy.deepcopy(doc)))
    assert kind == full_kind
    if kind == "refused":
        assert shortcut == full
        return kind
    assert shortcut.document is doc
    for name in FIELDS:  # repr: every value and every table's order
        assert repr(getattr(shortcut, name)) == repr(getattr(full, name)), name
    assert _evaluation(request, shortcut) == _evaluation(request, full)
    return kind


def _with(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    """`doc` with the value at `path` replaced (REMOVED: taken out), copying only the
    containers on the path, as the patch helpers do: everything else is shared."""
    if not path:
        return value
    head, *rest = path
    out: Any = dict(doc) if isinstance(doc, dict) else list(doc)
    if not rest and value is REMOVED:
        del out[head]
    else:
        out[head] = _with(doc[head], tuple(rest), value)
    return out


def _places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if (path and path[-1] in OPAQUE) or not isinstance(node, (dict, list)):
        return
    for key, value in node.items() if isinstance(node, dict) else enumerate(node):
        yield (*path, key)
        yield from _places(value, (*path, key))


def _kind(path: tuple[Any, ...]) -> tuple[str, ...]:
    """The place with list indexes and table keys (bucket names, account ids...) left out."""
    out: list[str] = []
    for i, part in enumerate(path):
        table = i > 0 and path[i - 1] in TABLES
        out.append("#" if isinstance(part, int) else "*" if table else str(part))
    return tuple(out)


def _mutants(
    doc: Any, seen: dict[tuple[str, ...], int], per_place: int = PER_PLACE
) -> Iterator[tuple[str, Any]]:
    """Documents sharing all but one part with `doc`: one change at each kind of place."""
    unreadable = {"$unreadable": "AccessDenied", "needs": "iam:GetAccountAuthorizationDetails"}
    for path in _places(doc):
        kind = _kind(path)
        if seen.get(kind, 0) >= per_place:
            continue
        seen[kind] = seen.get(kind, 0) + 1
        value = _at(doc, path)
        yield f"{path}: removed", _with(doc, path, REMOVED)
        yield f"{path}: wrong type", _with(doc, path, 5 if isinstance(value, str) else "x")
        yield f"{path}: null", _with(doc, path, None)
        yield f"{path}: unreadable", _with(doc, path, unreadable)
        yield f"{path}: an equal copy", _with(doc, path, copy.deepcopy(value))
        if isinstance(value, list) and value:
            yield f"{path}: a new entry", _with(doc, path, [*value, _renamed(value[-1])])
            yield f"{path}: emptied", _with(doc, path, [])
            yield f"{path}: a wrong entry", _with(doc, path, [*value, ["not", "an", "entry"]])
        if isinstance(value, dict) and value:
            yield f"{path}: emptied", _with(doc, path, {})
            name, first = next(iter(value.items()))
            yield f"{path}: a new key", _with(doc, path, {**value, f"{name}-new": first})


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _renamed(entry: Any) -> Any:
    """A new user, group, role or policy like `entry`, under another name and ARN."""
    if not isinstance(entry, dict):
        return entry
    out = dict(entry)
    for key in ("UserName", "GroupName", "RoleName", "PolicyName", "Arn", "VersionId"):
        if isinstance(out.get(key), str):
            out[key] += "-new"
    return out


def _broken(doc: Any) -> Iterator[tuple[str, Any]]:
    """A broken statement in each policy of the document (and a policy that is not JSON)."""
    for path in _places(doc):
        if path[-1] not in OPAQUE or not isinstance(_at(doc, path), dict):
            continue
        yield f"{path}: a broken statement", _with(doc, (*path, "Statement"), [{"Effect": 5}])
        yield f"{path}: not JSON", _with(doc, path, "{not json")


@pytest.mark.parametrize("shortcuts", [True, False])
def test_fix_verification_loads_are_full_loads(
    monkeypatch: pytest.MonkeyPatch, shortcuts: bool
) -> None:
    """Every document fix verification loads (with `like`) loads the same in full: with the
    verification's shortcuts (fewer loads: probes the patch cannot change, twin fixes) and
    without them (every probe's patched snapshot loaded)."""
    loads: list[tuple[Any, Snapshot | None, Scenario]] = []
    asked: list[Scenario] = []

    def recording(doc: Any, *, like: Snapshot | None = None) -> Snapshot:
        loads.append((doc, like, asked[-1]))
        return load_snapshot(doc, like=like)

    monkeypatch.setattr(remedies, "load_snapshot", recording)
    monkeypatch.setattr(verification, "ENABLED", shortcuts)
    for path in PATHS:
        asked.append(load_scenario(path))
        asked[-1].finding()
        pipeline.diagnose(asked[-1].request, asked[-1].snapshot)
    monkeypatch.undo()
    for doc, like, scenario in loads:
        assert like is not None
        _assert_same(doc, like, scenario.request)
    chained = [like for _, like, scenario in loads if like is not scenario.snapshot]
    assert len(loads) > (50 if shortcuts else 100) and len(chained) > 10  # a patched `like` too


def test_mutants_load_as_in_full() -> None:
    """One change anywhere in a golden snapshot (each kind of place a few times): the same
    acceptance, error and snapshot with `like` as in full; the like of a like too."""
    seen: dict[tuple[str, ...], int] = {}
    seen_probe: dict[tuple[str, ...], int] = {}
    tried = refused = 0
    for path in PATHS:
        scenario = load_scenario(path)
        doc = _document(path)
        base = load_snapshot(doc)
        for _name, mutant in [*_mutants(doc, seen), *_broken(doc)]:
            tried += 1
            refused += _assert_same(mutant, base, scenario.request) == "refused"
        probe = remedies.with_probe_user(doc, [{"Effect": "Allow", "Action": "s3:*"}])
        if probe is not None:  # a like of a like: mutants of the probe's document
            probed = load_snapshot(probe, like=base)
            for _name, mutant in _mutants(probe, seen_probe, per_place=1):
                _assert_same(mutant, probed, scenario.request)
    assert tried > 1000 and refused > 200  # both ways taken, many times


def test_a_document_checked_with_like_is_not_changed_by_diagnosis() -> None:
    """Identity stands for "checked and indexed" only while nothing changes a loaded document
    in place: diagnosing every scenario (fix verification included) changes none."""
    for path in PATHS:
        scenario = load_scenario(path)
        before = copy.deepcopy(scenario.snapshot.document)
        scenario.finding()
        pipeline.diagnose(scenario.request, scenario.snapshot)
        assert scenario.snapshot.document == before, path.name


SYNTHETIC: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["a"],
    "properties": {
        "a": {"type": "string", "enum": ["x", "y"]},
        "one": {"oneOf": [{"type": "object"}, {"type": "object", "required": ["k"]}]},
        "any": {"anyOf": [{"$ref": "#/$defs/leaf"}, {"type": "array", "uniqueItems": True}]},
        "pat": {"type": "object", "patternProperties": {"^n": {"type": "integer"}}},
        "closed": {
            "type": "object",
            "properties": {"p": {"$ref": "#/$defs/leaf"}},
            "additionalProperties": False,
            "propertyNames": {"maxLength": 3},
        },
        "refsib": {"$ref": "#/$defs/leaf", "type": "object", "required": ["z"]},
        "list": {"type": "array", "items": {"$ref": "#/$defs/leaf"}},
        "enum": {"anyOf": [{"enum": [[1]]}, {"type": "array", "items": {"type": "string"}}]},
        "anysib": {"anyOf": [{"type": "array"}, {"type": "object"}], "maxItems": 1},
    },
    "$defs": {
        "leaf": {"type": "object", "required": ["v"], "properties": {"v": {"type": "integer"}}}
    },
}


def test_the_walk_never_accepts_what_the_full_check_refuses() -> None:
    """On a schema with keywords the walk may not take apart (oneOf, enum, uniqueItems,
    patternProperties, additionalProperties false, propertyNames, $ref or anyOf beside other
    keywords, an anyOf branch with no type), a document the walk accepts, given a valid old
    one, is valid."""
    full = fastjsonschema.compile(SYNTHETIC, detailed_exceptions=False)
    walk = _Walk(SYNTHETIC)
    old: dict[str, Any] = {
        "a": "x",
        "one": {"j": 1},
        "any": {"v": 1},
        "pat": {"n1": 1},
        "closed": {"p": {"v": 2}},
        "refsib": {"v": 3},
        "list": [{"v": 1}, {"v": 2}],
        "enum": [1],
        "anysib": [1],
    }
    full(old)
    values = [None, 1, "y", "z", [], [1, 1], {}, {"v": 1}, {"v": "1"}, {"k": 1}, {"n1": "s"}]
    values += [{"p": {"v": 1}}, {"long": 1}, {"p": {"v": 1}, "q": 1}, [{"v": 1}], [{"v": "x"}]]
    values += [[{"v": 1}, {"v": 1}], {"v": 3, "z": 1}, [1, "s"], ["s"]]
    accepted = 0
    for key in [*old, "new"]:
        for value in values:
            doc = {**old, key: value}
            shown = walk.accepts(doc, old, SYNTHETIC, root=True)
            try:
                full(doc)
                valid = True
            except fastjsonschema.JsonSchemaException:
                valid = False
            assert valid or not shown, (key, value)
            accepted += shown
    assert accepted > 20


def test_the_shipped_schema_is_walked() -> None:
    """The snapshot schema is plain enough to walk: a document with one new user is shown
    valid without the full check."""
    doc = next(d for d in map(_document, PATHS) if "UserDetailList" in d.get("iam", {}))
    users = doc["iam"]["UserDetailList"]
    new = _with(doc, ("iam", "UserDetailList"), [*users, {"UserName": "u", "Arn": "arn"}])
    assert conforms_like("snapshot", new, doc)
    assert not conforms_like("snapshot", _with(new, ("account_id",), "12"), doc)
    assert "$defs" in schema("snapshot")


def test_the_walk_stays_local_after_a_compile_of_the_shared_schema() -> None:
    """fastjsonschema rewrites the `$ref`s of a schema it compiles against its `$id` (an https
    address): a compile of the shared parse (the run-time fallback, a test) must not send the
    walk's checks to the network (it did: URLError in the full suite)."""
    rewritten = copy.deepcopy(schema("snapshot"))
    fastjsonschema.compile(rewritten)
    assert any(ref.startswith("https://") for ref in _refs(rewritten))  # what is guarded
    walk = _walk("snapshot")
    assert walk is not None
    root = walk.root
    assert root is not schema("snapshot")
    assert _refs(root) and all(ref.startswith("#/$defs/") for ref in _refs(root))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_moved_removed_and_twice_named_entries_index_as_in_full() -> None:
    """IAM entries moved, removed, or under a name given twice: what was indexed at another
    place (where an unreadable part says where it is) or under a name another entry takes is
    indexed again."""
    scenario = next(
        s
        for s in map(load_scenario, PATHS)
        if len(s.snapshot.document.get("iam", {}).get("UserDetailList", [])) >= 1
    )
    doc = scenario.snapshot.document
    user = doc["iam"]["UserDetailList"][0]
    unreadable = {"$unreadable": "AccessDenied", "needs": "iam:ListUserPolicies"}
    other = {**user, "UserName": "other", "Arn": user["Arn"] + "-other"}
    users = [
        {**user, "UserPolicyList": unreadable},
        other,
        {**other, "Arn": user["Arn"] + "-twice"},  # the same name again: it wins
    ]
    base_doc = _with(doc, ("iam", "UserDetailList"), users)
    base = load_snapshot(base_doc)
    variants = [
        users[::-1],
        users[1:],
        users[:2],
        [users[1], users[0], users[2]],
        [users[0], users[2], users[1]],
        [users[0], users[0]],
        [dict(u) for u in users],
    ]
    for variant in variants:
        _assert_same(_with(base_doc, ("iam", "UserDetailList"), variant), base, scenario.request)


def test_what_only_the_slow_check_accepts_is_refused_with_or_without_like() -> None:
    """The two checks read some values differently: the fast one refuses an account id that
    ends with a newline (`$` is the end of the text) where the slow one, which names the field
    at fault, finds none. Such a document is refused all the same, named as the fast check
    names it, loaded with `like` or not (it loaded before)."""
    doc = next(d for d in map(_document, PATHS) if "UserDetailList" in d.get("iam", {}))
    base = load_snapshot(doc)
    changed = {**doc, "account_id": doc["account_id"] + "\n"}
    with pytest.raises(InputError) as full:
        load_snapshot(changed)
    with pytest.raises(InputError) as shortcut:
        load_snapshot(changed, like=base)
    assert str(shortcut.value) == str(full.value)
    assert str(full.value).startswith("snapshot.account_id: must match pattern")
