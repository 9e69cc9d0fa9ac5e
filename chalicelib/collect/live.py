"""`Boto3SnapshotSource`: the live account, read through boto3, concurrently and cached.

Independent reads run in a thread pool; reads that depend on an earlier answer (a group's
policies after the user's groups, a KMS key after the object head) are scheduled as soon as
that answer arrives, so a cold collection is only as deep as its longest chain of dependent
calls. Results are cached per warm container for `ttl_seconds`, so a burst of denials for
the same principal and bucket reads each document once.

`MemberAccountSource` (an organization deployment, MEMBER_ROLE_NAME set) collects each request
in its bucket's account: with the function's own credentials in its own account, elsewhere as
the member role `arn:<partition>:iam::<account>:role/<MEMBER_ROLE_NAME>`, assumed with STS and
cached per account until `margin` before the credentials expire. A role that is missing or
refuses (AccessDenied, NoSuchEntity) raises `MemberRoleUnavailable` (the event then gets a
finding saying what to deploy); that refusal is remembered for `refusal_ttl`.

A cross-account request between two accounts of the organization is read on both sides: the
bucket side at the top level (in the bucket's account, `request.bucket_account`, whichever
account's copy of the event arrived), the requester's principal and organization path under
`accounts[<requester>]`, and a KMS key of a third account in its own account (`kms.keys`, its
organization path under `accounts[<key account>]`). Another account whose role cannot be assumed
leaves its IAM and keys `$unreadable` (its organization path is still read centrally) and is
returned in `Collected.unavailable`. A VPC endpoint that the record says another account of the
organization owns (`vpcEndpointAccountId`) is read in that account, and so is an access point
of another account of the organization (a cross-account access point: its ARN's account). A
requester outside the organization gets the bucket side alone; a bucket of an account outside
the organization (when its accounts are known) is read with the function's own credentials, as
in a single-account deployment, not through a member role it cannot have, and the requester's
side is read in its account when that is inside. The organization's accounts are
ORGANIZATION_ACCOUNT_IDS, or read from AWS Organizations (`organization`,
collect/membership.py), once per request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from ..aggregation import MemberRoleUnavailable
from ..arn import parse_arn
from ..engine.resolve import recorded_endpoint_owner
from ..model import AccessRequest, Json, PrincipalType
from .base import (
    Continuation,
    Fetched,
    Present,
    Read,
    ReadCache,
    ReadPlan,
    Unreadable,
    jsonable,
)
from .clients import Boto3Clients
from .ec2 import VpcEndpointCollector
from .iam import IamCollector
from .kms import KmsKeyCollector
from .organizations import OrganizationCollector
from .s3 import (
    AccessPointCollector,
    AccountSettingsCollector,
    BucketCollector,
    ObjectCollector,
)
from .shared_cache import ReadSharing, SharedPlan
from .source import Collected, CollectionScope, scope_for_request


def _account_of(arn: str) -> str | None:
    parsed = parse_arn(arn)
    return parsed.account if parsed and parsed.account else None


def utc_now() -> datetime:
    return datetime.now(UTC)


ProgressHook = Callable[[int, int], None]
"""`(done, total)` after each step of a collection: one read answered (a cached or shared
answer counts too). `total` is the steps known so far: it grows when an answer names more to
read (a user's groups, a bucket's default KMS key)."""


class _ReportingPlan(ReadPlan):
    """A `ReadPlan` that calls `on_progress(done, total)` after each read's continuation (on the
    thread that runs the plan, so the hook needs no lock)."""

    def __init__(
        self, pool: ThreadPoolExecutor, cache: ReadCache, on_progress: ProgressHook
    ) -> None:
        super().__init__(pool, cache)
        self._on_progress = on_progress
        self.done = 0
        self.total = 0

    def read(self, read: Read, then: Continuation) -> None:
        self.total += 1

        def counted(result: Fetched) -> None:
            then(result)  # may schedule more reads: counted in the total reported now
            self.done += 1
            self._on_progress(self.done, self.total)

        super().read(read, counted)


class Boto3SnapshotSource:
    """Reads a snapshot document (DESIGN 3.2) for one request from the live account."""

    permissions: ClassVar[tuple[str, ...]] = ("sts:GetCallerIdentity", "s3:ListAllMyBuckets")

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
        org_clients: Boto3Clients | None = None,
        on_progress: ProgressHook | None = None,
        sharing: ReadSharing | None = None,
    ) -> None:
        self._clients = clients
        # the event function's: reads kept in the shared table, bounded per account (no progress)
        self._sharing = sharing
        # None (the Lambda function): no counting at all; `s3doctor collect` draws a bar with it
        self.on_progress = on_progress
        # Organization reads (and ORG_READ_ROLE_ARN) with these; a member account's collector
        # gets the central function's own clients: member roles read no organization policy.
        self._org_clients = org_clients or clients
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

    def close(self) -> None:
        """Let the read threads end (a source replaced by one with fresh credentials)."""
        self._pool.shutdown(wait=False)

    def collect(self, scope: CollectionScope) -> Json:
        """Read everything `scope` names.

        A refused or persistently failing read becomes an `$unreadable` marker; `CollectError`
        is raised only for transient errors (throttling, 5xx) that outlast botocore's retries.
        """
        plan = self._plan()
        clients = self._clients
        iam = IamCollector(clients.iam(), plan)
        buckets = BucketCollector(clients.s3(), plan)
        objects = ObjectCollector(clients.s3(), plan, read_objects=self.read_objects)
        account = AccountSettingsCollector(clients.s3control(), plan)
        access_points = AccessPointCollector(clients.s3control, plan)
        kms = KmsKeyCollector(clients.kms, plan)
        endpoints = VpcEndpointCollector(clients.ec2, plan)
        organization = OrganizationCollector(
            self._org_clients,
            plan,
            org_read_role_arn=self._org_read_role_arn,
            assumed_clients=self._assume,
        )
        identity: dict[str, Any] = {}
        organization.start()

        def on_identity(account_id: str, partition: str) -> None:
            identity.update(account_id=account_id, partition=partition)
            if scope.account_settings:
                account.add_account(account_id)
            organization.add_account(account_id)

        self._with_identity(plan, on_identity)
        canonical: dict[str, Any] = {}
        if scope.canonical_id:
            self._canonical_id(plan, canonical)
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
            endpoints.add_endpoint(endpoint_id, scope.region)
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
        document.update(canonical)
        result: Json = jsonable(document)
        return result

    def _canonical_id(self, plan: ReadPlan, out: dict[str, Any]) -> None:
        """The account's canonical user id into `out["canonical_id"]`: ListBuckets' `Owner.ID`
        (one bucket asked for), or an `$unreadable` marker (s3:ListAllMyBuckets refused)."""
        s3 = self._clients.s3()

        def on_owner(result: Fetched) -> None:
            match result:
                case Present(value=response):
                    owner = str((response.get("Owner") or {}).get("ID") or "")
                    out["canonical_id"] = owner or NO_OWNER_ID.to_doc()
                case Unreadable() as marker:
                    out["canonical_id"] = marker.to_doc()
                case _:
                    out["canonical_id"] = NO_OWNER_ID.to_doc()

        plan.read(
            Read(
                key=("s3:ListAllMyBuckets", "Owner"),
                call=lambda: s3.list_buckets(MaxBuckets=1),
                needs="s3:ListAllMyBuckets",
                what="the account's canonical user id",
            ),
            on_owner,
        )

    def organization_of(self, account_id: str) -> Json | None:
        """The organization part of another account, read with the organization clients alone
        (an account whose member role cannot be assumed still has its SCPs and RCPs read)."""
        plan = self._plan()
        organization = OrganizationCollector(
            self._org_clients,
            plan,
            org_read_role_arn=self._org_read_role_arn,
            assumed_clients=self._assume,
        )
        organization.start()
        organization.add_account(account_id)
        plan.run()
        part: Json | None = jsonable(organization.document())
        return part

    def _plan(self) -> ReadPlan:
        """The plan of one collection: shared, counted for a progress bar, or plain."""
        if self._sharing is not None:
            reader, partition = self._identity or (None, "aws")
            return SharedPlan(self._pool, self._cache, self._sharing, reader, partition)
        if self.on_progress is None:
            return ReadPlan(self._pool, self._cache)
        return _ReportingPlan(self._pool, self._cache, self.on_progress)

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
                clients = self._org_clients.with_credentials(credentials)
                self._assumed = {key_id: clients}
            return clients


MEMBER_SESSION_NAME = "s3-403-doctor"
CREDENTIALS_MARGIN = timedelta(minutes=5)
REFUSAL_TTL = timedelta(minutes=5)
ROLE_REFUSED = frozenset({"AccessDenied", "AccessDeniedException", "NoSuchEntity"})
"""AssumeRole errors that mean the member role is missing or does not trust us."""

IDENTITY_NOT_LOGGED = frozenset({PrincipalType.AWS_ACCOUNT, PrincipalType.UNKNOWN})
"""Callers whose identity the record does not name (the bucket owner's copy of a cross-account
event may name only the caller's account): their account's IAM is not read (not collected)."""

NO_OWNER_ID = Unreadable(code="NoOwnerId", needs="s3:ListAllMyBuckets")
"""The `canonical_id` marker when ListBuckets answered without an `Owner.ID`."""

SourceFactory = Callable[[Boto3Clients, str, str], Boto3SnapshotSource]
"""Builds the collector of (clients, account id, partition)."""


class MemberAccountSource:
    """A `SnapshotSource` that reads each request in its bucket's account (module docstring).

    `home` collects with the function's own credentials (`home_clients`); `build` makes the
    collector of a member account from the member role's clients. `organization_accounts`
    (ORGANIZATION_ACCOUNT_IDS), or the accounts `organization()` returns (AWS Organizations),
    and the function's own account, are those whose side of a cross-account request is read too.
    """

    def __init__(
        self,
        home: Boto3SnapshotSource,
        home_clients: Boto3Clients,
        *,
        role_name: str,
        build: SourceFactory,
        organization_accounts: frozenset[str] = frozenset(),
        organization: Callable[[], frozenset[str]] | None = None,
        clock: Callable[[], datetime] = utc_now,
        margin: timedelta = CREDENTIALS_MARGIN,
        refusal_ttl: timedelta = REFUSAL_TTL,
        session_name: str = MEMBER_SESSION_NAME,
    ) -> None:
        self.home = home
        self._home_clients = home_clients
        self.role_name = role_name
        self._build = build
        self._organization_accounts = organization_accounts
        self._organization = organization
        self._clock = clock
        self._margin = margin
        self._refusal_ttl = refusal_ttl
        self._session_name = session_name
        self._identity: tuple[str, str] | None = None
        self._members: dict[str, tuple[Boto3SnapshotSource, datetime]] = {}
        self._refused: dict[str, tuple[MemberRoleUnavailable, datetime]] = {}
        self._lock = threading.Lock()
        # other accounts' sides, read while the bucket side is
        self._side_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sides")

    def snapshot_for(self, request: AccessRequest) -> Json:
        return self.collect_request(request).snapshot

    def collect_request(self, request: AccessRequest) -> Collected:
        """The bucket side in the bucket's account (top level); inside the organization, the
        requester's side and a KMS key of another account in theirs (`accounts`, `kms.keys`),
        read while the bucket side is.

        Raises `MemberRoleUnavailable` when the bucket's account cannot be read; another
        account that cannot be read is `$unreadable` in the snapshot and listed in the result.
        """
        bucket_account = request.bucket_account or request.principal.account_id or ""
        scope = scope_for_request(request)
        org = self._organization() if self._organization else self._organization_accounts
        sides = self._other_sides(request, bucket_account, org)
        if request.kms_key_arn and _account_of(request.kms_key_arn) in sides:
            scope = replace(scope, kms_key_ids=())  # read in the key's own account
        if any(side.vpc_endpoint_ids for side in sides.values()):
            scope = replace(scope, vpc_endpoint_ids=())  # read in the endpoint owner's account
        if any(side.access_point_arns for side in sides.values()):
            scope = replace(scope, access_point_arns=())  # read in the access point's account
        reads = [
            (a, side, self._side_pool.submit(self._read, a, side)) for a, side in sides.items()
        ]
        # a bucket outside the organization (when known) has no member role to assume: it is
        # read as a single-account deployment reads another account's bucket
        outside = bool(org) and not self._inside(bucket_account, org)
        bucket_side = self.home if outside else self._source_of(bucket_account)
        snapshot = bucket_side.collect(scope)
        for account, keys in self._found_keys(snapshot, bucket_account, sides, org).items():
            side = CollectionScope(kms_key_ids=keys, follow_kms_keys=False, account_settings=False)
            reads.append((account, side, self._side_pool.submit(self._read, account, side)))
        unavailable: dict[str, MemberRoleUnavailable] = {}
        accounts: dict[str, Json] = {}
        for account, side, future in reads:
            entry = accounts.setdefault(account, {})
            try:
                part = future.result()
            except MemberRoleUnavailable as error:
                unavailable.setdefault(account, error)
                self._unreadable_side(entry, account, side, snapshot, error)
                continue
            if side.principal_arns:
                entry["iam"] = part["iam"]
            if "organization" in part:
                entry["organization"] = part["organization"]
            if "canonical_id" in part:
                entry["canonical_id"] = part["canonical_id"]
            snapshot["kms"]["keys"].update(part["kms"]["keys"])
            if part["kms"].get("aliases"):
                snapshot["kms"].setdefault("aliases", {}).update(part["kms"]["aliases"])
            snapshot["vpc_endpoints"].update(part["vpc_endpoints"])
            snapshot["s3"]["access_points"].update(part["s3"]["access_points"])
        if accounts:
            snapshot["accounts"] = dict(sorted(accounts.items()))
        return Collected(snapshot=snapshot, unavailable=tuple(unavailable.values()))

    def _other_sides(
        self, request: AccessRequest, bucket_account: str, org: frozenset[str]
    ) -> dict[str, CollectionScope]:
        """What to read in accounts of the organization other than the bucket's: the
        requester's principal (also for a bucket outside the organization: the requester's
        side then judges alone, `engine.resolve.foreign_bucket_account`); with the bucket
        inside, the request's KMS key, VPC endpoint and access point in their owners'
        accounts."""
        sides: dict[str, CollectionScope] = {}
        principal = request.principal
        requester = principal.account_id
        known = principal.principal_arn and principal.type not in IDENTITY_NOT_LOGGED
        if requester and requester != bucket_account and self._inside(requester, org):
            sides[requester] = CollectionScope(  # an identity not logged: its IAM left out
                principal_arns=(principal.principal_arn,) if known else (),
                follow_kms_keys=False,
                account_settings=False,
                canonical_id=True,  # the ACL grants to the requester's account name it
            )
        if not self._inside(bucket_account, org):
            return sides
        endpoint = request.vpc_endpoint_id
        owner = recorded_endpoint_owner(request)
        if endpoint and owner and owner != bucket_account and self._inside(owner, org):
            side = sides.get(owner, CollectionScope(follow_kms_keys=False, account_settings=False))
            sides[owner] = replace(side, vpc_endpoint_ids=(endpoint,), region=request.region)
        point = request.access_point_arn
        owner = _account_of(point) if point else None
        if point and owner and owner != bucket_account and self._inside(owner, org):
            side = sides.get(owner, CollectionScope(follow_kms_keys=False, account_settings=False))
            sides[owner] = replace(side, access_point_arns=(point,))
        key_account = _account_of(request.kms_key_arn) if request.kms_key_arn else None
        if key_account and key_account != bucket_account and self._inside(key_account, org):
            side = sides.get(
                key_account, CollectionScope(follow_kms_keys=False, account_settings=False)
            )
            sides[key_account] = replace(side, kms_key_ids=(str(request.kms_key_arn),))
        return sides

    def _found_keys(
        self,
        snapshot: Json,
        bucket_account: str,
        sides: dict[str, CollectionScope],
        org: frozenset[str],
    ) -> dict[str, tuple[str, ...]]:
        """KMS keys of other accounts of the organization that the bucket side found (a bucket's
        default key, an object's key), by account, not already being read in theirs."""
        found: dict[str, tuple[str, ...]] = {}
        if not self._inside(bucket_account, org):
            return found
        for key_arn in snapshot["kms"]["keys"]:
            account = _account_of(key_arn) or ""
            reading = sides[account].kms_key_ids if account in sides else ()
            if account != bucket_account and key_arn not in reading and self._inside(account, org):
                found[account] = (*found.get(account, ()), key_arn)
        return found

    def _read(self, account: str, side: CollectionScope) -> Json:
        return self._source_of(account).collect(side)

    def _unreadable_side(
        self,
        entry: Json,
        account: str,
        side: CollectionScope,
        snapshot: Json,
        error: MemberRoleUnavailable,
    ) -> None:
        """Fill `account`'s entry when its member role cannot be assumed: its IAM and keys are
        `$unreadable` (saying what to deploy); its organization path is read centrally."""
        marker = Unreadable(code=error.code or "AccessDenied", needs=error.needs).to_doc()
        if side.principal_arns:
            entry["iam"] = marker
        if side.canonical_id:
            entry["canonical_id"] = dict(marker)
        if "organization" not in entry:
            organization = self.home.organization_of(account)
            if organization is not None:
                entry["organization"] = organization
        for key_arn in side.kms_key_ids:
            snapshot["kms"]["keys"][key_arn] = dict(marker)
        for endpoint_id in side.vpc_endpoint_ids:
            snapshot["vpc_endpoints"][endpoint_id] = dict(marker)
        for point_arn in side.access_point_arns:
            snapshot["s3"]["access_points"][point_arn] = dict(marker)

    def _inside(self, account: str, org: frozenset[str]) -> bool:
        return bool(account) and (account in org or account == self._own_identity()[0])

    def _source_of(self, account: str) -> Boto3SnapshotSource:
        """The collector of `account`: the function's own, or its member role's."""
        own, partition = self._own_identity()
        if not account or account == own:
            return self.home
        return self.member(account, partition)

    def role_arn(self, account: str, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{account}:role/{self.role_name}"

    def member(self, account: str, partition: str = "aws") -> Boto3SnapshotSource:
        """The collector of `account`, as its member role (assumed now if not cached)."""
        with self._lock:
            now = self._clock()
            cached = self._members.get(account)
            if cached is not None and now < cached[1] - self._margin:
                return cached[0]
            refused = self._refused.get(account)
            if refused is not None and now < refused[1]:
                raise refused[0]
            role_arn = self.role_arn(account, partition)
            try:
                credentials = self._home_clients.sts().assume_role(
                    RoleArn=role_arn, RoleSessionName=self._session_name
                )["Credentials"]
            except ClientError as error:
                code = str(error.response.get("Error", {}).get("Code", ""))
                if code not in ROLE_REFUSED:
                    raise  # transient or unexpected: the invocation fails, Lambda retries
                unavailable = MemberRoleUnavailable(
                    account=account,
                    role_arn=role_arn,
                    code=code,
                    message=str(error.response.get("Error", {}).get("Message", "")),
                )
                self._refused[account] = (unavailable, now + self._refusal_ttl)
                raise unavailable from error
            self._refused.pop(account, None)
            source = self._build(
                self._home_clients.with_credentials(credentials), account, partition
            )
            if cached is not None:
                cached[0].close()
            self._members[account] = (source, credentials["Expiration"])
            return source

    def _own_identity(self) -> tuple[str, str]:
        """The function's own account and partition (GetCallerIdentity, once)."""
        if self._identity is None:
            caller = self._home_clients.sts().get_caller_identity()
            arn = parse_arn(str(caller["Arn"]))
            self._identity = (str(caller["Account"]), arn.partition if arn else "aws")
        return self._identity
