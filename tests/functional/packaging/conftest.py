import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session", params=["dev", "prod"])
def packaged(request, tmp_path_factory):
    """(stage, template) after running scripts/package.py, which also runs cfn-lint."""
    stage = request.param
    out = tmp_path_factory.mktemp(f"package-{stage}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "scripts/package.py", "--stage", stage, "--out", str(out)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # cfn-lint included
    return stage, json.loads((out / "sam.json").read_text())
