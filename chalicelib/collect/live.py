"""`Boto3SnapshotSource`: the live account, read through boto3, concurrently and cached.

Independent reads run in a thread pool; reads that depend on an earlier answer (a group's
policies after the user's groups, a KMS key after the object head) are scheduled as soon as
that answer arrives, so a cold collection is only as deep as its longest chain of dependent
calls. Results are cached per warm container for `ttl_seconds`, so a burst of denials for
the same principal and bucket reads each document once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, ClassVar

from chalicelib.arn import parse_arn
from chalicelib.collect.base import (
    Fetched,
    Present,
    Read,
    ReadCache,
    ReadPlan,
    Unreadable,
    jsonable,
)
from chalicelib.collect.clients import Boto3Clients
from chalicelib.collect.ec2 import VpcEndpointCollector
from chalicelib.collect.iam import IamCollector
from chalicelib.collect.kms import KmsKeyCollector
from chalicelib.collect.organizations import OrganizationCollector
from chalicelib.collect.s3 import (
    AccessPointCollector,
    AccountSettingsCollector,
    BucketCollector,
    ObjectCollector,
)
from chalicelib.collect.source import CollectionScope, scope_for_request
from chalicelib.model import AccessRequest, Json


def utc_now() -> datetime:
    return datetime.now(UTC)


class Boto3SnapshotSource:
    """Reads a snapshot document (DESIGN 3.2) for one request from the live account."""

    permissions: ClassVar[tuple[str, ...]] = ("sts:GetCallerIdentity",)

    def __init__(
        self,
        clients: Boto3Clients,
        *,
        account_id: str | None = None,
        partition: str = "aws",
        org_read_role_arn: str | None = None,
        read_objects: bool = True,
        ttl_seconds: float = 60.0,
        max_workers: int = 16,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._clients = clients
        self._identity: tuple[str, str] | None = (account_id, partition) if account_id else None
        self._org_read_role_arn = org_read_role_arn or None
        self.read_objects = read_objects  # False: no HeadObject / GetObjectAcl (READ_OBJECTS)
        self._clock = clock
        self._cache = ReadCache(ttl_seconds=ttl_seconds, clock=clock)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="collect")
        self._assumed: dict[str, Boto3Clients] = {}
        self._lock = threading.Lock()
        self.last_round_trips = 0  # sequential AWS round trips of the last collection

    def snapshot_for(self, request: AccessRequest) -> Json:
        return self.collect(scope_for_request(request))

    def clear_cache(self) -> None:
        self._cache.clear()

    def collect(self, scope: CollectionScope) -> Json:
        """Read everything `scope` names.

        A refused or persistently failing read becomes an `$unreadable` marker; `CollectError`
        is raised only for transient errors (throttling, 5xx) that outlast botocore's retries.
        """
        plan = ReadPlan(self._pool, self._cache)
        clients = self._clients
        iam = IamCollector(clients.iam(), plan)
        buckets = BucketCollector(clients.s3(), plan)
        objects = ObjectCollector(clients.s3(), plan, read_objects=self.read_objects)
        account = AccountSettingsCollector(clients.s3control(), plan)
        access_points = AccessPointCollector(clients.s3control(), plan)
        kms = KmsKeyCollector(clients.kms, plan)
        endpoints = VpcEndpointCollector(clients.ec2(), plan)
        organization = OrganizationCollector(
            clients, plan, org_read_role_arn=self._org_read_role_arn, assumed_clients=self._assume
        )
        identity: dict[str, Any] = {}
        organization.start()

        def on_identity(account_id: str, partition: str) -> None:
            identity.update(account_id=account_id, partition=partition)
            account.add_account(account_id)
            organization.add_account(account_id)

        self._with_identity(plan, on_identity)
        for principal_arn in scope.principal_arns:
            iam.add_principal(principal_arn)
        follow = kms.add_key if scope.follow_kms_keys else None
        for bucket in scope.buckets:
            buckets.add_bucket(bucket, on_default_kms_key=follow)
        for ref in scope.objects:
            entry = buckets.add_bucket(ref.bucket, on_default_kms_key=follow)
            objects.add_object(
                entry, ref.bucket, ref.key, version_id=ref.version_id, on_kms_key=follow
            )
        for key_id in scope.kms_key_ids:
            kms.add_key(key_id)
        for endpoint_id in scope.vpc_endpoint_ids:
            endpoints.add_endpoint(endpoint_id)
        for access_point_arn in scope.access_point_arns:
            access_points.add_access_point(access_point_arn)
        plan.run()
        self.last_round_trips = plan.round_trips

        s3: Json = {"buckets": buckets.document(), "access_points": access_points.document()}
        if account.public_access_block is not None:
            s3["account_public_access_block"] = account.public_access_block
        document: Json = {
            "account_id": identity.get("account_id", ""),
            "partition": identity.get("partition", "aws"),
            "region": clients.region_name,
            "collected_at": self._clock().isoformat(),
            "iam": iam.document(),
            "s3": s3,
            "kms": kms.document(),
            "vpc_endpoints": endpoints.document(),
        }
        org_part = organization.document()
        if org_part is not None:
            document["organization"] = org_part
        result: Json = jsonable(document)
        return result

    def _with_identity(self, plan: ReadPlan, then: Callable[[str, str], None]) -> None:
        """Call `then(account_id, partition)`: given, remembered, or read once with STS."""
        if self._identity is not None:
            then(*self._identity)
            return
        sts = self._clients.sts()

        def on_identity(result: Fetched) -> None:
            match result:
                case Present(value=caller):
                    arn = parse_arn(str(caller["Arn"]))
                    self._identity = (str(caller["Account"]), arn.partition if arn else "aws")
                    then(*self._identity)
                case Unreadable():
                    pass  # GetCallerIdentity cannot be denied; nothing account-wide to read

        plan.read(
            Read(
                key=("sts:GetCallerIdentity",),
                call=sts.get_caller_identity,
                needs="sts:GetCallerIdentity",
                what="the collector's credentials",
            ),
            on_identity,
        )

    def _assume(self, credentials: Json) -> Boto3Clients:
        """Clients for the organization-read role's credentials, built once per key id."""
        with self._lock:
            key_id = str(credentials["AccessKeyId"])
            clients = self._assumed.get(key_id)
            if clients is None:
                clients = self._clients.with_credentials(credentials)
                self._assumed = {key_id: clients}
            return clients
