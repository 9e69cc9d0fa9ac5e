"""`make package`: build the CloudFormation template of one stage and validate it with cfn-lint.

    python scripts/package.py [--stage dev|prod] [--out out/]

Runs `chalice package --pkg-format cloudformation --merge-template .chalice/resources.json`
(the merge template adds the findings table, the topic, the dead-letter queue, the on-failure
destination and the rule state), then `cfn-lint` on the result. Needs no AWS account:
`AWS_DEFAULT_REGION` defaults to us-east-1. Exit status: that of the first failing step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = PROJECT / ".chalice" / "resources.json"
TEMPLATE_NAME = "sam.json"


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
    """Write `out/sam.json` and `out/deployment.zip` for `stage`; returns the template path."""
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
    return out / TEMPLATE_NAME


def lint(template: Path) -> None:
    """Raise CalledProcessError when cfn-lint reports an error in `template`."""
    subprocess.run([_tool("cfn-lint"), str(template)], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="dev", choices=("dev", "prod"))
    parser.add_argument("--out", type=Path, default=PROJECT / "out")
    args = parser.parse_args(argv)
    try:
        template = package(args.stage, args.out.resolve())
        lint(template)
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    sys.stdout.write(f"{template}: packaged for stage {args.stage!r}, cfn-lint clean\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
