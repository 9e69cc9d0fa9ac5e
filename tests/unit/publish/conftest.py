"""Fixtures of the store and publisher twin tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.model import Finding

from .builders import build_finding


@pytest.fixture
def make_finding() -> Callable[..., Finding]:
    return build_finding
