"""The member template's read-only role (`.chalice/member.json`), resolved for one account.

The demo creates each member's role from the template itself, so its trust and permissions are
the ones a StackSet deploys. Only the functions the template uses are resolved: `Ref` (to a
Parameter, its Default, or a pseudo parameter), `Fn::Sub` (string form), `Fn::If` on a
`Fn::Equals` Condition, `AWS::NoValue`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..lean_dataclass import dataclass
from ..model import Json

ROLE_RESOURCE = "MemberReadRole"
_NO_VALUE = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberRole:
    """The role as `iam:CreateRole` and `iam:PutRolePolicy` take it."""

    name: str
    description: str
    max_session_duration: int
    trust_policy: Json
    inline_policies: Mapping[str, Json]


def member_role(template_path: Path, parameters: Mapping[str, str]) -> MemberRole:
    """The template's `MemberReadRole` with `parameters` (and pseudo parameters) substituted."""
    template = json.loads(template_path.read_text(encoding="utf-8"))
    values = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    values.update(parameters)
    resolver = _Resolver(values, template.get("Conditions", {}))
    properties = resolver.resolve(template["Resources"][ROLE_RESOURCE]["Properties"])
    return MemberRole(
        name=properties["RoleName"],
        description=properties.get("Description", ""),
        max_session_duration=int(properties.get("MaxSessionDuration", 3600)),
        trust_policy=properties["AssumeRolePolicyDocument"],
        inline_policies={p["PolicyName"]: p["PolicyDocument"] for p in properties["Policies"]},
    )


class _Resolver:
    def __init__(self, values: Mapping[str, str], conditions: Mapping[str, Any]) -> None:
        self._values = values
        self._conditions = conditions

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(name, argument)] = node.items()
            if name == "Ref":
                return _NO_VALUE if argument == "AWS::NoValue" else self._values[argument]
            if name == "Fn::Sub":
                return re.sub(r"\$\{([\w:]+)\}", lambda m: self._values[m.group(1)], argument)
            if name == "Fn::If":
                condition, if_true, if_false = argument
                return self.resolve(if_true if self._holds(condition) else if_false)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}

    def _holds(self, condition: str) -> bool:
        left, right = self.resolve(self._conditions[condition]["Fn::Equals"])
        return bool(left == right)
