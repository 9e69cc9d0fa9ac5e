"""The demo names the alarms and dashboard a deployment has, as the template creates them: it
printed names without the stage and region, which no deployed account holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.demo.run import ALARMS, DASHBOARD

TEMPLATE = Path(__file__).resolve().parents[2] / ".chalice" / "resources.json"


def _names(node: Any, field: str) -> set[str]:
    """Every `field` of the template's resources, its Fn::Sub placeholders spelt as the demo
    spells them."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == field:
                text = value.get("Fn::Sub", value) if isinstance(value, dict) else value
                text = text[0] if isinstance(text, list) else text
                found.add(text.replace("${Stage}", "<stage>").replace("${AWS::Region}", "<region>"))
            else:
                found |= _names(value, field)
    elif isinstance(node, list):
        for value in node:
            found |= _names(value, field)
    return found


def test_the_demo_names_the_templates_alarms_and_dashboard() -> None:
    template = json.loads(TEMPLATE.read_text())

    assert set(ALARMS) <= _names(template, "AlarmName")
    assert _names(template, "DashboardName") == {DASHBOARD}
