"""`make package`: build the CloudFormation template of a stage and validate it with cfn-lint.

    python scripts/package.py [--stage dev|prod] [--out out/<stage>/]

Runs `chalice package --pkg-format cloudformation --merge-template .chalice/resources.json`
(the merge template adds the Parameters, the findings table, the findings and chat topics and
their policies, the dead-letter queue, KMS encryption, the DiagnoseRole, fixed role names, log
groups with retention, the alarms and their topic, the on-failure destination and the rule
state), then completes what a merge template cannot say:

- the stage (`Mappings.Deployment.Stage.Name`, used in role, alarm and dashboard names);
- the stage's Parameter defaults (`STAGE_DEFAULTS`: dev answers POST /diagnose, prod does not);
- the dashboard body, from `.chalice/dashboard.json` (readable JSON with `${...}` references,
  inserted as one `Fn::Sub` string),

and writes the member template (`.chalice/member.json`, organization mode: the rule that forwards
to the central bus and the read-only member role) beside it as `member.json`, its
`CentralStage` default set to the stage; then runs `cfn-lint` on both. Needs no AWS account:
`AWS_DEFAULT_REGION` defaults to us-east-1. Exit status: that of the first failing step.

The result deploys only through CloudFormation (`make deploy`): the policy files hold
CloudFormation functions (`Fn::If`, `Ref`, `Fn::Sub`), which `chalice deploy` cannot resolve.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = PROJECT / ".chalice" / "resources.json"
DASHBOARD = PROJECT / ".chalice" / "dashboard.json"
DASHBOARD_PLACEHOLDER = "DASHBOARD_BODY"
TEMPLATE_NAME = "sam.json"
MEMBER_TEMPLATE = PROJECT / ".chalice" / "member.json"
MEMBER_NAME = "member.json"

# Parameter defaults that differ by stage (a merge template has one default for every stage).
STAGE_DEFAULTS: dict[str, dict[str, str]] = {
    "dev": {"DiagnoseApi": "enabled"},
    "prod": {"DiagnoseApi": "disabled"},
}


def _tool(name: str) -> str:
    """The tool installed next to this interpreter (the venv), else the one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"package: {name} is not installed (pip install -e '.[dev]')")
    return found


def package(stage: str, out: Path) -> Path:
    """Write `sam.json` and `deployment.zip` for `stage` into `out`; returns the template path."""
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    if out.exists():
        shutil.rmtree(out)
    command = [
        _tool("chalice"),
        "--project-dir", str(PROJECT),
        "package",
        "--pkg-format", "cloudformation",
        "--stage", stage,
        "--merge-template", str(MERGE_TEMPLATE),
        str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, env=env, cwd=PROJECT)
    template = out / TEMPLATE_NAME
    complete(template, stage)
    write_member(out / MEMBER_NAME, stage)
    return template


def write_member(path: Path, stage: str) -> Path:
    """The member template for `stage` (its central role name depends on the stage)."""
    document = json.loads(MEMBER_TEMPLATE.read_text())
    document["Parameters"]["CentralStage"]["Default"] = stage
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def complete(template: Path, stage: str) -> None:
    """Set the stage, its Parameter defaults and the dashboard body in the packaged template."""
    document = json.loads(template.read_text())
    document["Mappings"]["Deployment"]["Stage"]["Name"] = stage
    for name, default in STAGE_DEFAULTS.get(stage, {}).items():
        parameter = document["Parameters"][name]
        assert default in parameter.get("AllowedValues", [default]), (name, default)
        parameter["Default"] = default
    dashboard = document["Resources"]["Dashboard"]["Properties"]
    assert dashboard["DashboardBody"] == DASHBOARD_PLACEHOLDER, "dashboard body already set"
    body = json.loads(DASHBOARD.read_text())
    dashboard["DashboardBody"] = {"Fn::Sub": json.dumps(body, separators=(",", ":"))}
    template.write_text(json.dumps(document, indent=2) + "\n")


def lint(template: Path) -> None:
    """Raise CalledProcessError when cfn-lint reports an error in `template` or in the member
    template beside it."""
    member = template.parent / MEMBER_NAME
    paths = [str(template), *([str(member)] if member.exists() else [])]
    subprocess.run([_tool("cfn-lint"), *paths], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="dev", choices=("dev", "prod"))
    parser.add_argument("--out", type=Path, help="output directory (default: out/<stage>)")
    args = parser.parse_args(argv)
    out = args.out or PROJECT / "out" / args.stage
    try:
        template = package(args.stage, out.resolve())
        lint(template)
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    sys.stdout.write(
        f"{template} and {template.parent / MEMBER_NAME}: packaged for stage {args.stage!r},"
        " cfn-lint clean\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
