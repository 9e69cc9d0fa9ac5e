"""Plain-language explanations of why a statement element did not match the request.

Each function looks at one element of one statement against the request and says, in one
sentence, what differs and why it matters, or returns None when the element is unrelated to
the request (not a near miss: a statement about another bucket's other action is not news).
Pure: strings in, strings out.
"""

from __future__ import annotations

from enum import StrEnum

from ..arn import parse_arn, partition_of, role_arn_from_session, split_s3_arn
from ..events.actions import is_known_action
from ..lean_dataclass import dataclass
from ..model import ConditionFailure, NearMiss, Principal, PrincipalType


class MissKind(StrEnum):
    """What kind of near miss a statement is; drives the cause code and the remedy."""

    RESOURCE_FORM = "resource-form"  # bucket ARN for an object action, or the reverse
    WRONG_BUCKET = "wrong-bucket"
    WRONG_PREFIX = "wrong-prefix"
    ACTION_NAME = "action-name"  # API name, misspelling, version action, wrong service
    ROLE_PATH = "role-path"
    SESSION_ARN = "session-arn"
    ROOT_DELEGATION = "root-delegation"
    UNIQUE_ID = "unique-id"  # the principal was deleted (and maybe recreated)
    CONDITION = "condition"
    NON_DEFAULT_VERSION = "non-default-version"


@dataclass(frozen=True, slots=True, kw_only=True)
class Why:
    kind: MissKind
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Miss:
    """A near miss tied to the evaluation (index in `Decision.evaluations`) it explains."""

    evaluation: int
    kind: MissKind
    near_miss: NearMiss
    failure: ConditionFailure | None = None  # the condition that failed, for condition misses


# API operation names (and common mistakes) whose IAM action has another name (spec section 6).
ACTION_ALIASES: dict[str, str] = {
    "s3:getbucketencryption": "s3:GetEncryptionConfiguration",
    "s3:putbucketencryption": "s3:PutEncryptionConfiguration",
    "s3:deletebucketencryption": "s3:PutEncryptionConfiguration",
    "s3:listobjects": "s3:ListBucket",
    "s3:listobjectsv2": "s3:ListBucket",
    "s3:listobjectversions": "s3:ListBucketVersions",
    "s3:headobject": "s3:GetObject",
    "s3:headbucket": "s3:ListBucket",
    "s3:listbuckets": "s3:ListAllMyBuckets",
    "s3:deleteobjects": "s3:DeleteObject",
    "s3:copyobject": "s3:PutObject",
    "s3:createmultipartupload": "s3:PutObject",
    "s3:uploadpart": "s3:PutObject",
    "s3:completemultipartupload": "s3:PutObject",
    "s3:getbucketlifecycleconfiguration": "s3:GetLifecycleConfiguration",
    "s3:putbucketlifecycleconfiguration": "s3:PutLifecycleConfiguration",
    "s3:deletebucketlifecycle": "s3:PutLifecycleConfiguration",
    "s3:getbucketreplication": "s3:GetReplicationConfiguration",
    "s3:putbucketreplication": "s3:PutReplicationConfiguration",
    "s3:getbucketnotificationconfiguration": "s3:GetBucketNotification",
    "s3:putbucketnotificationconfiguration": "s3:PutBucketNotification",
    "s3:getobjectlockconfiguration": "s3:GetBucketObjectLockConfiguration",
    "s3:putobjectlockconfiguration": "s3:PutBucketObjectLockConfiguration",
    "s3:getbucketanalyticsconfiguration": "s3:GetAnalyticsConfiguration",
    "s3:getbucketinventoryconfiguration": "s3:GetInventoryConfiguration",
    "s3:getbucketmetricsconfiguration": "s3:GetMetricsConfiguration",
    "s3:getobjectlegalhold": "s3:GetObjectLegalHold",
}

# IAM actions a versioned request needs instead of the plain one.
VERSION_ACTIONS: dict[str, str] = {
    "s3:getobjectversion": "s3:GetObject",
    "s3:deleteobjectversion": "s3:DeleteObject",
    "s3:getobjectversionacl": "s3:GetObjectAcl",
    "s3:putobjectversionacl": "s3:PutObjectAcl",
    "s3:getobjectversiontagging": "s3:GetObjectTagging",
    "s3:listbucketversions": "s3:ListBucket",
}


def _fmt_values(values: tuple[str, ...] | None, subject: str = "the request") -> str:
    if values is None:
        return f"absent from {subject}"
    return "[" + ", ".join(values) + "]"


def action_why(patterns: tuple[str, ...], action: str) -> Why | None:
    """Why the statement's Action list misses `action`, when one entry was meant for it."""
    wanted = action.lower()
    service, _, name = wanted.partition(":")
    for pattern in patterns:
        low = pattern.lower()
        p_service, _, p_name = low.partition(":")
        if ACTION_ALIASES.get(low, "").lower() == wanted:
            return Why(
                kind=MissKind.ACTION_NAME,
                text=f"Action {pattern} is the API operation's name, not an IAM action: "
                f"S3 authorizes this call as {action}",
            )
        if VERSION_ACTIONS.get(wanted, "").lower() == low:
            return Why(
                kind=MissKind.ACTION_NAME,
                text=f"Action {pattern} does not cover versions: the request names a version, "
                f"which needs {action}",
            )
        if p_name == name and p_service != service:
            return Why(
                kind=MissKind.ACTION_NAME,
                text=f"Action {pattern} is in service {p_service or '(none)'}: "
                f"this request needs {action}",
            )
        if p_service == service and "*" not in p_name and "?" not in p_name:
            import difflib  # here: the batch's start need not load it (issue 15)

            ratio = difflib.SequenceMatcher(None, p_name, name).ratio()
            if ratio >= 0.85:
                known = service == "s3" and is_known_action(pattern)  # another action, spelt right
                return Why(
                    kind=MissKind.ACTION_NAME,
                    text=f"Action {pattern} is another action: the request needs {action}"
                    if known
                    else f"Action {pattern} is misspelled: the request needs {action}",
                )
    return None


def resource_why(patterns: tuple[str, ...], resource_arn: str) -> Why | None:
    """Why the statement's Resource list misses `resource_arn`, when one entry was meant for it."""
    target = split_s3_arn(resource_arn)
    if target is None:
        return None
    bucket, key = target
    for pattern in patterns:
        parsed = split_s3_arn(pattern)
        if parsed is None:
            continue
        p_bucket, p_key = parsed
        if p_bucket == bucket:
            if key is not None and p_key is None:
                return Why(
                    kind=MissKind.RESOURCE_FORM,
                    text=f"Resource {pattern} names the bucket, but {resource_arn} is an object: "
                    f"object actions need {pattern}/* (or the key's prefix)",
                )
            if key is None and p_key is not None:
                return Why(
                    kind=MissKind.RESOURCE_FORM,
                    text=f"Resource {pattern} names objects, but this is a bucket action: "
                    f"it needs arn:aws:s3:::{bucket} without /",
                )
            if key is not None and p_key is not None:
                return Why(
                    kind=MissKind.WRONG_PREFIX,
                    text=f"Resource {pattern} covers other keys than {key!r}",
                )
    for pattern in patterns:
        parsed = split_s3_arn(pattern)
        if parsed is None:
            continue
        p_bucket, p_key = parsed
        if "*" in p_bucket or "?" in p_bucket:
            continue
        if (key is None) == (p_key is None):
            return Why(
                kind=MissKind.WRONG_BUCKET,
                text=f"Resource {pattern} is in bucket {p_bucket!r}, "
                f"but the request is on bucket {bucket!r}",
            )
    return None


def principal_why(entries: tuple[str, ...], principal: Principal) -> Why | None:
    """Why a resource-policy Principal entry does not (fully) grant to this requester."""
    account = principal.account_id
    root = f"arn:{partition_of(principal.principal_arn)}:iam::{account}:root"  # any partition
    for entry in entries:
        if entry in (account, root) and principal.type is not PrincipalType.ROOT:
            return Why(
                kind=MissKind.ROOT_DELEGATION,
                text=f"Principal {entry} is the account: that delegates to IAM but grants "
                f"nothing by itself; {principal.principal_arn} still needs an identity-policy "
                "Allow",
            )
        if entry.startswith(("AROA", "AIDA")) and ":" not in entry:
            return Why(
                kind=MissKind.UNIQUE_ID,
                text=f"Principal {entry} is the unique id of a deleted user or role: AWS shows "
                "an id once the named principal is deleted, and a recreated one does not match",
            )
        why = _role_form_why(entry, "Principal", principal)
        if why is not None:
            return why
    return None


def _role_form_why(value: str, element: str, principal: Principal) -> Why | None:
    role_arn = principal.principal_arn
    role = parse_arn(role_arn)
    if role is None or role.resource_type != "role":
        return None
    if value == principal.requester_arn:
        return None
    session_role = role_arn_from_session(value)
    if session_role is not None and session_role.rsplit("/", 1)[-1] == role.resource_name:
        return Why(
            kind=MissKind.SESSION_ARN,
            text=f"{element} {value} is an assumed-role session ARN: it matches only that one "
            f"session; name the role {role_arn} instead",
        )
    parsed = parse_arn(value)
    if (
        parsed is not None
        and parsed.resource_type == "role"
        and parsed.resource_name == role.resource_name
        and parsed.account == role.account
        and parsed.resource != role.resource
    ):
        return Why(
            kind=MissKind.ROLE_PATH,
            text=f"{element} {value} lacks the role path: the role is {role_arn}",
        )
    return None


def condition_why(
    failure: ConditionFailure, principal: Principal, subject: str = "the request"
) -> Why:
    """Why an Allow's condition failed: the key, the operator, both sides (`subject`: the
    request whose context it read, e.g. S3's call to KMS)."""
    if failure.key.lower() == "aws:principalarn":
        for expected in failure.expected:
            why = _role_form_why(
                expected, f"Condition {failure.operator} aws:PrincipalArn", principal
            )
            if why is not None:
                return why
    held = (
        f"{subject} does not carry the key"
        if failure.actual is None
        else f"{subject} has {_fmt_values(failure.actual)}"
    )
    return Why(
        kind=MissKind.CONDITION,
        text=f"Condition {failure.key} {failure.operator} expects "
        f"{_fmt_values(failure.expected)}, {held}",
    )


def describe_condition(failure: ConditionFailure) -> str:
    """One line: `aws:SecureTransport Bool: expected [false], actual [false]`."""
    return (
        f"{failure.key} {failure.operator}: expected {_fmt_values(failure.expected)}, "
        f"actual {_fmt_values(failure.actual)}"
    )
