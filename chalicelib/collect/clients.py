"""boto3 clients for the collectors, built once per service and region and shared by threads.

boto3 clients are thread-safe once built; building them (and sessions) is not, hence the lock.

A client whose endpoint is not AWS's own (`--endpoint-url`, `AWS_ENDPOINT_URL`: a moto server or
LocalStack) is adapted here, for the Lambda (wiring.py) and the CLI alike: botocore sends S3
Control calls to `<account-id>.<host>`, which a local endpoint does not serve, so the prefix is
stripped before signing (`adapt_to_endpoint`). An S3 model too old for a field the engine
needs is made up for from S3's XML answer (`adapt_to_sdk`): the Lambda runtime's boto3 lags
the SDK by months.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from .base import read_retry_config

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_organizations import OrganizationsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3control import S3ControlClient
    from mypy_boto3_sts import STSClient

ClientHook = Callable[[str, Any], None]
"""Called with (service name, client) after a client is built: e.g. to register event hooks."""

_ACCOUNT_HOST_PREFIX = re.compile(r"//\d{12}\.")
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".c2s.ic.gov", ".sc2s.sgov.gov")


def is_aws_endpoint(url: str | None) -> bool:
    """Whether `url` is one of AWS's own endpoints (None: the default, which is)."""
    if not url:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host.endswith(_AWS_HOST_SUFFIXES)


def strip_account_host_prefix(request: Any, **_: Any) -> None:
    """botocore's `before-sign` hook: `//123456789012.host` becomes `//host`."""
    request.url = _ACCOUNT_HOST_PREFIX.sub("//", request.url, count=1)


def adapt_to_endpoint(service: str, client: Any) -> None:
    """On a local endpoint, S3 Control must not prefix the host with `<account-id>.`."""
    if service == "s3control" and not is_aws_endpoint(client.meta.endpoint_url):
        client.meta.events.register(
            "before-sign.s3-control.*",
            strip_account_host_prefix,
            unique_id="s3doctor-strip-account-host-prefix",
        )


def backfill_blocked_encryption_types(http_response: Any, parsed: Any, **_: Any) -> None:
    """botocore's `after-call.s3.GetBucketEncryption` hook on an SDK whose S3 model predates
    `BlockedEncryptionTypes` (November 2025): it drops the element, and a bucket that blocks
    SSE-C (every new bucket's default since April 2026) would read as one that does not. Each
    rule of the parsed answer that lacks it gets it from the XML S3 sent (rules in order)."""
    rules = (parsed or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules")
    body = getattr(http_response, "content", b"")
    if not isinstance(rules, list) or b"BlockedEncryptionTypes" not in body:
        return
    try:
        document = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return
    found = [child for child in document if _local_name(child.tag) == "Rule"]
    for rule, element in zip(rules, found, strict=False):
        blocked = next((e for e in element if _local_name(e.tag) == "BlockedEncryptionTypes"), None)
        if blocked is not None and isinstance(rule, dict) and "BlockedEncryptionTypes" not in rule:
            types = [(e.text or "") for e in blocked if _local_name(e.tag) == "EncryptionType"]
            rule["BlockedEncryptionTypes"] = {"EncryptionType": types}


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def knows_blocked_encryption_types(client: Any) -> bool:
    """Whether the client's S3 model reads `BlockedEncryptionTypes` in an encryption rule."""
    rule = client.meta.service_model.shape_for("ServerSideEncryptionRule")
    return "BlockedEncryptionTypes" in rule.members


def adapt_to_sdk(service: str, client: Any) -> None:
    """On an S3 model older than `BlockedEncryptionTypes`, read it from the XML answer."""
    if service == "s3" and not knows_blocked_encryption_types(client):
        client.meta.events.register(
            "after-call.s3.GetBucketEncryption",
            backfill_blocked_encryption_types,
            unique_id="s3doctor-backfill-blocked-encryption-types",
        )


class Boto3Clients:
    """Builds and caches the read clients of one set of credentials.

    `endpoint_url` points every client at one endpoint (a moto server in tests; without it
    botocore reads `AWS_ENDPOINT_URL`); a local endpoint is adapted (`adapt_to_endpoint`);
    `on_client` lets tests and benchmarks register botocore event hooks.

    Clients for other credentials (`with_credentials`: a member account's role) are built from
    the same session, which loads each service model once: a session per account would load
    them again (about 35 MB per account for the seven services, 800 MB for 20 accounts, where
    the function has 512 MB).
    """

    def __init__(
        self,
        session: boto3.Session | None = None,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        on_client: ClientHook | None = None,
        credentials: Mapping[str, Any] | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        if session is None:
            import boto3  # here: an offline replay imports this module, never a client

            session = boto3.Session()
        self._session = session
        self.region_name: str = region_name or self._session.region_name or "us-east-1"
        self._endpoint_url = endpoint_url
        self._on_client = on_client
        self._credentials: dict[str, str] = (
            {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
            if credentials
            else {}
        )
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = lock or threading.Lock()  # shared with `with_credentials`: one session

    def with_credentials(self, credentials: Mapping[str, Any]) -> Boto3Clients:
        """Clients for temporary credentials (an STS `Credentials` block), same endpoint and
        session (the service models are loaded once)."""
        return Boto3Clients(
            self._session,
            region_name=self.region_name,
            endpoint_url=self._endpoint_url,
            on_client=self._on_client,
            credentials=credentials,
            lock=self._lock,
        )

    def _client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region_name)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=key[1],
                    endpoint_url=self._endpoint_url,
                    config=read_retry_config(),
                    **self._credentials,
                )
                adapt_to_endpoint(service, client)
                adapt_to_sdk(service, client)
                if self._on_client is not None:
                    self._on_client(service, client)
                self._clients[key] = client
            return client

    def iam(self) -> IAMClient:
        return self._client("iam")  # type: ignore[no-any-return]

    def s3(self) -> S3Client:
        return self._client("s3")  # type: ignore[no-any-return]

    def s3control(self, region: str | None = None) -> S3ControlClient:
        return self._client("s3control", region)  # type: ignore[no-any-return]

    def kms(self, region: str | None = None) -> KMSClient:
        return self._client("kms", region)  # type: ignore[no-any-return]

    def ec2(self, region: str | None = None) -> EC2Client:
        return self._client("ec2", region)  # type: ignore[no-any-return]

    def organizations(self) -> OrganizationsClient:
        return self._client("organizations")  # type: ignore[no-any-return]

    def sts(self) -> STSClient:
        return self._client("sts")  # type: ignore[no-any-return]
