"""Reading an `errorMessage` for what AWS says denied the call (spec 4.1).

The enhanced messages follow one grammar::

    User: <arn> is not authorized to perform: <action>[ on resource: "<arn>"] <context>
    <context> ::= with an explicit deny in a|an <type>[: <policy-arn>]
                | because no <type> allows the <action> action

plus sentences for Block Public Access, the KMS leg and SSE-C blocking. A plain
"Access Denied" yields a hint with only `raw` set.
"""

from __future__ import annotations

import re
from typing import Final

from ..model import DenialHint, Layer

_HEAD: Final = re.compile(
    r"is not authorized to perform:\s*(?P<action>[A-Za-z0-9-]+:[A-Za-z0-9*]+)"
    r"(?:\s+on resource:\s*\"?(?P<resource>[^\"\s]+)\"?)?"
)
_EXPLICIT: Final = re.compile(
    r"with an explicit deny in an? (?P<type>[A-Za-z -]+?)(?::\s*(?P<arn>arn:\S+?))?\.?\s*$"
)
_IMPLICIT: Final = re.compile(r"because no (?P<type>[A-Za-z -]+?) allows? the ")
_BPA: Final = re.compile(r"prevented by the (?P<setting>\w+) setting in S3 Block Public Access")
_SSE_C: Final = re.compile(r"blocked upload requests that specify Server Side Encryption with Cust")
_KMS_RESOURCE_SIDE: Final = re.compile(
    r"resource does not exist in this Region, no resource-based policies allow access"
)

_TYPES: Final[dict[str, str]] = {
    "identity-based policy": Layer.IDENTITY_POLICY.value,
    "resource-based policy": Layer.BUCKET_POLICY.value,
    "service control policy": Layer.SCP.value,
    "resource control policy": Layer.RCP.value,
    "permissions boundary": Layer.PERMISSIONS_BOUNDARY.value,
    "session policy": Layer.SESSION_POLICY.value,
    "vpc endpoint policy": Layer.VPC_ENDPOINT_POLICY.value,
}


def parse_denial_message(message: str) -> DenialHint:
    """The action, resource, policy type, explicit/implicit and policy ARN a message names.

    A "resource-based policy" is the bucket policy for S3 actions, the access point policy when
    the resource is an access point, and the key policy for KMS actions.
    """
    head = _HEAD.search(message)
    action = head.group("action") if head else None
    resource = head.group("resource") if head else None
    tail = message[head.end() :] if head else message
    policy_type: str | None = None
    explicit: bool | None = None
    policy_arn: str | None = None
    if match := _EXPLICIT.search(tail):
        policy_type = _layer_of(match.group("type"), action, resource)
        explicit = True
        policy_arn = match.group("arn")
    elif match := _IMPLICIT.search(tail):
        policy_type = _layer_of(match.group("type"), action, resource)
        explicit = False
    elif _BPA.search(tail):
        policy_type = Layer.BLOCK_PUBLIC_ACCESS.value
        explicit = True
    elif _SSE_C.search(message):
        policy_type = Layer.REQUEST.value
        explicit = True
    elif _KMS_RESOURCE_SIDE.search(tail):
        policy_type = Layer.KMS_KEY_POLICY.value
    return DenialHint(
        raw=message,
        action=action,
        resource=resource,
        policy_type=policy_type,
        explicit=explicit,
        policy_arn=policy_arn,
    )


def bpa_setting(hint: DenialHint) -> str | None:
    """The Block Public Access setting a message names (BlockPublicAcls, BlockPublicPolicy)."""
    match = _BPA.search(hint.raw)
    return match.group("setting") if match else None


def _layer_of(phrase: str, action: str | None, resource: str | None) -> str | None:
    kind = _TYPES.get(phrase.strip().lower())
    if kind != Layer.BUCKET_POLICY.value:
        return kind
    if action is not None and action.lower().startswith("kms:"):
        return Layer.KMS_KEY_POLICY.value
    if resource is not None and ":accesspoint/" in resource:
        return Layer.ACCESS_POINT_POLICY.value
    return kind
