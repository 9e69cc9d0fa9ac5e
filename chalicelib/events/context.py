"""Request-context keys derived from a CloudTrail record (spec 3.9), each with its source.

A key that cannot be derived is left out (absent), as in IAM's simulator: the missing-key rules
of the condition operators then apply. `source` is "event:<field>" when the value is read from
the record and "derived:<what>" when it is computed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl

from ..arn import is_account_id
from ..engine.resolve import ENDPOINT_OWNER_SOURCE
from ..lean_dataclass import dataclass
from ..model import ContextEntry, Principal, PrincipalType
from . import fields as f

PRINCIPAL_TYPES: Final[Mapping[PrincipalType, str]] = {
    PrincipalType.IAM_USER: "User",
    PrincipalType.ASSUMED_ROLE: "AssumedRole",
    PrincipalType.ROLE: "AssumedRole",
    PrincipalType.FEDERATED_USER: "FederatedUser",
    PrincipalType.ROOT: "Account",
    PrincipalType.ANONYMOUS: "Anonymous",
}
SIGNATURE_VERSIONS: Final[Mapping[str, str]] = {
    "SigV4": "AWS4-HMAC-SHA256",
    "SigV4a": "AWS4-ECDSA-P256-SHA256",
    "SigV2": "AWS",
}
AUTH_TYPES: Final[Mapping[str, str]] = {
    "AuthHeader": "REST-HEADER",
    "QueryString": "REST-QUERY-STRING",
    "POST": "POST",
}
# requestParameters field → (condition key, ContextKeyType)
REQUEST_KEYS: Final[Mapping[str, tuple[str, str]]] = {
    "x-amz-server-side-encryption": ("s3:x-amz-server-side-encryption", "string"),
    "x-amz-server-side-encryption-aws-kms-key-id": (
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "string",
    ),
    "x-amz-server-side-encryption-customer-algorithm": (
        "s3:x-amz-server-side-encryption-customer-algorithm",
        "string",
    ),
    "x-amz-acl": ("s3:x-amz-acl", "string"),
    "x-amz-grant-read": ("s3:x-amz-grant-read", "string"),
    "x-amz-grant-write": ("s3:x-amz-grant-write", "string"),
    "x-amz-grant-read-acp": ("s3:x-amz-grant-read-acp", "string"),
    "x-amz-grant-write-acp": ("s3:x-amz-grant-write-acp", "string"),
    "x-amz-grant-full-control": ("s3:x-amz-grant-full-control", "string"),
    "x-amz-copy-source": ("s3:x-amz-copy-source", "string"),
    "x-amz-metadata-directive": ("s3:x-amz-metadata-directive", "string"),
    "x-amz-storage-class": ("s3:x-amz-storage-class", "string"),
    "x-amz-website-redirect-location": ("s3:x-amz-website-redirect-location", "string"),
    "x-amz-object-lock-mode": ("s3:object-lock-mode", "string"),
    "x-amz-object-lock-retain-until-date": ("s3:object-lock-retain-until-date", "date"),
    "x-amz-object-lock-legal-hold": ("s3:object-lock-legal-hold", "string"),
    "x-amz-object-ownership": ("s3:x-amz-object-ownership", "string"),
    "max-keys": ("s3:max-keys", "numeric"),
    "versionId": ("s3:VersionId", "string"),
}
# The services AWS documents as setting aws:CalledVia when they call on a principal's behalf
# (IAM global condition keys); the record names the one that made this call (`invokedBy`).
CALLED_VIA_SERVICES: Final = frozenset(
    {
        "athena.amazonaws.com",
        "cloudformation.amazonaws.com",
        "dynamodb.amazonaws.com",
        "kms.amazonaws.com",
    }
)
# A request made with an EC2 instance's role credentials (`engine.resolve.derived_notes` keeps
# the note only when a policy tests the instance keys).
EC2_CREDENTIALS_NOTE: Final = "Made with the role credentials of EC2 instance"
# Listing parameters whose empty value is meaningful (s3:prefix "" = the bucket's top level).
LIST_KEYS: Final[Mapping[str, str]] = {"prefix": "s3:prefix", "delimiter": "s3:delimiter"}


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketSide:
    """What the parser found about the resource side, with where it came from."""

    account: str | None = None
    account_source: str = ""
    access_point_arn: str | None = None
    access_point_account: str | None = None


@dataclass(slots=True)
class _Builder:
    entries: list[ContextEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: str | list[str], kind: str, source: str) -> None:
        values = tuple(value) if isinstance(value, list) else (value,)
        self.entries.append(ContextEntry(name=name, values=values, type=kind, source=source))


def context_from_record(
    record: Mapping[str, Any], principal: Principal, bucket: BucketSide
) -> tuple[tuple[ContextEntry, ...], tuple[str, ...]]:
    """The context keys of spec 3.9 this record determines, and notes on the ones it cannot."""
    out = _Builder()
    _network(record, out)
    _transport(record, out)
    _principal(record, principal, out)
    _session(record, principal, out)
    _time_and_client(record, out)
    _request(record, out)
    _resource(bucket, out)
    return tuple(out.entries), tuple(out.notes)


def _network(record: Mapping[str, Any], out: _Builder) -> None:
    vpce = f.text(f.VPC_ENDPOINT_ID, record)
    address = f.text(f.SOURCE_IP, record)
    is_ip = address is not None and _is_ip(address)
    if vpce is not None:
        out.add("aws:SourceVpce", vpce, "string", "event:vpcEndpointId")
        _endpoint_owner(record, out)
        if is_ip and address is not None:
            out.add("aws:VpcSourceIp", address, "ip", "event:sourceIPAddress")
        out.notes.append(
            f"Came through VPC endpoint {vpce}: aws:SourceIp is absent; aws:SourceVpc needs "
            "the endpoint's VPC (ec2:DescribeVpcEndpoints)."
        )
    elif is_ip and address is not None:
        out.add("aws:SourceIp", address, "ip", "event:sourceIPAddress")
    elif address is not None:
        out.notes.append(
            f"sourceIPAddress {address!r} is not an IP address (a service made the call): "
            "aws:SourceIp is absent."
        )


def _endpoint_owner(record: Mapping[str, Any], out: _Builder) -> None:
    """`aws:VpceAccount`, the account that owns the endpoint, which the record names (AWS puts
    it in the context of a request through an endpoint, as it does `aws:VpceOrgID` and
    `aws:VpceOrgPaths`, which `engine.resolve` derives from the snapshot's organizations)."""
    owner = f.text(f.VPC_ENDPOINT_ACCOUNT, record)
    if owner is None:
        return
    if is_account_id(owner):
        out.add("aws:VpceAccount", owner, "string", ENDPOINT_OWNER_SOURCE)
    else:
        out.notes.append(
            f"vpcEndpointAccountId {owner!r} is not an account id: aws:VpceAccount is absent."
        )


def _transport(record: Mapping[str, Any], out: _Builder) -> None:
    tls = f.text(f.TLS_VERSION, record)
    cipher = f.text(f.CIPHER_SUITE, record)
    if tls is not None:
        out.add("aws:SecureTransport", "true", "boolean", "event:tlsDetails.tlsVersion")
        version = tls.removeprefix("TLSv")
        if _is_number(version):
            out.add("s3:TlsVersion", version, "numeric", "event:tlsDetails.tlsVersion")
    elif cipher is not None:
        out.add("aws:SecureTransport", "true", "boolean", "event:CipherSuite")
    else:
        out.add(
            "aws:SecureTransport",
            "false",
            "boolean",
            "derived:no tlsDetails or CipherSuite in the record",
        )


def _principal(record: Mapping[str, Any], principal: Principal, out: _Builder) -> None:
    kind = principal.type
    if kind is PrincipalType.FEDERATED_USER:
        out.add("aws:PrincipalArn", principal.requester_arn, "string", "event:userIdentity.arn")
    elif kind is PrincipalType.ASSUMED_ROLE:
        out.add(
            "aws:PrincipalArn",
            principal.principal_arn,
            "string",
            "event:userIdentity.sessionContext.sessionIssuer.arn"
            if f.text(f.ISSUER_ARN, record)
            else "derived:role of userIdentity.arn",
        )
    elif kind is PrincipalType.ROOT:
        out.add("aws:PrincipalArn", principal.principal_arn, "string", "derived:account root")
    elif kind in (PrincipalType.IAM_USER, PrincipalType.ROLE):
        out.add("aws:PrincipalArn", principal.principal_arn, "string", "event:userIdentity.arn")
    if principal.account_id and kind is not PrincipalType.AWS_SERVICE:
        source = (
            "derived:anonymous"
            if kind is PrincipalType.ANONYMOUS
            else "event:userIdentity.accountId"
        )
        out.add("aws:PrincipalAccount", principal.account_id, "string", source)
    if kind in PRINCIPAL_TYPES:
        out.add("aws:PrincipalType", PRINCIPAL_TYPES[kind], "string", "derived:userIdentity.type")
    if principal.user_id:
        source = (
            "event:userIdentity.principalId"
            if f.text(f.PRINCIPAL_ID, record) == principal.user_id
            else "derived:" + ("anonymous" if kind is PrincipalType.ANONYMOUS else "account id")
        )
        out.add("aws:userid", principal.user_id, "string", source)
    if kind is PrincipalType.IAM_USER and principal.user_name:
        out.add("aws:username", principal.user_name, "string", "event:userIdentity.userName")
    is_service = kind is PrincipalType.AWS_SERVICE
    out.add(
        "aws:PrincipalIsAWSService",
        "true" if is_service else "false",
        "boolean",
        "derived:userIdentity.type",
    )
    if is_service and principal.service:
        out.add(
            "aws:PrincipalServiceName", principal.service, "string", "event:userIdentity.invokedBy"
        )
    invoked_by = f.text(f.INVOKED_BY, record)
    via = invoked_by is not None and not is_service
    out.add(
        "aws:ViaAWSService",
        "true" if via else "false",
        "boolean",
        "event:userIdentity.invokedBy" if via else "derived:no userIdentity.invokedBy",
    )
    if via and invoked_by in CALLED_VIA_SERVICES:
        source = "event:userIdentity.invokedBy (a chain of one service)"
        out.add("aws:CalledVia", [invoked_by], "stringList", source)
        out.add("aws:CalledViaFirst", invoked_by, "string", source)
        out.add("aws:CalledViaLast", invoked_by, "string", source)


def _session(record: Mapping[str, Any], principal: Principal, out: _Builder) -> None:
    mfa = principal.mfa_authenticated
    if mfa is not None:
        out.add(
            "aws:MultiFactorAuthPresent",
            "true" if mfa else "false",
            "boolean",
            "event:userIdentity.sessionContext.attributes.mfaAuthenticated",
        )
    identity = f.text(f.SOURCE_IDENTITY, record)
    if identity is not None:
        out.add(
            "aws:SourceIdentity",
            identity,
            "string",
            "event:userIdentity.sessionContext.sourceIdentity",
        )
    delivery = f.text(f.EC2_ROLE_DELIVERY, record)
    if delivery is not None:
        out.notes.append(
            f"{EC2_CREDENTIALS_NOTE} {principal.session_name or ''!r} (ec2RoleDelivery "
            f"{delivery!r}): AWS adds ec2:SourceInstanceARN, aws:Ec2InstanceSourceVpc and "
            "aws:Ec2InstanceSourcePrivateIPv4, which the record does not carry; a policy that "
            "tests them (a perimeter for instance credentials) is not checked here."
        )
    created = f.text(f.SESSION_CREATED, record)
    if created is None:
        return
    issued = _parse_time(created)
    if issued is None:
        out.notes.append(f"sessionContext.attributes.creationDate {created!r} is not a time.")
        return
    out.add(
        "aws:TokenIssueTime",
        created,
        "date",
        "event:userIdentity.sessionContext.attributes.creationDate",
    )
    now = _parse_time(f.text(f.EVENT_TIME, record) or "")
    if mfa and now is not None:
        age = max(0, int((now - issued).total_seconds()))
        out.add(
            "aws:MultiFactorAuthAge",
            str(age),
            "numeric",
            "derived:eventTime - sessionContext.attributes.creationDate",
        )


def _time_and_client(record: Mapping[str, Any], out: _Builder) -> None:
    event_time = f.text(f.EVENT_TIME, record)
    moment = _parse_time(event_time) if event_time else None
    if event_time is not None and moment is not None:
        out.add("aws:CurrentTime", event_time, "date", "event:eventTime")
        out.add("aws:EpochTime", str(int(moment.timestamp())), "numeric", "derived:eventTime")
    elif event_time is not None:
        out.notes.append(f"eventTime {event_time!r} is not a time: aws:CurrentTime is absent.")
    region = f.text(f.AWS_REGION, record)
    if region is not None:
        out.add("aws:RequestedRegion", region, "string", "event:awsRegion")
    agent = f.text(f.USER_AGENT, record)
    if agent is not None:
        out.add("aws:UserAgent", agent, "string", "event:userAgent")
    signature = f.text(f.SIGNATURE_VERSION, record)
    if signature is not None:
        if signature in SIGNATURE_VERSIONS:
            out.add(
                "s3:signatureversion",
                SIGNATURE_VERSIONS[signature],
                "string",
                "event:additionalEventData.SignatureVersion",
            )
        else:
            out.notes.append(
                f"SignatureVersion {signature!r} is unknown: s3:signatureversion absent."
            )
    method = f.text(f.AUTH_METHOD, record)
    if method is not None:
        if method in AUTH_TYPES:
            out.add(
                "s3:authType",
                AUTH_TYPES[method],
                "string",
                "event:additionalEventData.AuthenticationMethod",
            )
        else:
            out.notes.append(f"AuthenticationMethod {method!r} is unknown: s3:authType absent.")


def _request(record: Mapping[str, Any], out: _Builder) -> None:
    params = f.REQUEST_PARAMETERS.search(record)
    if not isinstance(params, Mapping):
        return
    for name, (key, kind) in REQUEST_KEYS.items():
        if name not in params:  # most are not: no call
            continue
        value = f.param(params, name)
        if value is not None and (kind != "numeric" or _is_number(value)):
            out.add(key, value, kind, f"event:requestParameters.{name}")
    for name, key in LIST_KEYS.items():
        raw = params.get(name)
        if isinstance(raw, str):
            out.add(key, raw, "string", f"event:requestParameters.{name}")
    _remaining_retention(record, params, out)
    tagging = f.param(params, "x-amz-tagging")
    if tagging is not None:
        tags = parse_qsl(tagging, keep_blank_values=True)
        source = "event:requestParameters.x-amz-tagging"
        out.add("s3:RequestObjectTagKeys", [k for k, _ in tags], "stringList", source)
        for tag_key, tag_value in tags:
            out.add(f"s3:RequestObjectTag/{tag_key}", tag_value, "string", source)
    location = params.get("CreateBucketConfiguration")
    if isinstance(location, Mapping):
        constraint = f.param(location, "LocationConstraint")
        if constraint is not None:
            source = "event:requestParameters.CreateBucketConfiguration.LocationConstraint"
            out.add("s3:LocationConstraint", constraint, "string", source)


def _resource(bucket: BucketSide, out: _Builder) -> None:
    if bucket.account:
        out.add("s3:ResourceAccount", bucket.account, "string", bucket.account_source)
        out.add("aws:ResourceAccount", bucket.account, "string", bucket.account_source)
    if bucket.access_point_arn:
        source = "event:resources[AWS::S3::AccessPoint]"
        out.add("s3:DataAccessPointArn", bucket.access_point_arn, "string", source)
        if bucket.access_point_account:
            out.add("s3:DataAccessPointAccount", bucket.access_point_account, "string", source)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _remaining_retention(
    record: Mapping[str, Any], params: Mapping[str, Any], out: _Builder
) -> None:
    """s3:object-lock-remaining-retention-days of a write that sets a retain-until date: the
    whole days from the request's time to that date (AWS derives the key from the date the
    request sets; a maximum-retention Deny tests it)."""
    until_text = f.param(params, "x-amz-object-lock-retain-until-date")
    until = _parse_time(until_text) if until_text else None
    now = _parse_time(f.text(f.EVENT_TIME, record) or "")
    if until is None or now is None:
        return
    days = max(0, (until - now).days)
    out.add(
        "s3:object-lock-remaining-retention-days",
        str(days),
        "numeric",
        "derived:requestParameters.x-amz-object-lock-retain-until-date - eventTime",
    )


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
