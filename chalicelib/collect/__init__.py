"""Collectors: every AWS read the diagnoser makes, behind the `SnapshotSource` port.

Adapters: `Boto3SnapshotSource` (the live account), `FileSnapshotSource` (a snapshot file) and
`CompositeSnapshotSource` (a file laid over another source).
"""

from .file import CompositeSnapshotSource, FileSnapshotSource
from .source import CollectionScope, ObjectRef, SnapshotSource, scope_for_request

__all__ = [
    "CollectionScope",
    "CompositeSnapshotSource",
    "FileSnapshotSource",
    "ObjectRef",
    "SnapshotSource",
    "scope_for_request",
]
