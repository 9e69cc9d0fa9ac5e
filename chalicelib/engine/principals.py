"""The Principal / NotPrincipal element, and which principals a requester presents.

Pure: standard library and `chalicelib.model` / `chalicelib.arn` only.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html ·
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html

A statement names principals by form (`PrincipalForm`); a requester presents several
(`identity_for`): a role session presents its session ARN, its role ARN (with path), its
role's unique id and its account, so a bucket policy naming any of them applies to it, and
`principal_match` reports the most specific form that named it (spec §2.3 decides what each
form is worth). Principal ARNs contain no wildcards (only `"*"` on its own is allowed), so
they compare as exact strings. A unique id (`AROA…`, `AIDA…`) is what AWS shows once the
named user or role was deleted: it matches only a requester with that same id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from ..arn import parse_arn
from ..lean_dataclass import dataclass
from ..model import MalformedPolicyError, Principal, PrincipalType


class PrincipalForm(StrEnum):
    """How a policy names a principal (and how a requester can be named)."""

    ANY = "*"
    ACCOUNT = "account"
    USER = "user"
    ROLE = "role"
    ROLE_SESSION = "role-session"
    FEDERATED_USER = "federated-user"
    SERVICE = "service"
    CANONICAL_USER = "canonical-user"
    FEDERATED_PROVIDER = "federated-provider"
    UNIQUE_ID = "unique-id"


# Most specific first: what `principal_match` reports when several entries name the requester.
_SPECIFICITY = (
    PrincipalForm.ROLE_SESSION,
    PrincipalForm.FEDERATED_USER,
    PrincipalForm.USER,
    PrincipalForm.SERVICE,
    PrincipalForm.CANONICAL_USER,
    PrincipalForm.FEDERATED_PROVIDER,
    PrincipalForm.ROLE,
    PrincipalForm.UNIQUE_ID,
    PrincipalForm.ACCOUNT,
    PrincipalForm.ANY,
)
_RANK = {form: i for i, form in enumerate(_SPECIFICITY)}

_ACCOUNT_ID = re.compile(r"\d{12}")
# IAM unique ids: AIDA (user), AROA (role), AGPA (group)... 4-letter prefix then 12+ chars.
_UNIQUE_ID = re.compile(r"A[A-Z0-9]{3}[A-Z0-9]{12,}")
_CANONICAL_ID = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class NamedPrincipal:
    """One entry of a Principal element: its form and the value it is compared by."""

    form: PrincipalForm
    value: str  # account id for ACCOUNT, the ARN / id / name as written otherwise
    source: str  # as written in the policy


@dataclass(frozen=True, slots=True, kw_only=True)
class PrincipalIdentity:
    """What a requester presents to Principal elements: (form, value) pairs."""

    presented: frozenset[tuple[PrincipalForm, str]]
    anonymous: bool = False

    def presents(self, form: PrincipalForm, value: str) -> bool:
        return (form, value) in self.presented

    @property
    def is_account(self) -> bool:
        """The account itself (its root user): it presents no user, role or session."""
        return all(
            form in (PrincipalForm.ACCOUNT, PrincipalForm.CANONICAL_USER)
            for form, _ in self.presented
        )

    def values(self, form: PrincipalForm) -> tuple[str, ...]:
        return tuple(sorted(v for f, v in self.presented if f is form))


def identity_for(principal: Principal, *, canonical_id: str | None = None) -> PrincipalIdentity:
    """The principals a requester presents (see the module docstring)."""
    out: set[tuple[PrincipalForm, str]] = set()
    kind = principal.type
    if kind is PrincipalType.ANONYMOUS:
        return PrincipalIdentity(presented=frozenset(), anonymous=True)
    if principal.account_id and kind is not PrincipalType.AWS_SERVICE:
        out.add((PrincipalForm.ACCOUNT, principal.account_id))
    if kind is PrincipalType.IAM_USER:
        out.add((PrincipalForm.USER, principal.principal_arn))
    elif kind is PrincipalType.ASSUMED_ROLE:
        out.add((PrincipalForm.ROLE_SESSION, principal.requester_arn))
        out.add((PrincipalForm.ROLE, principal.principal_arn))
    elif kind is PrincipalType.ROLE:
        out.add((PrincipalForm.ROLE, principal.principal_arn))
    elif kind is PrincipalType.FEDERATED_USER:
        out.add((PrincipalForm.FEDERATED_USER, principal.requester_arn))
        parent = parse_arn(principal.principal_arn)
        if parent is not None and parent.resource_type == "user":
            out.add((PrincipalForm.USER, principal.principal_arn))
    elif kind is PrincipalType.AWS_SERVICE and principal.service:
        out.add((PrincipalForm.SERVICE, principal.service))
    if principal.user_id and kind in (PrincipalType.IAM_USER, PrincipalType.ASSUMED_ROLE):
        out.add((PrincipalForm.UNIQUE_ID, principal.user_id.split(":", 1)[0]))
    if canonical_id:
        out.add((PrincipalForm.CANONICAL_USER, canonical_id))
    return PrincipalIdentity(presented=frozenset(out))


@dataclass(frozen=True, slots=True)
class PrincipalElement:
    """A compiled Principal or NotPrincipal element."""

    entries: tuple[NamedPrincipal, ...]
    negated: bool = False

    def named_forms(self, identity: PrincipalIdentity) -> tuple[PrincipalForm, ...]:
        """The forms of the entries that name `identity`, most specific first."""
        forms = {e.form for e in self.entries if _names(e, identity)}
        return tuple(sorted(forms, key=_RANK.__getitem__))

    def match(self, identity: PrincipalIdentity) -> PrincipalForm | None:
        """How the element names the requester; for NotPrincipal ANY when it is not listed."""
        forms = self.named_forms(identity)
        if self.negated:
            # Listing the account in a NotPrincipal exempts only the account (root) itself:
            # its users and roles are exempt only when listed (reference_policies_elements_
            # notprincipal.html).
            exempt = any(f is not PrincipalForm.ACCOUNT for f in forms) or (
                bool(forms) and identity.is_account
            )
            return None if exempt else PrincipalForm.ANY
        return forms[0] if forms else None


def _names(entry: NamedPrincipal, identity: PrincipalIdentity) -> bool:
    if entry.form is PrincipalForm.ANY:
        return True
    return identity.presents(entry.form, entry.value)


def compile_principal(
    element: Any, *, policy_id: str, element_name: str = "Principal"
) -> PrincipalElement:
    """Compile a Principal (or NotPrincipal) element; MalformedPolicyError names the problem."""

    def malformed(message: str) -> MalformedPolicyError:
        return MalformedPolicyError(policy_id, element_name, message)

    negated = element_name == "NotPrincipal"
    if element == "*":
        return PrincipalElement((NamedPrincipal(PrincipalForm.ANY, "*", "*"),), negated)
    if not isinstance(element, Mapping) or not element:
        raise malformed('must be "*" or an object such as {"AWS": [...]}')
    entries: list[NamedPrincipal] = []
    for kind, raw in element.items():
        values = raw if isinstance(raw, list) else [raw]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise malformed(f"{kind} must be a non-empty string or list of strings")
        for value in values:
            entries.append(_classify(str(kind), value, malformed))
    return PrincipalElement(tuple(entries), negated)


def _classify(kind: str, value: str, malformed: Any) -> NamedPrincipal:
    if kind == "AWS":
        return _classify_aws(value, malformed)
    if kind == "Service":
        return NamedPrincipal(PrincipalForm.SERVICE, value, value)
    if kind == "Federated":
        return NamedPrincipal(PrincipalForm.FEDERATED_PROVIDER, value, value)
    if kind == "CanonicalUser":
        if not _CANONICAL_ID.fullmatch(value):
            raise malformed(f"CanonicalUser {value!r} is not a 64-character canonical user id")
        return NamedPrincipal(PrincipalForm.CANONICAL_USER, value.lower(), value)
    raise malformed(f"unknown principal type {kind!r} (AWS, Service, Federated, CanonicalUser)")


def _classify_aws(value: str, malformed: Any) -> NamedPrincipal:
    if value == "*":
        return NamedPrincipal(PrincipalForm.ANY, "*", value)
    if _ACCOUNT_ID.fullmatch(value):
        return NamedPrincipal(PrincipalForm.ACCOUNT, value, value)
    if _UNIQUE_ID.fullmatch(value):
        return NamedPrincipal(PrincipalForm.UNIQUE_ID, value, value)
    arn = parse_arn(value)
    if arn is None:
        raise malformed(f"{value!r} is not an account id, ARN or unique id")
    resource = arn.resource
    if arn.service == "iam" and resource == "root":
        return NamedPrincipal(PrincipalForm.ACCOUNT, arn.account, value)
    if arn.service == "iam" and resource.startswith("user/"):
        return NamedPrincipal(PrincipalForm.USER, value, value)
    if arn.service == "iam" and resource.startswith("role/"):
        return NamedPrincipal(PrincipalForm.ROLE, value, value)
    if arn.service == "sts" and resource.startswith("assumed-role/"):
        if resource.count("/") < 2:
            raise malformed(f"{value!r} lacks a session name")
        return NamedPrincipal(PrincipalForm.ROLE_SESSION, value, value)
    if arn.service == "sts" and resource.startswith("federated-user/"):
        return NamedPrincipal(PrincipalForm.FEDERATED_USER, value, value)
    raise malformed(f"{value!r} is not a user, role, session, account or federated-user ARN")
