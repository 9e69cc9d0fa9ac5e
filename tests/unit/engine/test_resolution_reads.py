"""What `resolve_principal` reads of a snapshot's policies: only whether one names a key of
`RESOLUTION_NAMES` (`_names_key`), the claim fix verification's patched snapshots rest on when
they share their base's kept resolutions (`Snapshot.resolved`). Checked on the module's code:
every function resolution reaches asks `_names_key` with that tuple alone, and reads no policy
text otherwise."""

from __future__ import annotations

import ast
import inspect

from chalicelib.engine import resolve


def _reached(tree: ast.Module, start: str) -> dict[str, ast.FunctionDef]:
    """The module's functions `start` reaches by name."""
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    reached: dict[str, ast.FunctionDef] = {}
    todo = [start]
    while todo:
        name = todo.pop()
        if name in reached or name not in functions:
            continue
        reached[name] = functions[name]
        todo += [n.id for n in ast.walk(functions[name]) if isinstance(n, ast.Name)]
    return reached


def test_resolution_reads_of_policies_are_the_keys_it_names() -> None:
    tree = ast.parse(inspect.getsource(resolve))
    reached = _reached(tree, "resolve_principal")
    asked = [
        call
        for function in reached.values()
        for call in ast.walk(function)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "_names_key"
    ]
    assert asked, "resolution asks whether a policy names aws:userid"
    assert all(ast.unparse(call.args[2]) == "RESOLUTION_NAMES" for call in asked)
    # No other way to an IAM policy's text: an entity's inline or attached policies, the
    # managed policies, a document (but the one `_document_names` searches), compiled policies.
    policy_parts = {"inline", "attached", "managed", "document", "versions", "statements"}
    for name, function in reached.items():
        read = {n.attr for n in ast.walk(function) if isinstance(n, ast.Attribute)}
        assert not read & (policy_parts - ({"document"} if name == "_document_names" else set()))
