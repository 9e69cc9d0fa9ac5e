"""The `SnapshotSource` port and the scope of one collection (what a request needs read)."""

from __future__ import annotations

from typing import Protocol

from ..aggregation import MemberRoleUnavailable
from ..lean_dataclass import dataclass
from ..model import AccessRequest, Json
from ..snapshot import Snapshot


class SnapshotSource(Protocol):
    """Gathers every document the engine needs for one request (a DESIGN 3.2 snapshot)."""

    def snapshot_for(self, request: AccessRequest) -> Json: ...


class SharedSnapshotSource(SnapshotSource, Protocol):
    """A source whose snapshot is the same for every request (a file): it hands out one loaded
    snapshot, so what the engine compiles and remembers serves every request. Told by its
    `loaded_for` method (`service._collect`), not by a runtime protocol check."""

    def loaded_for(self, request: AccessRequest) -> Snapshot: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Collected:
    """A request's snapshot, and the member roles that could not be assumed while reading it
    (the parts of those accounts are `$unreadable` markers in the snapshot)."""

    snapshot: Json
    unavailable: tuple[MemberRoleUnavailable, ...] = ()


class AccountsSource(SnapshotSource, Protocol):
    """A source that reads several accounts of an organization for one request. Told by its
    `collect_request` method (`service._collect`), not by a runtime protocol check."""

    def collect_request(self, request: AccessRequest) -> Collected: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectRef:
    bucket: str
    key: str
    version_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectionScope:
    """What to read: principals, buckets, objects, KMS keys, VPC endpoints, access points.

    With `follow_kms_keys`, the SSE-KMS key of each object head and each bucket's default
    encryption key are read too. Without `account_settings`, the account's S3 Public Access
    Block is not read (another account's side of a request needs only its IAM, keys and
    organization path). With `canonical_id`, the account's canonical user id (ListBuckets
    `Owner.ID`) is read: another account's side, whose ACL grants name it.
    """

    principal_arns: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    objects: tuple[ObjectRef, ...] = ()
    kms_key_ids: tuple[str, ...] = ()
    follow_kms_keys: bool = True
    vpc_endpoint_ids: tuple[str, ...] = ()
    access_point_arns: tuple[str, ...] = ()
    account_settings: bool = True
    canonical_id: bool = False
    region: str | None = None  # the request's: its VPC endpoint's (None: the clients' region)


def scope_for_request(request: AccessRequest) -> CollectionScope:
    """Exactly what `request` needs: its principal, every bucket and key it touches, and so on.

    The KMS key is the request's own (`kms_key_arn`) when given, else the object's SSE-KMS key
    or the bucket's default key, found while collecting.
    """
    buckets = tuple(dict.fromkeys(op.bucket for op in request.operations if op.bucket))
    objects = tuple(
        dict.fromkeys(
            ObjectRef(bucket=op.bucket, key=op.key, version_id=op.version_id)
            for op in request.operations
            if op.bucket and op.key
        )
    )
    principal = request.principal
    other_account = bool(
        request.bucket_account
        and principal.account_id
        and principal.account_id != request.bucket_account
    )  # another account's IAM is not readable from here, and a same-named entity is not it
    return CollectionScope(
        principal_arns=(principal.principal_arn,)
        if principal.principal_arn and not other_account
        else (),
        buckets=buckets,
        objects=objects,
        kms_key_ids=(request.kms_key_arn,) if request.kms_key_arn else (),
        follow_kms_keys=request.kms_key_arn is None,
        vpc_endpoint_ids=(request.vpc_endpoint_id,) if request.vpc_endpoint_id else (),
        access_point_arns=(request.access_point_arn,) if request.access_point_arn else (),
        region=request.region,
    )
