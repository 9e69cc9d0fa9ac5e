"""The organization's member accounts, read from AWS Organizations (`ListAccounts`).

An organization deployment (MEMBER_ROLE_NAME) without ORGANIZATION_ACCOUNT_IDS learns which
accounts are inside the organization here, instead of from an environment variable (a Lambda's
environment holds at most 4 KB: some 300 ids). The list is read with the organization-read role
(ORG_READ_ROLE_ARN, assumed with STS) or, without one, the function's own credentials (the
management account or a delegated administrator may list accounts), every page of it.

It is kept for `ttl` in the container and, with the collection cache table on, in that table
(one item per deployment account, zlib-compressed: 5,000 ids take 32 KB of the 400 KB of an
item, 20,000 about 120 KB), so new containers of a burst read it once between them. A read
that fails keeps the last list read in this container, if any; otherwise `Membership.error`
says why and the accounts are empty: the caller treats other accounts as outside the
organization and says so. A failure is retried after `retry_after` (never kept in the table).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from ..lean_dataclass import dataclass
from .base import Present
from .clients import Boto3Clients
from .shared_cache import SharedReadCache

LIST_ACCOUNTS = "organizations:ListAccounts"
CACHE_KEY = (LIST_ACCOUNTS,)
MEMBERSHIP_TTL = timedelta(minutes=5)
RETRY_AFTER = timedelta(minutes=1)
SESSION_NAME = "s3-403-doctor-members"


@dataclass(frozen=True, slots=True)
class Membership:
    """The organization's account ids; `error` when they could not be read (accounts empty)."""

    accounts: frozenset[str]
    error: str | None = None


class OrganizationMembers:
    """The member accounts of the organization, cached (module docstring)."""

    permissions: ClassVar[tuple[str, ...]] = (LIST_ACCOUNTS,)

    def __init__(
        self,
        clients: Boto3Clients,
        *,
        identity: Callable[[], tuple[str, str]],
        clock: Callable[[], datetime],
        org_read_role_arn: str | None = None,
        cache: SharedReadCache | None = None,
        ttl: timedelta = MEMBERSHIP_TTL,
        retry_after: timedelta = RETRY_AFTER,
    ) -> None:
        self._clients = clients
        self._identity = identity
        self._clock = clock
        self._role_arn = org_read_role_arn
        self._cache = cache
        self._ttl = ttl
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._known: frozenset[str] | None = None
        self._error: str | None = None
        self._until: datetime | None = None
        self.reads = 0  # ListAccounts walks made by this container (tests, benchmarks)

    def current(self) -> Membership:
        """The accounts: kept, shared, or read now."""
        with self._lock:
            now = self._clock()
            if self._until is None or now >= self._until:
                self._refresh(now)
            if self._known is not None:
                return Membership(accounts=self._known)
            return Membership(accounts=frozenset(), error=self._error)

    def accounts(self) -> frozenset[str]:
        return self.current().accounts

    def _refresh(self, now: datetime) -> None:
        try:
            account, partition = self._identity()
            shared = self._shared(account, partition)
            if shared is None:
                shared = self._list()
                if self._cache is not None:
                    self._cache.put(
                        account,
                        partition,
                        CACHE_KEY,
                        Present(value=sorted(shared)),
                        ttl_seconds=self._ttl.total_seconds(),
                    )
        except (ClientError, BotoCoreError) as error:
            self._error = f"{LIST_ACCOUNTS} failed: {_describe(error)}"
            self._until = now + self._retry_after
            return
        self._known, self._error, self._until = shared, None, now + self._ttl

    def _shared(self, account: str, partition: str) -> frozenset[str] | None:
        if self._cache is None:
            return None
        match self._cache.get(account, partition, CACHE_KEY):
            case Present(value=list() as ids) if all(isinstance(i, str) for i in ids):
                return frozenset(ids)
            case _:
                return None

    def _list(self) -> frozenset[str]:
        org = self._org_clients().organizations()
        self.reads += 1
        pages = org.get_paginator("list_accounts").paginate()
        return frozenset(str(a["Id"]) for page in pages for a in page["Accounts"])

    def _org_clients(self) -> Boto3Clients:
        if self._role_arn is None:
            return self._clients
        credentials = self._clients.sts().assume_role(
            RoleArn=self._role_arn, RoleSessionName=SESSION_NAME
        )["Credentials"]
        return self._clients.with_credentials(credentials)


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', '')} {detail.get('Message', '')}".strip()
    return type(error).__name__
