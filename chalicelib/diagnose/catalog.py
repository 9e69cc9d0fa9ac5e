"""The cause catalog: stable codes with their title, explanation and fix template.

Text lives in `catalog.json` (data, reviewed like documentation); codes live here as StrEnums
so code can only name codes that exist. A unit test keeps both in step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from ..lean_dataclass import dataclass

CATALOG_PATH = Path(__file__).with_name("catalog.json")


class CauseCode(StrEnum):
    EXPLICIT_DENY_IDENTITY = "EXPLICIT_DENY_IDENTITY"
    EXPLICIT_DENY_BUCKET_POLICY = "EXPLICIT_DENY_BUCKET_POLICY"
    EXPLICIT_DENY_ACCESS_POINT_POLICY = "EXPLICIT_DENY_ACCESS_POINT_POLICY"
    EXPLICIT_DENY_VPCE_POLICY = "EXPLICIT_DENY_VPCE_POLICY"
    NO_ALLOW_VPCE_POLICY = "NO_ALLOW_VPCE_POLICY"
    EXPLICIT_DENY_SCP = "EXPLICIT_DENY_SCP"
    NO_ALLOW_SCP = "NO_ALLOW_SCP"
    EXPLICIT_DENY_RCP = "EXPLICIT_DENY_RCP"
    NO_ALLOW_RCP = "NO_ALLOW_RCP"
    EXPLICIT_DENY_BOUNDARY = "EXPLICIT_DENY_BOUNDARY"
    NO_ALLOW_BOUNDARY = "NO_ALLOW_BOUNDARY"
    EXPLICIT_DENY_SESSION_POLICY = "EXPLICIT_DENY_SESSION_POLICY"
    NO_ALLOW_SESSION_POLICY = "NO_ALLOW_SESSION_POLICY"
    NO_ALLOW_IDENTITY = "NO_ALLOW_IDENTITY"
    NO_RESOURCE_GRANT = "NO_RESOURCE_GRANT"
    RESOURCE_GRANT_NOT_EFFECTIVE = "RESOURCE_GRANT_NOT_EFFECTIVE"
    WRONG_RESOURCE_OR_ACTION_FORM = "WRONG_RESOURCE_OR_ACTION_FORM"
    CONDITION_NOT_MET = "CONDITION_NOT_MET"
    OBJECT_OWNED_BY_OTHER_ACCOUNT = "OBJECT_OWNED_BY_OTHER_ACCOUNT"
    BPA_BLOCK_PUBLIC_ACLS = "BPA_BLOCK_PUBLIC_ACLS"
    BPA_BLOCK_PUBLIC_POLICY = "BPA_BLOCK_PUBLIC_POLICY"
    BPA_IGNORE_PUBLIC_ACLS = "BPA_IGNORE_PUBLIC_ACLS"
    BPA_RESTRICT_PUBLIC_BUCKETS = "BPA_RESTRICT_PUBLIC_BUCKETS"
    ACLS_DISABLED = "ACLS_DISABLED"
    KMS_KEY_POLICY = "KMS_KEY_POLICY"
    KMS_IDENTITY = "KMS_IDENTITY"
    KMS_EXPLICIT_DENY = "KMS_EXPLICIT_DENY"
    KMS_KEY_STATE = "KMS_KEY_STATE"
    KMS_FORWARD_ACCESS_CONDITION = "KMS_FORWARD_ACCESS_CONDITION"
    OBJECT_MISSING_NO_LISTBUCKET = "OBJECT_MISSING_NO_LISTBUCKET"
    OBJECT_LOCK = "OBJECT_LOCK"
    MFA_DELETE_REQUIRED = "MFA_DELETE_REQUIRED"
    SSE_C_BLOCKED = "SSE_C_BLOCKED"
    EXPECTED_BUCKET_OWNER_MISMATCH = "EXPECTED_BUCKET_OWNER_MISMATCH"
    REQUESTER_PAYS_HEADER_MISSING = "REQUESTER_PAYS_HEADER_MISSING"
    REQUESTER_PAYS_ANONYMOUS = "REQUESTER_PAYS_ANONYMOUS"
    ACCESS_POINT_NETWORK_ORIGIN = "ACCESS_POINT_NETWORK_ORIGIN"
    OUT_OF_SCOPE_CROSS_ACCOUNT = "OUT_OF_SCOPE_CROSS_ACCOUNT"
    OUT_OF_SCOPE_ANONYMOUS = "OUT_OF_SCOPE_ANONYMOUS"
    OUT_OF_SCOPE_SERVICE = "OUT_OF_SCOPE_SERVICE"
    OUT_OF_SCOPE_UNSUPPORTED = "OUT_OF_SCOPE_UNSUPPORTED"
    NOT_REPRODUCED = "NOT_REPRODUCED"
    INCONCLUSIVE = "INCONCLUSIVE"
    MESSAGE_MISMATCH = "MESSAGE_MISMATCH"
    DIAGNOSER_READ_DENIED = "DIAGNOSER_READ_DENIED"
    MEMBER_ROLE_UNAVAILABLE = "MEMBER_ROLE_UNAVAILABLE"


class RemedyCode(StrEnum):
    ADD_IDENTITY_STATEMENT = "ADD_IDENTITY_STATEMENT"
    ADD_BUCKET_POLICY_STATEMENT = "ADD_BUCKET_POLICY_STATEMENT"
    ADD_KMS_KEY_POLICY_STATEMENT = "ADD_KMS_KEY_POLICY_STATEMENT"
    EXTEND_BOUNDARY = "EXTEND_BOUNDARY"
    FIX_STATEMENT = "FIX_STATEMENT"
    COMPLY_WITH_DENY = "COMPLY_WITH_DENY"
    ENFORCE_BUCKET_OWNER = "ENFORCE_BUCKET_OWNER"
    ENABLE_BUCKET_ABAC = "ENABLE_BUCKET_ABAC"
    TAG_KMS_KEY = "TAG_KMS_KEY"
    ASK_ORG_ADMIN = "ASK_ORG_ADMIN"
    GRANT_DIAGNOSER_READ = "GRANT_DIAGNOSER_READ"
    DEPLOY_MEMBER_ROLE = "DEPLOY_MEMBER_ROLE"
    USE_CUSTOMER_MANAGED_KEY = "USE_CUSTOMER_MANAGED_KEY"
    FOLLOW_ADVICE = "FOLLOW_ADVICE"


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogEntry:
    code: CauseCode
    title: str
    why: str
    fix: str


class _Blank(dict[str, str]):
    """Format values: a placeholder with no value renders as a neutral phrase."""

    def __missing__(self, key: str) -> str:
        return {"policy": "the policy", "principal": "the requester"}.get(key, f"the {key}")


def fill(template: str, values: Mapping[str, str | None]) -> str:
    """Fill `{placeholders}` of a catalog text; missing values read naturally."""
    return template.format_map(_Blank({k: v for k, v in values.items() if v}))


@cache
def _load() -> Mapping[str, Any]:
    data: Mapping[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    return data


@cache
def entry(code: CauseCode) -> CatalogEntry:
    raw = _load()["causes"][code.value]
    return CatalogEntry(code=code, title=raw["title"], why=raw["why"], fix=raw["fix"])


def remedy_title(code: RemedyCode) -> str:
    title: str = _load()["remedies"][code.value]
    return title


def catalog_codes() -> tuple[frozenset[str], frozenset[str]]:
    """(cause codes, remedy codes) present in the JSON file."""
    data = _load()
    return frozenset(data["causes"]), frozenset(data["remedies"])
