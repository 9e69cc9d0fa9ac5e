"""The only place that reads environment variables and builds boto3 clients.

Everything built here is cached for the life of a warm Lambda container (`reset()` forgets it,
for tests that change the environment). Variables:

    FINDINGS_TABLE_NAME         the findings table (required for the event handler and API)
    FINDINGS_TOPIC_ARN          the alerts topic (required for the event handler)
    CHAT_TOPIC_ARN              a second topic for AWS Chatbot (Amazon Q Developer in chat):
                                custom notifications of the same alerts (default: none, off)
    SECURITY_HUB                `enabled` or `disabled` (default): import alerted findings into
                                AWS Security Hub (ASFF, publish/securityhub.py)
    AGGREGATION_WINDOW_SECONDS  repeats within this window update one finding (default 900)
    FINDINGS_TTL_DAYS           findings expire after this many days (default 90)
    CACHE_TTL_SECONDS           collected reads are reused this long (default 60; also read
                                as COLLECT_CACHE_TTL_SECONDS)
    COLLECTION_CACHE_TABLE_NAME the collection cache shared by the event function's containers
                                (collect/shared_cache.py; default: none, each container reads
                                for itself)
    SHARED_CACHE_TTL_SECONDS    how long a part stays in that table (default 60)
    READS_PER_ACCOUNT           AWS reads in flight per account in one container (default 8)
    ORG_READ_ROLE_ARN           role to assume for reading SCPs/RCPs (optional)
    MEMBER_ROLE_NAME            organization mode: the read-only role of the member template,
                                assumed in the bucket's account of each event
                                (arn:<partition>:iam::<account>:role/<name>); its sessions are
                                the diagnoser's own. Empty (default): single-account mode, every
                                event collected with the function's own credentials
    READ_OBJECTS                false: never HeadObject / GetObjectAcl (default true)
    FULL_DETAIL_PRINCIPALS      API callers answered at `full` detail: comma-separated principal
                                ARN patterns, `*` and `?` wildcards (default: none)
    DIAGNOSE_API                `enabled` or `disabled` (default): whether POST /diagnose runs
    DIAGNOSE_ROLE_ARN           the role POST /diagnose reads the account as (required to run it)
    ALERT_DETAIL                `references` (default) or `full`: the detail level of alerts
    ALERT_BUDGET                alerts per bucket per aggregation window (default 10)
    ORGANIZATION_ACCOUNT_IDS    comma-separated accounts whose principals are not outsiders
                                (default: with MEMBER_ROLE_NAME, the accounts AWS Organizations
                                lists, collect/membership.py; else only the bucket's own)
    DIAGNOSER_ROLE_ARNS         comma-separated roles of this deployment: their denied reads
                                make a health finding, never a diagnosis (set by the template)
    MAX_KEYS_PER_EVENT          keys of one DeleteObjects call that are diagnosed (default 25)
    LOG_LEVEL                   default INFO
    POWERTOOLS_METRICS_NAMESPACE  default S3AccessDoctor
    AWS_ENDPOINT_URL            one endpoint for every client (a moto server in tests and demo)
    AWS_REGION / AWS_DEFAULT_REGION
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .aggregation import NO_TRUST, Trust, role_of
from .arn import parse_arn
from .collect.clients import Boto3Clients
from .collect.live import Boto3SnapshotSource, MemberAccountSource
from .collect.membership import OrganizationMembers
from .collect.shared_cache import (
    DEFAULT_READS_PER_ACCOUNT,
    DEFAULT_TTL_SECONDS,
    CacheStats,
    ReadLimiter,
    ReadSharing,
    SharedReadCache,
)
from .diagnose.detail import Detail
from .events.operations import MAX_DELETE_KEYS
from .lean_dataclass import dataclass
from .model import InputError
from .observability import (
    ApiCallCounter,
    EventMiddleware,
    configure_logging,
    event_middleware,
)
from .publish.budget import (
    DEFAULT_BUDGET,
    BudgetedPublisher,
    DynamoAlertBudget,
    NoticePublisher,
)
from .publish.chat import SnsChatPublisher
from .publish.fanout import FanOutPublisher, Sink
from .publish.securityhub import SecurityHubPublisher
from .publish.sns import SnsFindingPublisher
from .publish.store import DynamoFindingStore

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sns import SNSClient

COLLECTION_CALLS = ApiCallCounter()
SHARED_CACHE_STATS = CacheStats()  # the collection cache table's, for the metrics
"""AWS API calls made by the collectors of this container (metrics and benchmarks)."""


class ConfigError(InputError):
    """An environment variable is missing or has a bad value (named in the message)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The configuration read from the environment."""

    findings_table_name: str | None
    findings_topic_arn: str | None
    aggregation_window: timedelta
    retention_days: int
    cache_ttl_seconds: int
    org_read_role_arn: str | None
    read_objects: bool
    full_detail_principals: tuple[str, ...]
    diagnose_api: bool
    diagnose_role_arn: str | None
    log_level: str
    metrics_namespace: str
    endpoint_url: str | None
    region: str
    alert_detail: Detail = Detail.REFERENCES
    alert_budget: int = DEFAULT_BUDGET
    trust: Trust = NO_TRUST
    max_keys_per_event: int = MAX_DELETE_KEYS
    chat_topic_arn: str | None = None
    security_hub: bool = False
    member_role_name: str | None = None
    collection_cache_table: str | None = None
    shared_cache_ttl_seconds: int = DEFAULT_TTL_SECONDS
    reads_per_account: int = DEFAULT_READS_PER_ACCOUNT


def read_settings(env: Mapping[str, str]) -> Settings:
    """Settings from `env`; ConfigError naming the variable when a value is unusable."""
    return Settings(
        findings_table_name=env.get("FINDINGS_TABLE_NAME") or None,
        findings_topic_arn=env.get("FINDINGS_TOPIC_ARN") or None,
        aggregation_window=timedelta(seconds=_int(env, "AGGREGATION_WINDOW_SECONDS", 900)),
        retention_days=_int(env, "FINDINGS_TTL_DAYS", 90),
        cache_ttl_seconds=_int(
            env, "CACHE_TTL_SECONDS", _int(env, "COLLECT_CACHE_TTL_SECONDS", 60)
        ),
        org_read_role_arn=env.get("ORG_READ_ROLE_ARN") or None,
        read_objects=_bool(env, "READ_OBJECTS", True),
        full_detail_principals=tuple(
            p.strip() for p in env.get("FULL_DETAIL_PRINCIPALS", "").split(",") if p.strip()
        ),
        diagnose_api=_switch(env, "DIAGNOSE_API", default=False),
        diagnose_role_arn=env.get("DIAGNOSE_ROLE_ARN") or None,
        log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
        metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or "S3AccessDoctor",
        endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        alert_detail=_alert_detail(env),
        alert_budget=_int(env, "ALERT_BUDGET", DEFAULT_BUDGET),
        trust=_trust(env),
        max_keys_per_event=_int(env, "MAX_KEYS_PER_EVENT", MAX_DELETE_KEYS),
        chat_topic_arn=(env.get("CHAT_TOPIC_ARN") or "").strip() or None,
        security_hub=_switch(env, "SECURITY_HUB", default=False),
        member_role_name=_role_name(env, "MEMBER_ROLE_NAME"),
        collection_cache_table=(env.get("COLLECTION_CACHE_TABLE_NAME") or "").strip() or None,
        shared_cache_ttl_seconds=_int(env, "SHARED_CACHE_TTL_SECONDS", DEFAULT_TTL_SECONDS),
        reads_per_account=_int(env, "READS_PER_ACCOUNT", DEFAULT_READS_PER_ACCOUNT),
    )


@functools.cache
def settings() -> Settings:
    return read_settings(os.environ)


def reset() -> None:
    """Forget cached settings, clients and adapters (tests that change the environment)."""
    for cached in (
        settings,
        _session,
        _client,
        finding_store,
        finding_publisher,
        snapshot_source,
        event_source,
        _home_clients,
        read_sharing,
        organization_members,
        _caller,
    ):
        cached.cache_clear()
    _DIAGNOSIS_SOURCES.clear()


def clock() -> datetime:
    return datetime.now(UTC)


@functools.cache
def _session() -> boto3.Session:
    import boto3  # here, as every client: an offline replay loads this module and needs none

    return boto3.Session(region_name=settings().region)


@functools.cache
def _client(service: str) -> Any:
    return _session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=settings().endpoint_url,
    )


def dynamodb() -> DynamoDBClient:
    return _client("dynamodb")  # type: ignore[no-any-return]


def sns() -> SNSClient:
    return _client("sns")  # type: ignore[no-any-return]


@functools.cache
def finding_store() -> DynamoFindingStore:
    config = settings()
    table = _required(config.findings_table_name, "FINDINGS_TABLE_NAME")
    return DynamoFindingStore(table, dynamodb(), retention_days=config.retention_days)


@functools.cache
def finding_publisher() -> BudgetedPublisher:
    """The alert publisher, within the alert budget of each bucket (publish/budget.py).

    The main topic alone, or with CHAT_TOPIC_ARN and/or SECURITY_HUB a `FanOutPublisher`: the
    main topic first, then chat and Security Hub (publish/fanout.py), all at ALERT_DETAIL.
    """
    config = settings()
    topic = SnsFindingPublisher(
        _required(config.findings_topic_arn, "FINDINGS_TOPIC_ARN"),
        sns(),
        detail=config.alert_detail,
    )
    secondaries: list[Sink] = []
    if config.chat_topic_arn:
        secondaries.append(
            SnsChatPublisher(config.chat_topic_arn, sns(), detail=config.alert_detail)
        )
    if config.security_hub:
        secondaries.append(
            SecurityHubPublisher(
                securityhub(),
                account_id=_account_id,
                region=config.region,
                clock=clock,
                detail=config.alert_detail,
            )
        )
    inner: NoticePublisher = FanOutPublisher(topic, secondaries) if secondaries else topic
    budget = DynamoAlertBudget(
        _required(config.findings_table_name, "FINDINGS_TABLE_NAME"), dynamodb()
    )
    return BudgetedPublisher(
        inner, budget, limit=config.alert_budget, window=config.aggregation_window, clock=clock
    )


def securityhub() -> Any:
    """The Security Hub client (no type stubs are installed for it)."""
    return _client("securityhub")


def _account_id() -> str:
    """The function's own account (Security Hub takes findings for the caller's account)."""
    return str(_client("sts").get_caller_identity()["Account"])


@functools.cache
def snapshot_source() -> Boto3SnapshotSource:
    """The live collector, its API calls counted in `COLLECTION_CALLS`. With the shared cache
    (keyed by account) the function's own account is read first (GetCallerIdentity)."""
    clients = _home_clients()
    if not settings().collection_cache_table:
        return _collector(clients)
    return _collector(clients, *_caller())


def _cache_client_config() -> Config:
    """The cache table's client: a failing table must cost little (reads then go to AWS)."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=2
    )


@functools.cache
def read_sharing() -> ReadSharing:
    """What the event function's collectors share in this container: the cache table
    (COLLECTION_CACHE_TABLE_NAME, SHARED_CACHE_TTL_SECONDS) and READS_PER_ACCOUNT."""
    config = settings()
    cache = None
    if config.collection_cache_table:
        client = _session().client(
            "dynamodb", endpoint_url=config.endpoint_url, config=_cache_client_config()
        )
        cache = SharedReadCache(
            config.collection_cache_table,
            client,
            ttl_seconds=config.shared_cache_ttl_seconds,
            clock=clock,
            stats=SHARED_CACHE_STATS,
        )
    return ReadSharing(cache=cache, limiter=ReadLimiter(config.reads_per_account))


@functools.cache
def _home_clients() -> Boto3Clients:
    """The collectors' clients with the function's own credentials."""
    config = settings()
    return Boto3Clients(
        _session(),
        region_name=config.region,
        endpoint_url=config.endpoint_url,
        on_client=_on_collect_client if config.endpoint_url else COLLECTION_CALLS.attach,
    )


def _collector(
    clients: Boto3Clients, account_id: str | None = None, partition: str = "aws"
) -> Boto3SnapshotSource:
    config = settings()
    return Boto3SnapshotSource(
        clients,
        account_id=account_id,
        partition=partition,
        org_read_role_arn=config.org_read_role_arn,
        read_objects=config.read_objects,
        ttl_seconds=config.cache_ttl_seconds,
        clock=clock,
        org_clients=_home_clients() if account_id else None,
        sharing=read_sharing(),
    )


@functools.cache
def event_source() -> Boto3SnapshotSource | MemberAccountSource:
    """The event handler's collector: `snapshot_source()` in single-account mode; with
    MEMBER_ROLE_NAME, a `MemberAccountSource` that reads each event in its bucket's account
    (its member role's credentials cached per account until CREDENTIALS_MARGIN before expiry)."""
    config = settings()
    if not config.member_role_name:
        return snapshot_source()
    return MemberAccountSource(
        snapshot_source(),
        _home_clients(),
        role_name=config.member_role_name,
        build=_collector,
        organization_accounts=config.trust.organization_accounts,
        organization=members.accounts if (members := organization_members()) else None,
        clock=clock,
        margin=CREDENTIALS_MARGIN,
    )


@functools.cache
def organization_members() -> OrganizationMembers | None:
    """The organization's accounts from AWS Organizations: in organization mode (MEMBER_ROLE_NAME)
    when ORGANIZATION_ACCOUNT_IDS is not set (it wins when set); read with ORG_READ_ROLE_ARN, or
    the function's own credentials, and kept in the collection cache table when it is on."""
    config = settings()
    if not config.member_role_name or config.trust.organization_accounts:
        return None
    return OrganizationMembers(
        _home_clients(),
        identity=_caller,
        clock=clock,
        org_read_role_arn=config.org_read_role_arn,
        cache=read_sharing().cache,
    )


@functools.cache
def _caller() -> tuple[str, str]:
    """The function's own account and partition (GetCallerIdentity, once)."""
    caller = _home_clients().sts().get_caller_identity()
    arn = parse_arn(str(caller["Arn"]))
    return str(caller["Account"]), arn.partition if arn else "aws"


def event_ports() -> dict[str, Any]:
    """Keyword arguments of `service.handle_event`."""
    return {
        "source": event_source(),
        "store": finding_store(),
        "publisher": finding_publisher(),
        "clock": clock,
        "window": settings().aggregation_window,
        "trust": settings().trust,
        "members": organization_members(),
        "max_keys": settings().max_keys_per_event,
    }


DIAGNOSE_SESSION_NAME = "s3doctor-diagnose"
CREDENTIALS_MARGIN = timedelta(minutes=5)
"""Assumed-role credentials are renewed this long before they expire."""

_DIAGNOSIS_SOURCES: dict[str, tuple[Boto3SnapshotSource, datetime]] = {}


def diagnosis_source() -> Boto3SnapshotSource:
    """The live collector of `POST /diagnose`, as DIAGNOSE_ROLE_ARN (never the function's role).

    Credentials come from `sts:AssumeRole` and are reused until `CREDENTIALS_MARGIN` before
    they expire. ConfigError (naming DIAGNOSE_ROLE_ARN) when it is unset or cannot be assumed.
    """
    config = settings()
    role_arn = _required(config.diagnose_role_arn, "DIAGNOSE_ROLE_ARN")
    cached = _DIAGNOSIS_SOURCES.get(role_arn)
    if cached is not None and clock() < cached[1] - CREDENTIALS_MARGIN:
        return cached[0]
    try:
        credentials = _client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName=DIAGNOSE_SESSION_NAME
        )["Credentials"]
    except (ClientError, BotoCoreError) as error:
        raise ConfigError("DIAGNOSE_ROLE_ARN", f"cannot assume {role_arn}: {error}") from error
    import boto3

    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=config.region,
    )
    clients = Boto3Clients(
        session,
        region_name=config.region,
        endpoint_url=config.endpoint_url,
        on_client=_on_collect_client if config.endpoint_url else COLLECTION_CALLS.attach,
    )
    source = Boto3SnapshotSource(
        clients,
        org_read_role_arn=config.org_read_role_arn,
        read_objects=config.read_objects,
        ttl_seconds=config.cache_ttl_seconds,
        clock=clock,
    )
    _DIAGNOSIS_SOURCES[role_arn] = (source, credentials["Expiration"])
    return source


def diagnosis_ports() -> dict[str, Any]:
    """Keyword arguments of `service.diagnose_request`: the live account as DIAGNOSE_ROLE_ARN."""
    return {"source": diagnosis_source(), "clock": clock}


def middleware() -> EventMiddleware:
    """The event handler's Chalice middleware (logging set up at `LOG_LEVEL`)."""
    config = settings()
    configure_logging(config.log_level)
    return event_middleware(
        namespace=config.metrics_namespace,
        collection_calls=COLLECTION_CALLS,
        cache_stats=_cache_stats,
    )


def _cache_stats() -> CacheStats | None:
    """The collection cache table's counts, when the function has a table."""
    return SHARED_CACHE_STATS if settings().collection_cache_table else None


def _on_collect_client(service: str, client: Any) -> None:
    """With AWS_ENDPOINT_URL (moto): count the calls; S3 Control's account host prefix is
    stripped by `Boto3Clients` itself (collect/clients.py `adapt_to_endpoint`, shared with the
    CLI)."""
    COLLECTION_CALLS.attach(service, client)


def _alert_detail(env: Mapping[str, str]) -> Detail:
    raw = (env.get("ALERT_DETAIL") or Detail.REFERENCES.value).strip().lower()
    try:
        return Detail(raw)
    except ValueError:
        raise ConfigError("ALERT_DETAIL", "must be `references` or `full`") from None


def _trust(env: Mapping[str, str]) -> Trust:
    accounts = _listed(env, "ORGANIZATION_ACCOUNT_IDS")
    bad = [a for a in accounts if not re.fullmatch(r"\d{12}", a)]
    if bad:
        raise ConfigError("ORGANIZATION_ACCOUNT_IDS", f"not a 12-digit account id: {bad[0]!r}")
    roles = []
    for arn in _listed(env, "DIAGNOSER_ROLE_ARNS"):
        role = role_of(arn)
        if role is None:
            raise ConfigError("DIAGNOSER_ROLE_ARNS", f"not a role ARN: {arn!r}")
        roles.append(role)
    member_role = _role_name(env, "MEMBER_ROLE_NAME")
    return Trust(
        organization_accounts=frozenset(accounts),
        diagnoser_roles=frozenset(roles),
        diagnoser_role_names=frozenset({member_role} if member_role else ()),
    )


def _role_name(env: Mapping[str, str], name: str) -> str | None:
    """An IAM role name (no path), or None when unset."""
    text = (env.get(name) or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"[\w+=,.@-]{1,64}", text):
        raise ConfigError(name, f"not an IAM role name: {text!r}")
    return text


def _listed(env: Mapping[str, str], name: str) -> list[str]:
    return [part.strip() for part in (env.get(name) or "").split(",") if part.strip()]


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ConfigError(name, "environment variable is not set")
    return value


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    text = (env.get(name) or "").strip().lower()
    if not text:
        return default
    if text not in {"enabled", "disabled"}:
        raise ConfigError(name, f"expected enabled or disabled, got {env.get(name)!r}")
    return text == "enabled"


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    text = (env.get(name) or "").strip().lower()
    if not text:
        return default
    if text in ("true", "false"):
        return text == "true"
    raise ConfigError(name, f"expected true or false, got {env.get(name)!r}")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise ConfigError(name, f"must be positive, got {value}")
    return value
