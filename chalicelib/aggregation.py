"""Which denials are counted on one finding, and who the requester is to us (DESIGN 3.5).

Three kinds of requester are told apart before anything is collected:

- **insiders**, principals of the bucket's account or of a configured organization account:
  repeats aggregate per who (the IAM identity: a role, never its session name), what, where
  and why, as before;
- **outsiders**, anonymous callers and accounts outside the organization (outside the bucket's
  account when no organization accounts are configured): they choose how many denials they
  cause, so every denial of one class on one bucket within a window is counted on ONE
  "outside access attempts" finding, with counts by action and by source, whatever the
  principal, action or error message;
- **the diagnoser itself**: our own reads that are denied must not alert about themselves (and
  must not be diagnosed, which would read again): they make one health finding per action a
  day.

A denial in a member account whose member role (MEMBER_ROLE_NAME) is missing or refuses to be
assumed is not lost either: it makes one health finding per account and role a day
(`member_role_finding`), saying which role, which account, and what to deploy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from .arn import parse_arn
from .diagnose.catalog import CauseCode, RemedyCode, entry, remedy_title
from .engine import ENGINE_VERSION
from .lean_dataclass import dataclass
from .model import (
    AccessRequest,
    Cause,
    DiagnoserError,
    Finding,
    Layer,
    PrincipalType,
    Remedy,
    Unchecked,
    Verdict,
)

HEALTH_WINDOW = timedelta(days=1)
MAX_TALLY_ENTRIES = 50
"""Distinct actions or sources counted by name on an outsider finding; the rest as `OTHER`."""
OTHER = "(other)"
TALLY_NAME_CHARS = 128  # longer action or source names are cut, with an ellipsis
OUTSIDE_ATTEMPTS = "outside_attempts"  # the finding's key for an outsider finding's counts
UNKNOWN_SOURCE = "(unknown)"


class Origin(StrEnum):
    """Who the requester is to the deployment."""

    INSIDER = "insider"
    ANONYMOUS = "anonymous"
    FOREIGN_ACCOUNT = "foreign-account"
    DIAGNOSER = "diagnoser"

    @property
    def outsider(self) -> bool:
        return self in (Origin.ANONYMOUS, Origin.FOREIGN_ACCOUNT)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trust:
    """What the deployment knows of its own: organization accounts and its own roles.

    `organization_accounts` come from ORGANIZATION_ACCOUNT_IDS, or from AWS Organizations in
    an organization deployment without it (collect/membership.py). `diagnoser_roles` holds
    `(account id, role name)` pairs: a role session of one of them is the diagnoser itself;
    so is a session of `diagnoser_role_names` (the member role, MEMBER_ROLE_NAME) in any
    account.
    """

    organization_accounts: frozenset[str] = frozenset()
    diagnoser_roles: frozenset[tuple[str, str]] = frozenset()
    diagnoser_role_names: frozenset[str] = frozenset()
    membership_error: str | None = None
    """Why the organization's accounts could not be read (AWS Organizations): other accounts
    are then outside it, and findings of their requests say so (`membership_note`)."""


NO_TRUST = Trust()
"""No organization accounts, no diagnoser role: only the bucket's own account is trusted."""


def role_of(arn: str) -> tuple[str, str] | None:
    """`(account, role name)` of an IAM role ARN (any path) or an assumed-role session ARN."""
    parsed = parse_arn(arn)
    if parsed is None:
        return None
    resource = parsed.resource
    if parsed.service == "iam" and resource.startswith("role/"):
        return parsed.account, resource.rsplit("/", 1)[1]
    if parsed.service == "sts" and resource.startswith("assumed-role/"):
        parts = resource.split("/")
        return (parsed.account, parts[1]) if len(parts) >= 2 else None
    return None


def origin(request: AccessRequest, trust: Trust) -> Origin:
    """Classify the requester of `request` (see the module docstring)."""
    principal = request.principal
    if principal.type in (PrincipalType.ASSUMED_ROLE, PrincipalType.ROLE):
        role = role_of(principal.principal_arn) or role_of(principal.requester_arn)
        if role is not None and (
            role in trust.diagnoser_roles or role[1] in trust.diagnoser_role_names
        ):
            return Origin.DIAGNOSER
    if principal.type is PrincipalType.ANONYMOUS:
        return Origin.ANONYMOUS
    if principal.type is PrincipalType.AWS_SERVICE:
        return Origin.INSIDER
    home = request.bucket_account
    account = principal.account_id
    if not account or not home or account == home or account in trust.organization_accounts:
        return Origin.INSIDER
    return Origin.FOREIGN_ACCOUNT


def cheap_key(request: AccessRequest, kind: Origin) -> str:
    """What identifies repeats of a denial before diagnosing it.

    Insiders: the IAM identity, action, bucket, endpoint and error message. The message names
    the caller as logged (a role session's ARN ends with its session name), so the caller is
    replaced by the identity: the sessions of one role aggregate together.
    """
    if kind is not Origin.INSIDER:
        return _fixed_key(request, kind)
    principal = request.principal
    hint = request.denial_hint.raw if request.denial_hint else ""
    if principal.requester_arn and principal.requester_arn != principal.principal_arn:
        hint = hint.replace(principal.requester_arn, principal.principal_arn)
    parts = [
        principal.principal_arn,
        request.action,
        request.bucket or request.resource_arn,
        request.vpc_endpoint_id or "",
        hint,
    ]
    return "request-" + digest(parts)


def diagnosis_key(finding: Finding, kind: Origin) -> str:
    """What identifies repeats of a denial once diagnosed: who, what, where and why."""
    request = finding.request
    if kind is not Origin.INSIDER:
        return _fixed_key(request, kind)
    causes = sorted(
        (
            cause.code,
            cause.layer.value if cause.layer else "",
            cause.statement.policy if cause.statement else "",
            cause.statement.index if cause.statement else -1,
        )
        for cause in finding.causes
    )
    parts = [
        request.principal.principal_arn,
        request.action,
        request.bucket or request.resource_arn,
        finding.decision.value,
        sorted(b.value for b in finding.blocked_by),
        causes,
    ]
    return "diagnosis-" + digest(parts)


def window_for(kind: Origin, window: timedelta) -> timedelta:
    """The aggregation window: a day at least for the diagnoser's own denials."""
    return max(window, HEALTH_WINDOW) if kind is Origin.DIAGNOSER else window


def _fixed_key(request: AccessRequest, kind: Origin) -> str:
    if kind is Origin.DIAGNOSER:
        return "diagnoser-" + digest([request.principal.principal_arn, request.action])
    return "outside-" + digest([kind.value, request.bucket or request.resource_arn])


# ---------------------------------------------------------------- outsider tallies


def tally(request: AccessRequest, kind: Origin) -> dict[str, str]:
    """The action and the source one outsider denial adds to its finding's counts.

    The source is the caller's account for another account's principals, else the source IP.
    """
    if kind is Origin.FOREIGN_ACCOUNT and request.principal.account_id:
        source = f"account {request.principal.account_id}"
    else:
        ips = request.context_value("aws:SourceIp")
        source = ips[0] if ips else UNKNOWN_SOURCE
    # Names become keys of a stored map: an event's value must not grow the item without bound.
    return {"action": _bounded(request.action), "source": _bounded(source)}


def _bounded(name: str) -> str:
    return name if len(name) <= TALLY_NAME_CHARS else name[: TALLY_NAME_CHARS - 1] + "…"


def outsider_finding(finding: Finding, kind: Origin) -> Finding:
    """The first outsider denial's finding, turned into the window's "outside access attempts"
    finding: it says what it counts, and starts the counts by action and source."""
    counts = tally(finding.request, kind)
    who = (
        "anonymous callers"
        if kind is Origin.ANONYMOUS
        else "principals of accounts outside the organization"
    )
    bucket = finding.request.bucket or finding.request.resource_arn
    note = (
        f"Outside access attempts: every denial by {who} on {bucket} in this window is counted "
        "on this finding (occurrences; outside_attempts counts them by action and source). "
        "The diagnosis shown is the first attempt's."
    )
    attempts = {
        "origin": kind.value,
        "by_action": {counts["action"]: 1},
        "by_source": {counts["source"]: 1},
    }
    return replace(
        finding,
        notes=(note, *finding.notes),
        extra={**finding.extra, OUTSIDE_ATTEMPTS: attempts},
    )


def merge_tally(
    attempts: Mapping[str, Any], by_action: Mapping[str, int], by_source: Mapping[str, int]
) -> dict[str, Any]:
    """`attempts` with stored counts in place of its own (reading an outsider finding back)."""
    return {**attempts, "by_action": dict(by_action), "by_source": dict(by_source)}


# ---------------------------------------------------------------- the diagnoser's health


def health_finding(request: AccessRequest, *, finding_id: str, now: str) -> Finding:
    """The finding for a denial of the diagnoser's own read: no collection, no policy cause."""
    code = CauseCode.DIAGNOSER_READ_DENIED
    message = (
        f"s3-403-doctor's own role ({request.principal.principal_arn}) was denied "
        f"{request.action} on {request.resource_arn}. Findings that need this read list the "
        "layer as unchecked until the role is allowed it (docs/deploy.md); this is reported "
        "once a day per action, and never diagnosed (that would read again)."
    )
    remedy = Remedy(
        code=RemedyCode.GRANT_DIAGNOSER_READ.value,
        target=request.principal.principal_arn,
        summary=remedy_title(RemedyCode.GRANT_DIAGNOSER_READ),
    )
    return _health(
        request,
        Cause(code=code.value, layer=None, message=message),
        remedy,
        finding_id=finding_id,
        now=now,
        notes=(entry(code).why,),
    )


def _health(
    request: AccessRequest,
    cause: Cause,
    remedy: Remedy,
    *,
    finding_id: str,
    now: str,
    notes: tuple[str, ...] = (),
    unchecked: tuple[Unchecked, ...] = (),
    extra: Mapping[str, Any] | None = None,
) -> Finding:
    """A finding about the deployment itself (severity `health`): inconclusive, no evaluation,
    one cause and one remedy; nothing was collected for it."""
    return Finding(
        finding_id=finding_id,
        request=request,
        decision=Verdict.INCONCLUSIVE,
        blocked_by=(),
        evaluations=(),
        engine_version=ENGINE_VERSION,
        event_id=request.event_id,
        event_time=request.event_time,
        causes=(cause,),
        remedies=(remedy,),
        unchecked=unchecked,
        notes=notes,
        first_seen=now,
        last_seen=now,
        extra={"severity": "health", **(extra or {})},
    )


def digest(value: object) -> str:
    """sha256 of the canonical JSON of `value`."""
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


# ---------------------------------------------------------------- member accounts

MEMBER_ROLE_UNAVAILABLE = CauseCode.MEMBER_ROLE_UNAVAILABLE.value
DEPLOY_MEMBER_ROLE = RemedyCode.DEPLOY_MEMBER_ROLE.value
MEMBER_ROLE = "member_role"  # the finding's key: {account, role_arn, error, needs}
_MEMBER_LAYERS = (
    Layer.IDENTITY_POLICY,
    Layer.PERMISSIONS_BOUNDARY,
    Layer.BUCKET_POLICY,
    Layer.BUCKET_ACL,
    Layer.OBJECT_ACL,
    Layer.OBJECT_OWNERSHIP,
    Layer.BLOCK_PUBLIC_ACCESS,
    Layer.KMS_KEY_POLICY,
)


class MemberRoleUnavailable(DiagnoserError):
    """The member role of `account` is missing or refused AssumeRole (`code`, e.g.
    AccessDenied): nothing in that account can be read until it is deployed."""

    def __init__(self, *, account: str, role_arn: str, code: str, message: str = "") -> None:
        super().__init__(f"cannot assume {role_arn} in account {account}: {code} {message}")
        self.account = account
        self.role_arn = role_arn
        self.code = code
        self.message = message

    @property
    def needs(self) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return (
            f"deploy the member template (role {role_name}, trusting the central event "
            f"function's role) in account {self.account}"
        )


def member_role_finding(
    request: AccessRequest, error: MemberRoleUnavailable, *, finding_id: str, now: str
) -> Finding:
    """The finding of a denial in an account whose member role cannot be assumed: inconclusive,
    every layer unchecked with what to deploy; aggregated a day per account and role."""
    message = (
        f"s3-403-doctor could not assume {error.role_arn} to read account {error.account} "
        f"({error.code}): {error.needs}. Until then denials in that account are not diagnosed, "
        "and its side of a cross-account denial (the requester's policies, a KMS key there) "
        "stays unchecked; this is reported once a day per account."
    )
    layers = [*_MEMBER_LAYERS]
    if request.access_point_arn:
        layers.append(Layer.ACCESS_POINT_POLICY)
    if request.vpc_endpoint_id:
        layers.append(Layer.VPC_ENDPOINT_POLICY)
    reason = f"{error.code} assuming {error.role_arn}"
    return _health(
        request,
        Cause(code=MEMBER_ROLE_UNAVAILABLE, layer=None, message=message),
        Remedy(code=DEPLOY_MEMBER_ROLE, target=error.role_arn, summary=error.needs.capitalize()),
        finding_id=finding_id,
        now=now,
        unchecked=tuple(
            Unchecked(layer=layer, reason=reason, needs=error.needs) for layer in layers
        ),
        extra={
            "account": error.account,
            MEMBER_ROLE: {
                "account": error.account,
                "role_arn": error.role_arn,
                "error": error.code,
                "needs": error.needs,
            },
        },
    )


def member_role_key(finding: Finding) -> str | None:
    """The aggregation key of a member-role finding (account and role), None for others."""
    member = finding.extra.get(MEMBER_ROLE)
    if not isinstance(member, Mapping):
        return None
    return "member-role-" + digest([member.get("account"), member.get("role_arn")])


# ---------------------------------------------------------------- organization membership

MEMBERSHIP_NEEDS = (
    "organizations:ListAccounts for the organization-read role (ORG_READ_ROLE_ARN) or the "
    "event function's role, or the accounts in ORGANIZATION_ACCOUNT_IDS"
)
_REQUESTER_LAYERS = (Layer.IDENTITY_POLICY, Layer.PERMISSIONS_BOUNDARY, Layer.SCP)


def membership_note(finding: Finding, trust: Trust) -> Finding:
    """`finding`, saying so when the organization's accounts could not be read and the
    requester is another account's: that side was not read (treated as outside the
    organization), and its layers are unchecked with what would make them readable (the
    permission to list the organization's accounts)."""
    request = finding.request
    requester = request.principal.account_id
    if trust.membership_error is None or not requester or requester == request.bucket_account:
        return finding
    note = (
        f"The organization's accounts could not be read ({trust.membership_error}): account "
        f"{requester} was treated as outside the organization, so only the bucket owner's side "
        f"was read; the requester's side is unchecked. Needs {MEMBERSHIP_NEEDS}."
    )
    reason = f"organization membership unreadable: requester account {requester} not read"
    unchecked = [
        replace(u, reason=f"{reason} ({u.reason})", needs=MEMBERSHIP_NEEDS)
        if u.layer in _REQUESTER_LAYERS
        else u
        for u in finding.unchecked
    ]
    listed = {u.layer for u in unchecked}
    unchecked += [
        Unchecked(layer=layer, reason=reason, needs=MEMBERSHIP_NEEDS)
        for layer in _REQUESTER_LAYERS
        if layer not in listed
    ]
    return replace(finding, notes=(*finding.notes, note), unchecked=tuple(unchecked))
