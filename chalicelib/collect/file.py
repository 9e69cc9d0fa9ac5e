"""Snapshot documents from files, and a composite that lets a file fill what the account cannot."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..model import AccessRequest, InputError, Json
from ..snapshot import Snapshot, load_snapshot, validate_snapshot_document
from .base import is_unreadable
from .source import SnapshotSource


def read_snapshot_document(path: str | Path, *, field: str = "snapshot") -> Json:
    """Read and validate a snapshot file; `InputError` naming `field` and the path otherwise."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(field, f"cannot read {path}: {error.strerror or error}") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            field, f"{path} is not JSON: {error.msg} at line {error.lineno}"
        ) from error
    if not isinstance(document, dict):
        raise InputError(field, f"{path} must hold a JSON object, not {type(document).__name__}")
    validate_snapshot_document(document)
    return document


class FileSnapshotSource:
    """Serves the same snapshot file for every request (offline diagnosis)."""

    def __init__(self, path: str | Path) -> None:
        self._document = read_snapshot_document(path)
        self._loaded: Snapshot | None = None

    def snapshot_for(self, request: AccessRequest) -> Json:
        return copy.deepcopy(self._document)

    def loaded_for(self, request: AccessRequest) -> Snapshot:
        """The snapshot loaded once for every request: its compiled policies, verdict trees
        and patched snapshots serve them all, as in a batch (a replay's events). The document
        was checked when read (`load_snapshot` checks the same schema)."""
        if self._loaded is None:
            self._loaded = load_snapshot(copy.deepcopy(self._document))
        return self._loaded


def overlay(base: Any, extra: Any) -> Any:
    """`base` with `extra` laid over it: dicts merge key by key, anything else is replaced.

    An `$unreadable` marker on either side is replaced whole, never merged into.
    """
    if (
        isinstance(base, dict)
        and isinstance(extra, dict)
        and not is_unreadable(base)
        and not is_unreadable(extra)
    ):
        merged = dict(base)
        for key, value in extra.items():
            merged[key] = overlay(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(extra)


class CompositeSnapshotSource:
    """A primary source with a document laid over it (e.g. SCPs given with `--scp`)."""

    def __init__(self, primary: SnapshotSource, overlay_doc: Json) -> None:
        self._primary = primary
        self._overlay = overlay_doc

    def snapshot_for(self, request: AccessRequest) -> Json:
        result: Json = overlay(self._primary.snapshot_for(request), self._overlay)
        return result
