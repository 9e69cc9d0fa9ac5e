"""docs/deploy.md names every setting a deployer has: each Parameter and Output of the merge
template has its row in the guide's tables, and each environment variable `wiring` reads is
named in the guide (docs that match the code)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from chalicelib.wiring import read_settings

PROJECT = Path(__file__).resolve().parents[3]
GUIDE = PROJECT / "docs" / "deploy.md"
MERGE_TEMPLATE = PROJECT / ".chalice" / "resources.json"
# Not deployment settings: the AWS SDK's own variables, which Lambda sets.
SDK_VARIABLES = frozenset({"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"})


class _Recording(Mapping[str, str]):
    """An empty environment that remembers every variable asked of it."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        raise KeyError(name)

    def get(self, name: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(name)
        return default

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _table_rows(text: str, heading: str) -> set[str]:
    """The first-column names (in backticks) of the table under `heading`."""
    section = text.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]
    return {
        name
        for line in section.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([A-Za-z0-9_]+)`", line.split("|")[1])
    }


def test_deploy_guide_names_every_parameter_output_and_variable() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    template = json.loads(MERGE_TEMPLATE.read_text(encoding="utf-8"))

    parameters = set(template["Parameters"]) - _table_rows(guide, "### Parameters")
    assert not parameters, f"Parameters without a row in docs/deploy.md: {sorted(parameters)}"

    outputs = set(template["Outputs"]) - _table_rows(guide, "### Outputs")
    assert not outputs, f"Outputs without a row in docs/deploy.md: {sorted(outputs)}"

    environment = _Recording()
    read_settings(environment)
    unnamed = sorted(name for name in environment.asked - SDK_VARIABLES if f"`{name}`" not in guide)
    assert not unnamed, f"environment variables docs/deploy.md does not name: {unnamed}"
