"""The pure diagnosis pipeline: (request, snapshot) -> Finding.

Used by the Lambda handler (through `service`), the CLI and the API. Pure: no boto3.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from json.encoder import encode_basestring_ascii
from typing import Any, Final, TypeVar

from .diagnose import diagnose as build_finding
from .engine import ENGINE_VERSION, evaluate, resolve_principal
from .model import AccessRequest, ContextEntry, Finding, Json, Operation, Principal, PrincipalType
from .request import ROLE_PATH_UNKNOWN_NOTE
from .snapshot import Snapshot, load_snapshot

# `json.dumps(..., sort_keys=True)` without its check for circular references (a request's
# `to_dict` is a tree): the same text, about a sixth faster.
_CANONICAL: Final = json.JSONEncoder(sort_keys=True, check_circular=False)
_P = TypeVar("_P")


def finding_id_for(request: AccessRequest) -> str:
    """Stable id: the CloudTrail event id when there is one, else a digest of the request (the
    SHA-256 of `json.dumps(request.to_dict(), sort_keys=True)`: ids are stored keys)."""
    if request.event_id:
        return request.event_id
    digest = hashlib.sha256(canonical_text(request).encode()).hexdigest()
    return f"req-{digest[:24]}"


# Values of these types that are equal are written alike (not so 1, 1.0 and True): only parts
# made of them are remembered by value.
_PLAIN: Final = frozenset({str, bool, type(None), PrincipalType})
_PARTS: dict[tuple[object, ...], str] = {}  # a request part's fields -> its sorted JSON text
_PARTS_LIMIT: Final = 4096


def canonical_text(request: AccessRequest) -> str:
    """`json.dumps(request.to_dict(), sort_keys=True)`, the same text, with the text of each
    principal, operation and context entry remembered per value (replayed lines share most).
    A request with a context name that is not a string is written the generic way."""
    context: dict[str, str] = {}
    for e in request.context:
        if type(e.name) is not str:
            return _CANONICAL.encode(request.to_dict())
        context[e.name] = _part((e.name, e.type, e.source, *e.values), _entry_json, e)
    principal = request.principal
    operation = request.operations[0]
    hint = request.denial_hint
    fields = (
        ("access_point_arn", _text(request.access_point_arn)),
        ("action", _text(operation.action)),
        ("bucket", _text(operation.bucket)),
        ("bucket_account", _text(request.bucket_account)),
        ("context", _braces(f"{_text(k)}: {v}" for k, v in sorted(context.items()))),
        ("denial_hint", _text(hint.to_dict() if hint else None)),
        ("event_id", _text(request.event_id)),
        ("event_name", _text(request.event_name)),
        ("event_time", _text(request.event_time)),
        ("key", _text(operation.key)),
        ("kms_key_arn", _text(request.kms_key_arn)),
        ("notes", _text(request.notes)),
        ("operations", f"[{', '.join(_operation(op) for op in request.operations)}]"),
        ("principal", _part(_principal_key(principal), Principal.to_dict, principal)),
        ("principal_arn", _text(principal.principal_arn)),
        ("principal_type", _text(principal.type.value)),
        ("proposed_policy", _text(request.proposed_policy)),
        ("region", _text(request.region)),
        ("requester_arn", _text(principal.requester_arn)),
        ("resource_arn", _text(operation.resource_arn)),
        ("scope", _text(request.scope.value)),
        ("scope_reason", _text(request.scope_reason)),
        ("scp_policies", _text(request.scp_policies)),
        ("session_policy", _text(request.session_policy)),
        ("vpc_endpoint_id", _text(request.vpc_endpoint_id)),
    )
    return _braces(f'"{k}": {v}' for k, v in fields)


def _braces(items: Iterable[str]) -> str:
    return "{" + ", ".join(items) + "}"


def _text(value: Any) -> str:
    """`value` as `json.dumps(value, sort_keys=True)` writes it (a tuple as a list)."""
    if type(value) is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    return "[]" if value == () else _CANONICAL.encode(value)


def _entry_json(e: ContextEntry) -> Json:
    """A context entry as `AccessRequest.to_dict` writes it (under its name)."""
    return {"values": list(e.values), "type": e.type, "source": e.source}


def _principal_key(p: Principal) -> tuple[object, ...]:
    return (
        p.type, p.requester_arn, p.principal_arn, p.account_id, p.session_name, p.user_id,
        p.user_name, p.service, p.mfa_authenticated,
    )  # fmt: skip


def _operation(op: Operation) -> str:
    fields = (op.action, op.resource_arn, op.bucket, op.key, op.version_id, op.role)
    return _part((*fields, *op.kms_actions), Operation.to_dict, op)


def _part(key: tuple[object, ...], to_json: Callable[[_P], Json], part: _P) -> str:
    """The sorted JSON text of `part`, whose fields are `key`: remembered when they are plain."""
    if not _PLAIN.issuperset(map(type, key)):
        return _CANONICAL.encode(to_json(part))
    text = _PARTS.get(key)
    if text is None:
        if len(_PARTS) >= _PARTS_LIMIT:
            _PARTS.clear()
        text = _PARTS[key] = _CANONICAL.encode(to_json(part))
    return text


def diagnose(
    request: AccessRequest,
    snapshot: Snapshot | Mapping[str, Any],
    *,
    finding_id: str | None = None,
    now: str | None = None,
) -> Finding:
    """Evaluate the request against the snapshot and explain the verdict."""
    loaded = snapshot if isinstance(snapshot, Snapshot) else load_snapshot(snapshot)
    finding_id = finding_id or finding_id_for(request)  # the request as given
    # The finding names the identity AWS evaluates: the user or role ARN with its path.
    resolved = resolve_principal(request, loaded)
    if resolved is not request:
        old, new = request.principal.principal_arn, resolved.principal.principal_arn
        notes = tuple(n for n in request.notes if not n.startswith(ROLE_PATH_UNKNOWN_NOTE))
        if old != new:
            notes += (f"{old} is {new} in the account (IAM names are unique whatever the path).",)
        request = replace(resolved, notes=notes)
    decision = evaluate(request, loaded)
    return build_finding(
        request,
        loaded,
        decision,
        finding_id=finding_id,
        engine_version=ENGINE_VERSION,
        now=now,
    )
