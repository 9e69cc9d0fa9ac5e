"""Named, compiled jmespath expressions over one CloudTrail record (an event's `detail`).

`text` and `flag` read a value with its type checked, so malformed records yield None instead of
surprising types further down.

Each expression is searched by one jmespath interpreter kept for every search (`Field`):
jmespath's own `search` builds an interpreter, its function table and its method cache at each
call, which was most of the cost of reading a field (a record reads some fifty).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import jmespath
from jmespath.visitor import TreeInterpreter

from .params import param as param  # re-exported: `f.param`, a parameter of a record


class Field:
    """A compiled jmespath expression; `search` is `jmespath.search(expression, data)`.

    A path of names (`a.b.c`, most fields) is walked as jmespath's interpreter walks it, without
    its dispatch: each name is `value.get(name)`, and a value without `get` gives None."""

    __slots__ = ("_filter", "_keys", "_tree", "expression")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._tree = jmespath.compile(expression).parsed
        self._keys = _names(self._tree)
        self._filter = _filter(self._tree)

    def search(self, data: Any) -> Any:
        keys = self._keys
        if keys is None:
            if self._filter is not None:
                return _filtered(self._filter, data)
            return _INTERPRETER.visit(self._tree, data)
        value = data
        try:
            for key in keys:
                value = value.get(key)
        except AttributeError:  # a value without `get` (None, a list, a string...)
            return None
        return value


_Filter = tuple[str, str, str, str, bool]  # list, tested name, its string, projected name, [0]
_FIRST: Final = {
    "type": "index_expression",
    "children": [
        {"type": "identity", "children": []},
        {"type": "index", "value": 0, "children": []},
    ],
}


def _filter(tree: Mapping[str, Any]) -> _Filter | None:
    """The parts of `a[?b=='s'].c` (a filter of a list by a name's string, a name of each
    element kept; `resources[]`'s fields), with `| [0]` or not; None for another tree."""
    first = tree["type"] == "pipe" and tree["children"][1] == _FIRST
    if first:
        tree = tree["children"][0]
    if tree["type"] != "filter_projection":
        return None
    base, kept, test = tree["children"]
    if base["type"] != "field" or kept["type"] != "field" or test["type"] != "comparator":
        return None
    tested, literal = test["children"]
    if test["value"] != "eq" or tested["type"] != "field" or literal["type"] != "literal":
        return None
    if not isinstance(literal["value"], str):
        return None
    return base["value"], tested["value"], literal["value"], kept["value"], first


def _filtered(parts: _Filter, data: Any) -> Any:
    """`_filter`'s expression searched as jmespath's interpreter does: a value without `get`
    has no names (None), an element is kept when its name holds that very string (jmespath's
    equality of a string and any JSON value), and its kept name when not None."""
    source, tested, string, kept, first = parts
    try:
        elements = data.get(source)
    except AttributeError:
        return None
    if not isinstance(elements, list):
        return None
    found = []
    for element in elements:
        try:
            if element.get(tested) == string and (value := element.get(kept)) is not None:
                found.append(value)
        except AttributeError:
            continue
    if first:
        return found[0] if found else None
    return found


def _names(tree: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The names of a `field` or a `subexpression` of fields, in order; None for another tree."""
    if tree["type"] == "field":
        return (tree["value"],)
    if tree["type"] == "subexpression" and all(c["type"] == "field" for c in tree["children"]):
        return tuple(child["value"] for child in tree["children"])
    return None


# Holds no state of a search but the visit method of each node type (`Visitor._method_cache`).
_INTERPRETER: Final = TreeInterpreter()

EVENT_SOURCE: Final = Field("eventSource")
EVENT_NAME: Final = Field("eventName")
EVENT_ID: Final = Field("eventID")
SHARED_EVENT_ID: Final = Field("sharedEventID")
EVENT_TIME: Final = Field("eventTime")
ERROR_CODE: Final = Field("errorCode")
EVENT_TYPE: Final = Field("eventType")
EVENT_CATEGORY: Final = Field("eventCategory")
ERROR_MESSAGE: Final = Field("errorMessage")
AWS_REGION: Final = Field("awsRegion")
SOURCE_IP: Final = Field("sourceIPAddress")
USER_AGENT: Final = Field("userAgent")
VPC_ENDPOINT_ID: Final = Field("vpcEndpointId")
VPC_ENDPOINT_ACCOUNT: Final = Field("vpcEndpointAccountId")
RECIPIENT_ACCOUNT: Final = Field("recipientAccountId")
REQUEST_PARAMETERS: Final = Field("requestParameters")
BUCKET_NAME: Final = Field("requestParameters.bucketName")
OBJECT_KEY: Final = Field("requestParameters.key")
VERSION_ID: Final = Field("requestParameters.versionId")
DELETE_ENTRIES: Final = Field("requestParameters.delete.Object")

IDENTITY: Final = Field("userIdentity")
IDENTITY_TYPE: Final = Field("userIdentity.type")
IDENTITY_ARN: Final = Field("userIdentity.arn")
IDENTITY_ACCOUNT: Final = Field("userIdentity.accountId")
PRINCIPAL_ID: Final = Field("userIdentity.principalId")
USER_NAME: Final = Field("userIdentity.userName")
INVOKED_BY: Final = Field("userIdentity.invokedBy")
ISSUER_TYPE: Final = Field("userIdentity.sessionContext.sessionIssuer.type")
ISSUER_ARN: Final = Field("userIdentity.sessionContext.sessionIssuer.arn")
MFA_AUTHENTICATED: Final = Field("userIdentity.sessionContext.attributes.mfaAuthenticated")
SESSION_CREATED: Final = Field("userIdentity.sessionContext.attributes.creationDate")
SOURCE_IDENTITY: Final = Field("userIdentity.sessionContext.sourceIdentity")
EC2_ROLE_DELIVERY: Final = Field("userIdentity.sessionContext.ec2RoleDelivery")

TLS_VERSION: Final = Field("tlsDetails.tlsVersion")
CIPHER_SUITE: Final = Field("tlsDetails.cipherSuite || additionalEventData.CipherSuite")
SIGNATURE_VERSION: Final = Field("additionalEventData.SignatureVersion")
AUTH_METHOD: Final = Field("additionalEventData.AuthenticationMethod")

BUCKET_ARNS: Final = Field("resources[?type=='AWS::S3::Bucket'].ARN")
BUCKET_ACCOUNT: Final = Field("resources[?type=='AWS::S3::Bucket'].accountId | [0]")
OBJECT_ARNS: Final = Field("resources[?type=='AWS::S3::Object'].ARN")
ACCESS_POINT_ARN: Final = Field("resources[?type=='AWS::S3::AccessPoint'].ARN | [0]")
ACCESS_POINT_ACCOUNT: Final = Field("resources[?type=='AWS::S3::AccessPoint'].accountId | [0]")
MRAP_ARN: Final = Field("resources[?type=='AWS::S3::MultiRegionAccessPoint'].ARN | [0]")
HOSTS: Final = Field("[requestParameters.Host, tlsDetails.clientProvidedHostHeader]")
FIRST_RESOURCE_ARN: Final = Field("resources[0].ARN || resources[0].ARNPrefix")


def text(expression: Field, data: Mapping[str, Any]) -> str | None:
    """The value as a non-empty string (numbers rendered); None when absent or of another type."""
    value = expression.search(data)
    if value is None or type(value) is str:  # what a record mostly holds, or lacks
        return value or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def string(expression: Field, data: Mapping[str, Any]) -> str | None:
    """The value when it is a non-empty string, None otherwise (numbers are not names)."""
    value = expression.search(data)
    return value if isinstance(value, str) and value else None


_IDENTIFIER = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,127}")


def identifier(expression: Field, data: Mapping[str, Any]) -> str | None:
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
