"""Named, compiled jmespath expressions over one CloudTrail record (an event's `detail`).

`text` and `flag` read a value with its type checked, so malformed records yield None instead of
surprising types further down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import jmespath
from jmespath.parser import ParsedResult

from .params import param as param  # re-exported: `f.param`, a parameter of a record

EVENT_SOURCE: Final = jmespath.compile("eventSource")
EVENT_NAME: Final = jmespath.compile("eventName")
EVENT_ID: Final = jmespath.compile("eventID")
SHARED_EVENT_ID: Final = jmespath.compile("sharedEventID")
EVENT_TIME: Final = jmespath.compile("eventTime")
ERROR_CODE: Final = jmespath.compile("errorCode")
EVENT_TYPE: Final = jmespath.compile("eventType")
EVENT_CATEGORY: Final = jmespath.compile("eventCategory")
ERROR_MESSAGE: Final = jmespath.compile("errorMessage")
AWS_REGION: Final = jmespath.compile("awsRegion")
SOURCE_IP: Final = jmespath.compile("sourceIPAddress")
USER_AGENT: Final = jmespath.compile("userAgent")
VPC_ENDPOINT_ID: Final = jmespath.compile("vpcEndpointId")
VPC_ENDPOINT_ACCOUNT: Final = jmespath.compile("vpcEndpointAccountId")
RECIPIENT_ACCOUNT: Final = jmespath.compile("recipientAccountId")
REQUEST_PARAMETERS: Final = jmespath.compile("requestParameters")
BUCKET_NAME: Final = jmespath.compile("requestParameters.bucketName")
OBJECT_KEY: Final = jmespath.compile("requestParameters.key")
VERSION_ID: Final = jmespath.compile("requestParameters.versionId")
DELETE_ENTRIES: Final = jmespath.compile("requestParameters.delete.Object")

IDENTITY: Final = jmespath.compile("userIdentity")
IDENTITY_TYPE: Final = jmespath.compile("userIdentity.type")
IDENTITY_ARN: Final = jmespath.compile("userIdentity.arn")
IDENTITY_ACCOUNT: Final = jmespath.compile("userIdentity.accountId")
PRINCIPAL_ID: Final = jmespath.compile("userIdentity.principalId")
USER_NAME: Final = jmespath.compile("userIdentity.userName")
INVOKED_BY: Final = jmespath.compile("userIdentity.invokedBy")
ISSUER_TYPE: Final = jmespath.compile("userIdentity.sessionContext.sessionIssuer.type")
ISSUER_ARN: Final = jmespath.compile("userIdentity.sessionContext.sessionIssuer.arn")
MFA_AUTHENTICATED: Final = jmespath.compile(
    "userIdentity.sessionContext.attributes.mfaAuthenticated"
)
SESSION_CREATED: Final = jmespath.compile("userIdentity.sessionContext.attributes.creationDate")
SOURCE_IDENTITY: Final = jmespath.compile("userIdentity.sessionContext.sourceIdentity")
EC2_ROLE_DELIVERY: Final = jmespath.compile("userIdentity.sessionContext.ec2RoleDelivery")

TLS_VERSION: Final = jmespath.compile("tlsDetails.tlsVersion")
CIPHER_SUITE: Final = jmespath.compile("tlsDetails.cipherSuite || additionalEventData.CipherSuite")
SIGNATURE_VERSION: Final = jmespath.compile("additionalEventData.SignatureVersion")
AUTH_METHOD: Final = jmespath.compile("additionalEventData.AuthenticationMethod")

BUCKET_ARNS: Final = jmespath.compile("resources[?type=='AWS::S3::Bucket'].ARN")
BUCKET_ACCOUNT: Final = jmespath.compile("resources[?type=='AWS::S3::Bucket'].accountId | [0]")
OBJECT_ARNS: Final = jmespath.compile("resources[?type=='AWS::S3::Object'].ARN")
ACCESS_POINT_ARN: Final = jmespath.compile("resources[?type=='AWS::S3::AccessPoint'].ARN | [0]")
ACCESS_POINT_ACCOUNT: Final = jmespath.compile(
    "resources[?type=='AWS::S3::AccessPoint'].accountId | [0]"
)
MRAP_ARN: Final = jmespath.compile("resources[?type=='AWS::S3::MultiRegionAccessPoint'].ARN | [0]")
HOSTS: Final = jmespath.compile("[requestParameters.Host, tlsDetails.clientProvidedHostHeader]")
FIRST_RESOURCE_ARN: Final = jmespath.compile("resources[0].ARN || resources[0].ARNPrefix")


def text(expression: ParsedResult, data: Mapping[str, Any]) -> str | None:
    """The value as a non-empty string (numbers rendered); None when absent or of another type."""
    value = expression.search(data)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def string(expression: ParsedResult, data: Mapping[str, Any]) -> str | None:
    """The value when it is a non-empty string, None otherwise (numbers are not names)."""
    value = expression.search(data)
    return value if isinstance(value, str) and value else None


_IDENTIFIER = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,127}")


def identifier(expression: ParsedResult, data: Mapping[str, Any]) -> str | None:
    """The value when it looks like a CloudTrail id (a GUID: letters, digits, dashes; at most 128
    characters), None otherwise: it becomes a storage key."""
    value = expression.search(data)
    return value if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else None


def flag(value: str | None) -> bool | None:
    """CloudTrail's "true"/"false" strings as a bool, None for anything else."""
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return None
