"""Where the read-only `shared/` folder lives: beside the project (`../shared`) in a checkout and
in CI; `S3DOCTOR_SHARED` overrides it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("S3DOCTOR_SHARED", ROOT.parent / "shared"))
CORPUS = Path(os.environ.get("IAM_SIMULATE_CORPUS", SHARED / "conformance" / "iam-simulate"))
FIXTURES = SHARED / "fixtures" / "cloudtrail"


def require(path: Path) -> Path:
    """Skip when a shared folder is missing; fail in CI, where it must be there."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing in CI")
        pytest.skip(f"{path} is not available")
    return path
