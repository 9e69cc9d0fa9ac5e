"""Import guard: the pure core must never import boto3, botocore or chalice, even indirectly.

Imports every pure-core module in this interpreter with a meta-path hook that refuses the banned
packages, so an indirect import (core -> helper -> boto3) fails too. Exit 1 on a violation.
"""

from __future__ import annotations

import importlib
import importlib.abc
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

BANNED = {"boto3", "botocore", "chalice"}
PURE_PACKAGES = (
    "chalicelib.engine",
    "chalicelib.diagnose",
    "chalicelib.events",
    "chalicelib.report",
)
PURE_MODULES = (
    "chalicelib.model",
    "chalicelib.arn",
    "chalicelib.snapshot",
    "chalicelib.request",
    "chalicelib.pipeline",
    "chalicelib.resolved_forms",
    "chalicelib.runbook_verdicts",
    "chalicelib.aggregation",
)


class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None, target: object = None) -> None:
        if fullname.split(".")[0] in BANNED:
            raise ImportError(f"pure core imported {fullname}")
        return None


def _modules() -> list[str]:
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    names = [m for m in PURE_MODULES if (root / (m.replace(".", "/") + ".py")).exists()]
    for package in PURE_PACKAGES:
        pkg_path = root / package.replace(".", "/")
        if not pkg_path.is_dir():
            continue
        names.append(package)
        prefix = f"{package}."
        names.extend(info.name for info in pkgutil.walk_packages([str(pkg_path)], prefix))
    return names


def main() -> int:
    sys.meta_path.insert(0, _Refuse())
    failures = []
    names = _modules()
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as error:
            failures.append(f"{name}: {error}")
    for failure in failures:
        print(f"import guard: {failure}", file=sys.stderr)
    if not failures:
        print(f"import guard: {len(names)} pure-core modules import no boto3/botocore/chalice")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
