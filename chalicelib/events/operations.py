"""The S3 operation table: CloudTrail `eventName` → IAM action(s), resource and KMS actions.

The table is data (`operations.json`, spec 6, with `_source` provenance). This module loads it
once and turns one call (event name, bucket, key, version, request parameters) into the
`Operation`s S3 authorises: usually one; two for a copy (read the source, write the
destination); one per key for DeleteObjects; plus the extra actions request headers ask for
(an ACL header on PutObject needs s3:PutObjectAcl too). A runbook request names one IAM action:
when only one call of the table needs it and that call needs others too (s3:GetObjectAttributes),
it gets the operations an event of that call gets (`call_operations`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qs, unquote

from ..arn import parse_arn, s3_bucket_arn, s3_object_arn
from ..lean_dataclass import dataclass
from ..model import Operation
from .params import param

TABLE_PATH: Final = Path(__file__).with_name("operations.json")


class ResourceKind(StrEnum):
    OBJECT = "object"
    BUCKET = "bucket"
    ACCOUNT = "account"


class CallKind(StrEnum):
    PLAIN = "plain"
    COPY = "copy"
    LIST = "list"
    DELETE_OBJECTS = "delete-objects"


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationSpec:
    """One row of the table."""

    event_name: str
    actions: tuple[str, ...]
    version_actions: tuple[str, ...]
    resource: ResourceKind
    kms: tuple[str, ...]
    kind: CallKind
    header_actions: Mapping[str, tuple[str, ...]]
    category: str
    note: str | None  # surfaced in the request notes


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """The one call of the table that needs an IAM action, when that call needs more actions:
    its actions (the version forms for a version action) in the table's order, and its KMS
    actions."""

    event_name: str
    actions: tuple[str, ...]
    kms: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CopySource:
    """The object named by `x-amz-copy-source` (URL-decoded)."""

    bucket: str
    key: str
    version_id: str | None


def _load() -> tuple[
    Mapping[str, OperationSpec],
    Mapping[str, str],
    frozenset[str],
    frozenset[tuple[str, str]],
    Mapping[str, str],
]:
    doc = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    groups: dict[str, dict[str, tuple[str, ...]]] = {
        name: {header: tuple(actions) for header, actions in group.items()}
        for name, group in doc["header_action_groups"].items()
    }
    table = {
        name: OperationSpec(
            event_name=name,
            actions=tuple(row["actions"]),
            version_actions=tuple(row.get("version_actions", ())),
            resource=ResourceKind(row["resource"]),
            kms=tuple(row.get("kms", ())),
            kind=CallKind(row.get("kind", CallKind.PLAIN.value)),
            header_actions=MappingProxyType(groups.get(row.get("header_actions", ""), {})),
            category=row["category"],
            note=row.get("request_note"),
        )
        for name, row in doc["operations"].items()
    }
    owner_acls = {
        (header, value.lower())
        for header, values in doc["owner_canned_acls"].items()
        if not header.startswith("_")
        for value in values
    }
    not_diagnosed = {
        name: why for name, why in doc["not_diagnosed"].items() if not name.startswith("_")
    }
    return (
        MappingProxyType(table),
        MappingProxyType(dict(doc["aliases"])),
        frozenset(doc["true_only_headers"]),
        frozenset(owner_acls),
        MappingProxyType(not_diagnosed),
    )


# NOT_DIAGNOSED: S3 calls that general purpose buckets' policies do not decide (directory
# buckets, Object Lambda), eventName -> why: the scope reason of their events.
OPERATIONS, ALIASES, _TRUE_ONLY_HEADERS, _OWNER_CANNED_ACLS, NOT_DIAGNOSED = _load()

_VERSION_ACTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        action: versioned
        for spec in OPERATIONS.values()
        for action, versioned in zip(spec.actions, spec.version_actions, strict=False)
        if action != versioned
    }
)
KNOWN_ACTIONS: Final[frozenset[str]] = frozenset(
    action
    for spec in OPERATIONS.values()
    for action in (
        *spec.actions,
        *spec.version_actions,
        *(a for actions in spec.header_actions.values() for a in actions),
    )
)


ALSO_REQUIRED: Final = "also-required"
"""The role of an operation a call needs besides its first (GetObjectAttributes' attributes)."""
MAX_DELETE_KEYS: Final = 25
"""How many keys of one DeleteObjects call are diagnosed (the call may name 1,000)."""


def lookup(event_name: str) -> OperationSpec | None:
    """The row for an eventName (or an API name listed as an alias), None when unknown."""
    return OPERATIONS.get(event_name) or OPERATIONS.get(ALIASES.get(event_name, ""))


def version_action(action: str) -> str | None:
    """The action S3 checks instead when a versionId is given (s3:GetObject → GetObjectVersion)."""
    return _VERSION_ACTIONS.get(action)


def parse_copy_source(value: str) -> CopySource | None:
    """Read `bucket/key[?versionId=v]` (URL-encoded, maybe with a leading '/'); None if not one.

    Access point ARNs as copy source (`arn:…:accesspoint/NAME/object/KEY`) name no bucket and
    give None as well.
    """
    raw, _, query = value.partition("?")
    versions = parse_qs(query).get("versionId")
    path = unquote(raw).lstrip("/")
    if parse_arn(path) is not None:
        return None
    bucket, sep, key = path.partition("/")
    if not bucket or not sep or not key:
        return None
    return CopySource(bucket=bucket, key=key, version_id=versions[0] if versions else None)


def operations_for(
    spec: OperationSpec,
    *,
    bucket: str | None,
    key: str | None,
    version_id: str | None,
    params: Mapping[str, Any],
    object_arns: tuple[str, ...] = (),
    partition: str = "aws",
    max_keys: int = MAX_DELETE_KEYS,
) -> tuple[tuple[Operation, ...], tuple[str, ...]]:
    """The operations S3 authorises for one call, and notes on what could not be derived.

    `bucket` must be set unless the row's resource is `account`, and `key` for object rows
    (the caller reports those as malformed input). A DeleteObjects call is checked on at most
    `max_keys` of its keys (see `_sample_keys`).
    """
    notes: list[str] = []
    if spec.kind is CallKind.DELETE_OBJECTS:
        ops = _delete_objects(spec, bucket or "", params, object_arns, partition, notes, max_keys)
    else:
        ops = [_primary(spec, bucket, key, version_id, partition, role="")]
        ops.extend(
            _with_action(ops[0], _action(action, spec, index, version_id), ALSO_REQUIRED, kms=())
            for index, action in enumerate(spec.actions[1:], start=1)
        )
        if spec.kind is CallKind.COPY:
            source = _copy_source(spec, params, partition, notes)
            if source is not None:
                ops = [source, _with_action(ops[0], ops[0].action, "destination", kms=spec.kms)]
    ops.extend(_header_operations(spec, params, ops[-1]))
    if spec.note:
        notes.append(f"{spec.event_name}: {spec.note}")
    return tuple(ops), tuple(notes)


def _primary(
    spec: OperationSpec,
    bucket: str | None,
    key: str | None,
    version_id: str | None,
    partition: str,
    *,
    role: str,
) -> Operation:
    action = _action(spec.actions[0], spec, 0, version_id)
    if spec.resource is ResourceKind.ACCOUNT or bucket is None:
        return Operation(action=action, resource_arn="*", role=role, kms_actions=spec.kms)
    if spec.resource is ResourceKind.BUCKET or key is None:
        return Operation(
            action=action,
            resource_arn=s3_bucket_arn(bucket, partition),
            bucket=bucket,
            role=role,
            kms_actions=spec.kms,
        )
    return Operation(
        action=action,
        resource_arn=s3_object_arn(bucket, key, partition),
        bucket=bucket,
        key=key,
        version_id=version_id,
        role=role,
        kms_actions=spec.kms,
    )


def _action(action: str, spec: OperationSpec, index: int, version_id: str | None) -> str:
    if version_id is not None and index < len(spec.version_actions):
        return spec.version_actions[index]
    return action


def call_of(action: str) -> Call | None:
    """The call an IAM action stands for when only that call needs it and it needs others too
    (s3:GetObjectAttributes: GetObjectAttributes, which needs s3:GetObject as well); else None."""
    return _CALLS.get(action)


def call_operations(op: Operation) -> tuple[Operation, ...]:
    """A runbook request's operation as the operations of the call its action stands for
    (`call_of`), on its resource: what an event of that call gets (`operations_for`), the first
    with the call's KMS actions, the others also required. `op` alone for any other action."""
    call = _CALLS.get(op.action)
    if call is None:
        return (op,)
    first = _with_action(op, call.actions[0], "", kms=call.kms)
    return (first, *(_with_action(op, a, ALSO_REQUIRED, kms=()) for a in call.actions[1:]))


def _with_action(op: Operation, action: str, role: str, *, kms: tuple[str, ...]) -> Operation:
    return Operation(
        action=action,
        resource_arn=op.resource_arn,
        bucket=op.bucket,
        key=op.key,
        version_id=op.version_id,
        role=role,
        kms_actions=kms,
    )


def _copy_source(
    spec: OperationSpec, params: Mapping[str, Any], partition: str, notes: list[str]
) -> Operation | None:
    value = param(params, "x-amz-copy-source")
    source = parse_copy_source(value) if value else None
    if source is None:
        notes.append(
            f"{spec.event_name}: could not check the source read: requestParameters"
            f'["x-amz-copy-source"] is {"missing" if value is None else repr(value)}'
        )
        return None
    read = lookup("GetObject")
    assert read is not None  # the table always holds GetObject
    return _primary(read, source.bucket, source.key, source.version_id, partition, role="source")


def _delete_objects(
    spec: OperationSpec,
    bucket: str,
    params: Mapping[str, Any],
    object_arns: tuple[str, ...],
    partition: str,
    notes: list[str],
    max_keys: int,
) -> list[Operation]:
    entries = params.get("delete")
    entries = entries.get("Object") if isinstance(entries, Mapping) else None
    if isinstance(entries, Mapping):
        entries = [entries]
    named: list[tuple[str, str | None]] = []
    for entry in entries if isinstance(entries, list) else ():
        key = param(entry, "Key") if isinstance(entry, Mapping) else None
        if key is not None:
            version = param(entry, "VersionId") if isinstance(entry, Mapping) else None
            named.append((key, version))
    delete = lookup("DeleteObject")
    assert delete is not None  # the table always holds DeleteObject
    ops: list[Operation] = [
        _primary(delete, bucket, key, version, partition, role="")
        for key, version in _sample_keys(named, max_keys, notes)
    ]
    if not ops:
        ops = [
            Operation(
                action=spec.actions[0],
                resource_arn=arn,
                bucket=bucket,
                key=arn.partition("/")[2] or None,
                kms_actions=spec.kms,
            )
            for arn in object_arns
            if arn.startswith(f"arn:{partition}:s3:::{bucket}/")
        ]
    if not ops:
        notes.append(
            "DeleteObjects: the record names no keys; checked s3:DeleteObject on every key "
            "(bucket/*). The per-key DeleteObject records name the refused keys."
        )
        ops = [
            Operation(
                action=spec.actions[0],
                resource_arn=s3_object_arn(bucket, "*", partition),
                bucket=bucket,
                key="*",
            )
        ]
    return ops


def _sample_keys(
    named: list[tuple[str, str | None]], max_keys: int, notes: list[str]
) -> list[tuple[str, str | None]]:
    """At most `max_keys` of a DeleteObjects call's keys, the first key of each distinct prefix
    (the key up to its last `/`) first; a note says what was sampled.

    One request may name 1,000 keys, and an outsider chooses them: the work per event stays
    bounded, and keys under one prefix almost always share their verdict.
    """
    unique = list(dict.fromkeys(named))
    if len(unique) <= max_keys:
        return unique
    firsts: dict[str, tuple[str, str | None]] = {}
    for key, version in unique:
        firsts.setdefault(key.rpartition("/")[0], (key, version))
    chosen = list(firsts.values())[:max_keys]
    covered = len(chosen)
    taken = set(chosen)
    chosen += [k for k in unique if k not in taken][: max_keys - len(chosen)]
    notes.append(
        f"DeleteObjects named {len(unique)} keys under {len(firsts)} prefixes; checked "
        f"{len(chosen)} of them, covering {covered} prefixes (the first key of each prefix "
        "first, then further keys in request order). The other keys were not checked."
    )
    return chosen


def _header_operations(
    spec: OperationSpec, params: Mapping[str, Any], target: Operation
) -> list[Operation]:
    extra: dict[str, str] = {}
    for header, actions in spec.header_actions.items():
        value = param(params, header)
        if value is None or (header in _TRUE_ONLY_HEADERS and value.lower() != "true"):
            continue
        if (header, value.strip().lower()) in _OWNER_CANNED_ACLS:
            continue  # the bucket owner's canned ACL: s3:PutObject alone (owner_canned_acls)
        for action in actions:
            extra.setdefault(action, header)
    return [
        Operation(
            action=action,
            resource_arn=target.resource_arn,
            bucket=target.bucket,
            key=target.key,
            version_id=target.version_id,
            role=f"header:{header}",
        )
        for action, header in extra.items()
        if action != target.action
    ]


def _action_facts() -> tuple[Mapping[str, ResourceKind], Mapping[str, tuple[str, ...]]]:
    kinds: dict[str, ResourceKind] = {}
    kms: dict[str, tuple[str, ...]] = {}
    for spec in OPERATIONS.values():
        if spec.kind is CallKind.DELETE_OBJECTS:
            continue
        for action in (*spec.actions, *spec.version_actions):
            kinds.setdefault(action, spec.resource)
        for actions in spec.header_actions.values():
            for action in actions:
                kinds.setdefault(action, spec.resource)
        for action in (spec.actions[0], *spec.version_actions[:1]):
            kms.setdefault(action, spec.kms)
    return MappingProxyType(kinds), MappingProxyType(kms)


_ACTION_RESOURCE, _ACTION_KMS = _action_facts()


def _calls() -> Mapping[str, Call]:
    """`call_of` for every action: an action only one row needs (as an action, a version action
    or a header's), of a plain row that needs several."""
    needed_by: dict[str, set[str]] = {}
    for spec in OPERATIONS.values():
        headers = (a for actions in spec.header_actions.values() for a in actions)
        for action in (*spec.actions, *spec.version_actions, *headers):
            needed_by.setdefault(action, set()).add(spec.event_name)
    calls: dict[str, Call] = {}
    for spec in OPERATIONS.values():
        if spec.kind is not CallKind.PLAIN or len(spec.actions) < 2:
            continue
        for actions in (spec.actions, spec.version_actions):
            call = Call(event_name=spec.event_name, actions=actions, kms=spec.kms)
            for action in actions:
                if needed_by[action] == {spec.event_name}:
                    calls[action] = call
    return MappingProxyType(calls)


_CALLS: Final = _calls()


def action_resource(action: str) -> ResourceKind | None:
    """Whether an IAM action acts on an object, a bucket or the account; None when unknown."""
    return _ACTION_RESOURCE.get(action)


def action_kms(action: str) -> tuple[str, ...]:
    """The KMS actions an S3 IAM action needs on an SSE-KMS object (s3:GetObject → Decrypt)."""
    return _ACTION_KMS.get(action, ())
