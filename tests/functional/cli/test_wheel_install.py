"""End to end: the wheel installs into a fresh virtual environment WITHOUT the `aws` extra and
`s3doctor` works offline (`--version`, `--help`, a golden scenario), and says which extra to
install for the commands that call AWS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.engine import ENGINE_VERSION

ROOT = Path(__file__).resolve().parents[3]
SCENARIO = ROOT / "tests" / "data" / "scenarios" / "bucket-policy-deny-insecure-transport"


def _run(
    *argv: str | Path, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `s3doctor` console script of a fresh venv holding the wheel and its core deps."""
    where = tmp_path_factory.mktemp("wheel")
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "-q", "-w", where / "dist", ROOT,
    )  # fmt: skip
    wheels = list((where / "dist").glob("s3_403_doctor-*.whl"))
    if built.returncode != 0 or not wheels:
        pytest.skip(f"cannot build the wheel here: {built.stderr.strip()[-300:]}")
    venv = where / "venv"
    assert _run(sys.executable, "-m", "venv", venv).returncode == 0
    pip = _run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheels[0])
    assert pip.returncode == 0, pip.stderr
    assert _run(venv / "bin" / "python", "-c", "import boto3").returncode != 0
    return venv / "bin" / "s3doctor"


def test_version_names_the_package_and_the_engine(installed: Path) -> None:
    done = _run(installed, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"s3doctor 0.1.0 (engine {ENGINE_VERSION})"


def test_the_library_installs_as_s3doctor_and_nothing_named_chalicelib(installed: Path) -> None:
    python = installed.parent / "python"
    elsewhere = installed.parent  # not the checkout, whose `chalicelib/` `python -c` would see
    code = "import s3doctor.engine, s3doctor.diagnose.catalog as c; c.catalog_codes()"
    library = _run(python, "-c", code, cwd=elsewhere)
    assert library.returncode == 0, library.stderr
    clash = _run(python, "-c", "import chalicelib", cwd=elsewhere)
    assert clash.returncode != 0 and "No module named 'chalicelib'" in clash.stderr


def test_help_and_completion_work_without_boto3(installed: Path) -> None:
    assert _run(installed, "--help").returncode == 0
    assert _run(installed, "diagnose", "--help").returncode == 0
    completion = _run(installed, "completion", "bash")
    assert completion.returncode == 0 and "s3doctor" in completion.stdout


def test_offline_diagnosis_of_a_golden_scenario(installed: Path) -> None:
    done = _run(
        installed, "diagnose", "--snapshot", SCENARIO / "snapshot.json",
        "--request", SCENARIO / "request.json", "--output", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    golden = json.loads((SCENARIO / "golden.json").read_text())
    finding = json.loads(done.stdout)
    assert finding["decision"] == golden["decision"] == "explicit-deny"
    assert finding["blocked_by"] == golden["blocked_by"]


@pytest.mark.parametrize(
    "argv",
    [
        ["collect", "--bucket", "a-bucket", "--out", "-"],
        ["findings", "list", "--table", "t"],
        ["replay", "--since", "1h"],
        ["diagnose", "--resource-arn", "arn:aws:s3:::b/k", "--action", "s3:GetObject",
         "--requester-arn", "arn:aws:iam::111122223333:user/alice"],
    ],
)  # fmt: skip
def test_a_command_that_calls_aws_names_the_extra_in_one_line(
    installed: Path, argv: list[str]
) -> None:
    done = _run(installed, *argv)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "pip install 's3-403-doctor[aws]'" in lines[0]
