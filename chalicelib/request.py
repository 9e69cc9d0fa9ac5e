"""The runbook's inputs (DESIGN 3.1) → `AccessRequest`.

Validates the document against `schemas/request.schema.json` and the values against what IAM
accepts, raising `InputError(field, message)` with one clear line. The principal and the keys
derivable from the requester ARN (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType,
aws:username, aws:userid when knowable) are added; explicit context entries win. A version id
turns the action into its version form exactly as the event table does, and an action that
stands for one call needing others too (s3:GetObjectAttributes) gets that call's operations, as
its event would (`events.operations.call_operations`). The keys that need the
snapshot (the bucket owner's aws:ResourceAccount and s3:ResourceAccount) are added when the
request meets it (`engine.resolve`). Pure: no boto3.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import field
from datetime import datetime
from functools import lru_cache
from itertools import compress
from operator import attrgetter, is_not, itemgetter, ne
from typing import TYPE_CHECKING, Any, Final

from .arn import account_root_arn, parse_arn, role_arn_from_session, split_s3_arn
from .engine.policy import PolicyKind, compile_policy
from .events.actions import check_action
from .events.operations import (
    ResourceKind,
    action_kms,
    action_resource,
    call_of,
    call_operations,
    lookup,
    version_action,
)
from .lean_dataclass import dataclass
from .model import (
    AccessRequest,
    ContextEntry,
    InputError,
    Json,
    MalformedPolicyError,
    Operation,
    Principal,
    PrincipalType,
    Scope,
)
from .schemas import conforms, refusal, schema

if TYPE_CHECKING:
    import jsonschema

REQUEST_SCHEMA: Final[Json] = schema("request")
DERIVED: Final = "derived:requester_arn"
ROLE_PATH_UNKNOWN_NOTE: Final = "A role-session ARN carries no role path"
"""How the note on a session ARN starts (`pipeline` drops it once the snapshot gave the path)."""


def request_from_runbook(data: Mapping[str, Any]) -> AccessRequest:
    """Validate the runbook's inputs and build the request they describe."""
    lazy = lazy_request(data)
    if lazy is not None:
        return lazy.build()
    key = _template_key(data)
    validate_request_document(data)
    template = _template(data)
    if key is not None:
        if len(_TEMPLATES) >= MAX_TEMPLATES:
            _TEMPLATES.clear()
        _TEMPLATES[key] = template
    explicit = tuple(_context_entries(data.get("context") or ()))
    return template.request(data["resource_arn"], explicit)


@dataclass(frozen=True, slots=True)
class _Template:
    """What a runbook request says but its resource and context (a batch repeats it)."""

    principal: Principal
    action: str
    kind: ResourceKind | None
    version_id: str | None
    derived: tuple[ContextEntry, ...]  # from the requester and the endpoint
    kms_key_arn: str | None
    vpc_endpoint_id: str | None
    session_policy: Json | None
    scp_policies: tuple[Json, ...]
    notes: tuple[str, ...]
    # the derived entries kept, by (explicit names, whether the operation has a version id)
    _derived: dict[tuple[object, ...], tuple[ContextEntry, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # the forms of explicit entries met, by (names, types); None: the schema refuses one
    _forms: dict[tuple[object, ...], ContextForm | None] = field(
        default_factory=dict, compare=False, repr=False
    )
    # the context of the last request checked (`lazy_request`)
    _last: list[_Checked | None] = field(default_factory=lambda: [None], compare=False, repr=False)

    def request(self, resource: str, explicit: tuple[ContextEntry, ...]) -> AccessRequest:
        """The request on `resource`; explicit context entries win over derived ones."""
        operation = _resource_operation(self.action, self.kind, resource, self.version_id)
        return self.build(operation, explicit + self.kept(explicit, operation))

    def kept(
        self, explicit: tuple[ContextEntry, ...], operation: Operation
    ) -> tuple[ContextEntry, ...]:
        """The derived entries that no entry of `explicit` names, for `operation`."""
        names = (tuple(map(_ENTRY_NAME, explicit)), bool(operation.version_id))
        derived = self._derived.get(names)
        if derived is None:
            derived = self._kept_derived(names[0], operation.version_id)
            if len(self._derived) < MAX_NAME_SETS:
                self._derived[names] = derived
        return derived

    def build(self, operation: Operation, context: tuple[ContextEntry, ...]) -> AccessRequest:
        return AccessRequest(
            principal=self.principal,
            operations=call_operations(operation),
            context=context,
            kms_key_arn=self.kms_key_arn,
            vpc_endpoint_id=self.vpc_endpoint_id,
            session_policy=self.session_policy,
            scp_policies=self.scp_policies,
            scope=Scope.SAME_ACCOUNT,
            notes=self.notes,
        )

    def form(self, names: tuple[Any, ...], kinds: tuple[Any, ...]) -> ContextForm | None:
        """The form of explicit entries with these names and types (in this order), or None
        when the schema refuses one of them; TypeError when one is unhashable."""
        key = (names, kinds)
        found = self._forms.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            found = _context_form(self, names, kinds)
            if len(self._forms) >= MAX_NAME_SETS:
                self._forms.clear()
            self._forms[key] = found
        return found  # type: ignore[return-value]

    def _kept_derived(
        self, names: tuple[str, ...], version_id: str | None
    ) -> tuple[ContextEntry, ...]:
        """The derived entries no explicit name names (the version id's when there is one)."""
        derived = self.derived
        if version_id:
            entry = ContextEntry(
                name="s3:VersionId", values=(version_id,), source="derived:version_id"
            )
            derived = (*derived, entry)
        given = {name.lower() for name in names}
        return tuple(e for e in derived if e.name.lower() not in given)


MAX_NAME_SETS: Final = 64  # per template: the derived entries kept for each set of given names


# Templates by the document's scalar fields. A document with a known template needs only its
# resource and context checked; any doubt sends it through the full validation, which names
# the field at fault.
MAX_TEMPLATES: Final = 1024
_TEMPLATES: dict[tuple[str | None, ...], _Template] = {}
_TEMPLATE_FIELDS: Final = (
    "requester_arn",
    "action",
    "session_name",
    "version_id",
    "kms_key_arn",
    "vpc_endpoint_id",
)
_CACHEABLE: Final = frozenset({*_TEMPLATE_FIELDS, "resource_arn", "context"})


def _template_key(data: Any) -> tuple[str | None, ...] | None:
    """The template fields of `data`, or None when it has others (policies) or odd values."""
    if not (type(data) is dict or isinstance(data, Mapping)) or not _CACHEABLE.issuperset(data):
        return None
    key = tuple(map(data.get, _TEMPLATE_FIELDS))
    return key if _STR_OR_NONE.issuperset(map(type, key)) else None


_STR_OR_NONE: Final = frozenset({str, type(None)})


@dataclass(frozen=True, slots=True, eq=False)
class ContextForm:
    """The explicit context entries of a template's requests with these names and types, in
    this order, the schema having accepted each (name, type): what is left to check of their
    values, and the derived entries they leave on an object of the template (`object_kept`)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    bases: tuple[str, ...]  # each type without "List" when `_value_problem` checks it, else ""
    object_kept: tuple[ContextEntry, ...]
    # The values and entries of the last request built: a batch's next line reuses the entry of
    # each value object it shares (`_Checked.next` keeps the tuples of unchanged values).
    built: list[tuple[tuple[tuple[str, ...], ...], tuple[ContextEntry, ...]]] = field(
        default_factory=list, repr=False
    )

    def accepts(self, values: tuple[tuple[Any, ...], ...]) -> bool:
        """Whether each entry's values pass `_checked_entry` (at least one, one unless a list
        type, strings of the type)."""
        for found, kind, base in zip(values, self.kinds, self.bases, strict=True):
            if not found or (len(found) > 1 and not kind.endswith("List")):
                return False
            for value in found:
                if type(value) is not str or (base and _value_problem(base, value)):
                    return False
        return True


# The types whose values `_value_problem` checks (any string is a string or a binary value).
_CHECKED_TYPES: Final = frozenset({"boolean", "numeric", "ip", "date"})
_UNKNOWN: Final = object()


def _context_form(
    template: _Template, names: tuple[Any, ...], kinds: tuple[Any, ...]
) -> ContextForm | None:
    """The form of these names and types, when the schema accepts each (name, type) with
    string values (`_known_entry_conforms`)."""
    if not _VALUES_ONLY_TYPED:
        return None
    for name, kind in zip(names, kinds, strict=True):
        if not _entry_verdict((name, (), kind)):
            return None
    bases = (kind.removesuffix("List") for kind in kinds)
    return ContextForm(
        names=names,
        kinds=kinds,
        bases=tuple(base if base in _CHECKED_TYPES else "" for base in bases),
        object_kept=template._kept_derived(names, template.version_id),
    )


@dataclass(slots=True)  # not frozen: one a batch line, and frozen ones cost 4x to build
class LazyRequest:
    """A runbook document whose template is known and whose resource and context passed the
    checks, before its `AccessRequest` is built (`build`): a batch line the verdict cache
    answers needs only its object and the values of its context entries. Never changed."""

    template: _Template
    key: tuple[str | None, ...]  # the document's template fields
    resource: str
    bucket: str | None  # of an object request; None: a bucket or "*"
    object_key: str | None
    form: ContextForm
    values: tuple[tuple[str, ...], ...]  # of each explicit entry, in order

    @property
    def explicit(self) -> tuple[ContextEntry, ...]:
        form = self.form
        values = self.values
        built = form.built[0] if form.built else None
        if built is None:
            entries = tuple(
                ContextEntry(name=name, values=found, type=kind, source="request")
                for name, kind, found in zip(form.names, form.kinds, values, strict=True)
            )
        else:  # an entry of the same form whose values are the very tuple is that entry
            changed = list(built[1])
            for at in compress(range(len(values)), map(is_not, values, built[0])):
                changed[at] = ContextEntry(
                    name=form.names[at], values=values[at], type=form.kinds[at], source="request"
                )
            entries = tuple(changed)
        form.built[:] = [(values, entries)]
        return entries

    def build(self) -> AccessRequest:
        template = self.template
        if self.object_key is None:  # a bucket, "*": the operation's checks
            return template.request(self.resource, self.explicit)
        # `_resource_operation` of an object ARN that `lazy_request` split and checked
        operation = _operation(
            template.action, self.resource, self.bucket, self.object_key, template.version_id
        )
        explicit = self.explicit
        return template.build(operation, explicit + template.kept(explicit, operation))


_ENTRY_NAME: Final = attrgetter("name")
_OBJECT_KINDS: Final = (ResourceKind.OBJECT, None)  # the actions that take an object ARN
_NAME = itemgetter("ContextKeyName")
_VALUES = itemgetter("ContextKeyValues")
_KIND = itemgetter("ContextKeyType")


def lazy_request(data: Any) -> LazyRequest | None:
    """The document as a `LazyRequest`, or None when its template is not known yet or its
    resource or context needs the full check (`request_from_runbook`).

    Its context must be JSON objects of exactly the three keys, of a name and type the schema
    accepts (`_Template.form`), and values that pass `_checked_entry` (strings, one unless a
    list type, of the type); any doubt sends the document to the full check, which names it.
    A context like the template's last one is checked where it differs (`_Checked.next`).
    """
    key = _template_key(data)
    template = None if key is None else _TEMPLATES.get(key)
    if key is None or template is None:
        return None
    resource = data.get("resource_arn")
    context = data.get("context")
    if context is None:
        context = []
    if type(resource) is not str or type(context) is not list:
        return None
    last = template._last
    checked = None if last[0] is None else last[0].next(context)
    if checked is None:
        checked = _checked_context(template, context)
        if checked is None:
            return None
    last[0] = checked
    bucket: str | None
    object_key: str | None
    parts = split_s3_arn(resource)
    if parts is not None and parts[1] is not None and template.kind in _OBJECT_KINDS:
        bucket, object_key = parts
    else:  # a bucket, "*" or a bad ARN: the checks of the operation
        try:
            _resource_operation(template.action, template.kind, resource, template.version_id)
        except InputError:
            return None
        bucket = object_key = None
    return LazyRequest(template, key, resource, bucket, object_key, checked.form, checked.values)


@dataclass(slots=True)  # not frozen, as `LazyRequest`
class _Checked:
    """A template request's context that passed the checks: its form and values, and its
    entries as JSON objects of our own (never the caller's, which may change) to compare the
    next context with. Never changed."""

    entries: list[dict[str, Any]]
    form: ContextForm
    values: tuple[tuple[str, ...], ...]

    def next(self, context: list[Any]) -> _Checked | None:
        """`context` checked, when it differs from this one only in the value of some
        one-value entries (of the same name and type, at the same place); else None.

        An entry equal to ours (JSON equality: our names, types and values are strings, which
        only equal strings) passed the checks. Another must be a JSON object of one string
        value equal to our entry with that value (the same three keys, name and type: the
        form's schema verdict holds), and the value of its type (`_checked_entry`)."""
        entries = self.entries
        if len(context) != len(entries):
            return None
        form = self.form
        new_entries: list[dict[str, Any]] | None = None
        new_values: list[tuple[str, ...]] = []
        for i in compress(range(len(entries)), map(ne, context, entries)):  # the changed ones
            entry = context[i]
            if type(entry) is not dict:
                return None
            values = entry.get("ContextKeyValues")
            if type(values) is not list or len(values) != 1 or type(value := values[0]) is not str:
                return None
            ours = {
                "ContextKeyName": form.names[i],
                "ContextKeyValues": [value],
                "ContextKeyType": form.kinds[i],
            }
            if entry != ours:  # another name, type or key
                return None
            base = form.bases[i]
            if base and _new_value_problem(base, value):
                return None
            if new_entries is None:
                new_entries, new_values = list(entries), list(self.values)
            new_entries[i] = ours
            new_values[i] = (value,)
        if new_entries is None:
            return self
        return _Checked(new_entries, form, tuple(new_values))


def _checked_context(template: _Template, context: list[Any]) -> _Checked | None:
    """`context` checked entry by entry (its form first), or None at the first doubt."""
    if not (_DICT.issuperset(map(type, context)) and _THREE.issuperset(map(len, context))):
        return None
    try:
        form = template.form(tuple(map(_NAME, context)), tuple(map(_KIND, context)))
    except (KeyError, TypeError):  # another key, an unhashable name: the full check names it
        return None
    if form is None:
        return None
    lists = list(map(_VALUES, context))
    if not _LIST.issuperset(map(type, lists)):
        return None
    values = tuple(map(tuple, lists))
    if not form.accepts(values):
        return None
    entries = [
        _json_entry(name, list(found), kind)
        for name, found, kind in zip(form.names, values, form.kinds, strict=True)
    ]
    return _Checked(entries, form, values)


def _json_entry(name: str, values: list[str], kind: str) -> dict[str, Any]:
    return {"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": kind}


_ENTRY = itemgetter("ContextKeyName", "ContextKeyValues", "ContextKeyType")
_DICT: Final = frozenset({dict})
_THREE: Final = frozenset({3})
_LIST: Final = frozenset({list})


def _template(data: Mapping[str, Any]) -> _Template:
    """The request's parts but its resource and context, from a document the schema accepted."""
    notes: list[str] = []
    principal = principal_from_arn(
        data["requester_arn"], session_name=data.get("session_name"), notes=notes
    )
    action, kind, version_id = _action(data, notes)
    vpce = data.get("vpc_endpoint_id")
    derived = _principal_context(principal)
    if vpce:
        entry = ContextEntry(
            name="aws:SourceVpce", values=(vpce,), source="derived:vpc_endpoint_id"
        )
        derived = (*derived, entry)
    return _Template(
        principal=principal,
        action=action,
        kind=kind,
        version_id=version_id,
        derived=derived,
        kms_key_arn=data.get("kms_key_arn"),
        vpc_endpoint_id=vpce,
        session_policy=_policy(data.get("session_policy"), "session_policy", PolicyKind.SESSION),
        scp_policies=tuple(
            _policy(doc, f"scp_policies[{i}]", PolicyKind.SCP) or {}
            for i, doc in enumerate(data.get("scp_policies") or ())
        ),
        notes=tuple(notes),
    )


def validate_request_document(data: Any) -> None:
    """Raise InputError naming the first field of `data` that breaks the request schema."""
    if not isinstance(data, Mapping):
        raise InputError("request", "expected a JSON object")
    if _conforms(data):
        return
    import jsonschema  # only to name what is wrong: the check itself is `conforms`

    validator = jsonschema.Draft202012Validator(REQUEST_SCHEMA)
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(data)))
    if error is None:  # it reads `$` before a final newline: named as the fast check names it
        field, _, reason = (refusal("request", data) or "data does not conform").partition(" ")
        raise InputError(field.removeprefix("data.").removeprefix("data") or "request", reason)
    where = ""
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [k for k in error.validator_value if k not in (error.instance or {})]
        if missing:
            prefix = f"{where}." if where else ""
            raise InputError(f"{prefix}{missing[0]}", "required")
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = error.schema.get("properties") or {}
        extra = next((k for k in sorted(map(str, error.instance)) if k not in known), None)
        if extra is not None:
            prefix = f"{where}." if where else ""
            expected = ", ".join(sorted(known))
            raise InputError(f"{prefix}{_field_name(extra)}", f"unknown field; expected {expected}")
        raise InputError(where or "request", error.message)
    raise InputError(where or "request", _schema_message(error))


_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9_:-]{1,64}")


def _field_name(name: str) -> str:
    """A caller's key as an error names it: as is when plain, else quoted and cut (JSON)."""
    return name if _PLAIN_NAME.fullmatch(name) else json.dumps(name[:64])


def _conforms(data: Mapping[str, Any]) -> bool:
    """The schema check, with each context entry's verdict cached: a batch repeats the same
    few entries (aws:SecureTransport true, one region...) on every line."""
    context = data.get("context")
    if not isinstance(context, list):
        return conforms("request", data)
    if not conforms("request", {**data, "context": []}):
        return False
    return all(_entry_conforms(entry) for entry in context)


def _entry_conforms(entry: Any) -> bool:
    key = _entry_key(entry)
    return _one_entry_conforms(entry) if key is None else _known_entry_conforms(key)


def _entry_key(entry: Any) -> tuple[Any, ...] | None:
    """A hashable form of a context entry that holds all of it, or None."""
    if not (type(entry) is dict or isinstance(entry, Mapping)) or len(entry) != 3:
        return None
    try:
        key = (
            entry["ContextKeyName"],
            tuple(entry["ContextKeyValues"]),
            entry["ContextKeyType"],
        )
        hash(key)
    except (KeyError, TypeError):
        return None
    return key


def _known_entry_conforms(key: tuple[Any, ...]) -> bool:
    """The schema's verdict on the entry `key` (`_entry_key`).

    The schema asks of each value only that it be a string (`_VALUES_ONLY_TYPED`): an entry of
    string values then has the verdict of the same entry with no values, so a batch whose lines
    each carry their own time or source IP validates each key name and type once."""
    name, values, kind = key
    if _VALUES_ONLY_TYPED and all(type(value) is str for value in values):
        return _entry_verdict((name, (), kind))
    return _entry_verdict(key)


def _values_only_typed() -> bool:
    """Whether the request schema constrains a context value by its JSON type alone."""
    entry = schema("request")["properties"]["context"]["items"]
    values: object = entry["properties"]["ContextKeyValues"]
    return values == {"type": "array", "items": {"type": "string"}}


_VALUES_ONLY_TYPED: Final = _values_only_typed()


@lru_cache(maxsize=8192)
def _entry_verdict(key: tuple[Any, ...]) -> bool:
    name, values, kind = key
    entry = {"ContextKeyName": name, "ContextKeyValues": list(values), "ContextKeyType": kind}
    return _one_entry_conforms(entry)


def _one_entry_conforms(entry: Any) -> bool:
    """The request schema's verdict on one context entry (inside a minimal valid request)."""
    probe = {"requester_arn": "arn:aws:iam::000000000000:root", "action": "s3:x"}
    return conforms("request", {**probe, "resource_arn": "*", "context": [entry]})


def principal_from_arn(
    arn_text: str, *, session_name: str | None = None, notes: list[str] | None = None
) -> Principal:
    """The principal a requester ARN names (user, role, role session, federated user, root)."""
    principal, found = _principal_and_notes(arn_text, session_name)
    if notes is not None:
        notes.extend(found)
    return principal


@lru_cache(maxsize=4096)
def _principal_and_notes(
    arn_text: str, session_name: str | None
) -> tuple[Principal, tuple[str, ...]]:
    """Cached: a batch names the same requesters over and over."""
    notes: list[str] = []
    return _principal(arn_text, session_name, notes), tuple(notes)


def _principal(arn_text: str, session_name: str | None, notes: list[str]) -> Principal:
    arn = parse_arn(arn_text)
    if arn is None or not arn.account:
        raise InputError("requester_arn", f"{arn_text!r} is not an IAM or STS ARN")
    partition, account, kind = arn.partition, arn.account, arn.resource_type
    name = arn.resource_name
    if arn.service == "iam" and kind == "user" and "/" in arn.resource:
        return Principal(
            type=PrincipalType.IAM_USER,
            requester_arn=arn_text,
            principal_arn=arn_text,
            account_id=account,
            user_name=name,
        )
    if arn.service == "iam" and kind == "role" and "/" in arn.resource:
        if session_name:
            session_arn = f"arn:{partition}:sts::{account}:assumed-role/{name}/{session_name}"
            return Principal(
                type=PrincipalType.ASSUMED_ROLE,
                requester_arn=session_arn,
                principal_arn=arn_text,
                account_id=account,
                session_name=session_name,
            )
        return Principal(
            type=PrincipalType.ROLE,
            requester_arn=arn_text,
            principal_arn=arn_text,
            account_id=account,
        )
    if arn.service == "iam" and arn.resource == "root":
        return Principal(
            type=PrincipalType.ROOT,
            requester_arn=arn_text,
            principal_arn=account_root_arn(account, partition),
            account_id=account,
            user_id=account,
        )
    if arn.service == "sts" and kind == "assumed-role":
        return _session_principal(arn_text, account, session_name, notes)
    if arn.service == "sts" and kind == "federated-user" and "/" in arn.resource:
        notes.append(
            "The parent IAM user of a federated user is not in its ARN: give the parent user's "
            "policies through the snapshot to check them."
        )
        return Principal(
            type=PrincipalType.FEDERATED_USER,
            requester_arn=arn_text,
            principal_arn=arn_text,
            account_id=account,
            session_name=name,
            user_id=f"{account}:{name}",
        )
    raise InputError(
        "requester_arn",
        f"{arn_text!r} is not a user, role, assumed-role, federated-user or root ARN",
    )


def _session_principal(
    arn_text: str, account: str, session_name: str | None, notes: list[str]
) -> Principal:
    role_arn = role_arn_from_session(arn_text)
    parts = arn_text.split(":", 5)[5].split("/", 2)
    if role_arn is None or len(parts) < 3 or not parts[2]:
        raise InputError("requester_arn", f"{arn_text!r}: expected assumed-role/ROLE/SESSION")
    if session_name and session_name != parts[2]:
        raise InputError(
            "session_name", f"{session_name!r} differs from the session in requester_arn"
        )
    notes.append(
        f"{ROLE_PATH_UNKNOWN_NOTE}: using {role_arn} unless the snapshot holds the role under a "
        "path; give the role ARN (with its path) and session_name if the role has a path."
    )
    return Principal(
        type=PrincipalType.ASSUMED_ROLE,
        requester_arn=arn_text,
        principal_arn=role_arn,
        account_id=account,
        session_name=parts[2],
    )


def _action(
    data: Mapping[str, Any], notes: list[str]
) -> tuple[str, ResourceKind | None, str | None]:
    """(IAM action, the resource it acts on, version id) from the document's action."""
    action: str = data["action"]
    service, _, name = action.partition(":")
    if service.lower() != "s3":
        raise InputError("action", f"{action!r}: only S3 actions (s3:…) are diagnosed")
    action = f"s3:{name}"
    if "*" in name or "?" in name:
        raise InputError(
            "action", f"{action!r} is a pattern: a request is made for one action (s3:GetObject…)"
        )
    kind = action_resource(action)
    if kind is None:
        spec = lookup(name)
        if spec is not None:
            raise InputError(
                "action",
                f"{action} is an API name, not an IAM action: S3 authorises {name} as "
                f"{' + '.join(spec.actions)}",
            )
        check_action(action)  # an action S3 does not have: InputError, did you mean …
        notes.append(f"{action} is not in the operation table: its resource form is not checked.")
    version_id = data.get("version_id")
    if version_id:
        versioned = version_action(action)
        if versioned is not None:
            notes.append(f"version_id given: {action} is checked as {versioned}.")
            action = versioned
        elif "Version" not in action:
            notes.append(f"version_id does not change the IAM action {action}.")
    call = call_of(action)
    if call is not None:
        notes.append(
            f"{action}: S3 authorises {call.event_name} as {' + '.join(call.actions)}; "
            "each is checked."
        )
    return action, kind, version_id


def _resource_operation(
    action: str,
    kind: ResourceKind | None,
    resource: str,
    version_id: str | None,
) -> Operation:
    if resource == "*":
        if kind not in (None, ResourceKind.ACCOUNT):
            raise InputError("resource_arn", f"{action} needs a bucket or object ARN, not *")
        return Operation(action=action, resource_arn="*", kms_actions=action_kms(action))
    parts = split_s3_arn(resource)
    if parts is None:
        raise InputError(
            "resource_arn",
            f"{resource!r} is not an S3 bucket or object ARN (arn:aws:s3:::bucket[/key])",
        )
    bucket, key = parts
    if kind is ResourceKind.ACCOUNT:
        raise InputError("resource_arn", f"{action} acts on the account: give *")
    if kind is ResourceKind.OBJECT and key is None:
        raise InputError(
            "resource_arn", f"{action} acts on objects: give arn:aws:s3:::{bucket}/KEY"
        )
    if kind is ResourceKind.BUCKET and key is not None:
        raise InputError("resource_arn", f"{action} acts on a bucket: give arn:aws:s3:::{bucket}")
    return _operation(action, resource, bucket, key, version_id)


def _operation(
    action: str, resource: str, bucket: str | None, key: str | None, version_id: str | None
) -> Operation:
    """The operation on a bucket or object ARN already split and checked (a version id
    applies to an object alone)."""
    return Operation(
        action=action,
        resource_arn=resource,
        bucket=bucket,
        key=key,
        version_id=version_id if key is not None else None,
        kms_actions=action_kms(action),
    )


@lru_cache(maxsize=4096)
def _principal_context(principal: Principal) -> tuple[ContextEntry, ...]:
    return tuple(_principal_keys(principal))


def _principal_keys(principal: Principal) -> Iterable[ContextEntry]:
    types = {
        PrincipalType.IAM_USER: "User",
        PrincipalType.ASSUMED_ROLE: "AssumedRole",
        PrincipalType.ROLE: "AssumedRole",
        PrincipalType.FEDERATED_USER: "FederatedUser",
        PrincipalType.ROOT: "Account",
    }
    arn = (
        principal.requester_arn
        if principal.type is PrincipalType.FEDERATED_USER
        else principal.principal_arn
    )
    yield ContextEntry(name="aws:PrincipalArn", values=(arn,), source=DERIVED)
    yield ContextEntry(name="aws:PrincipalAccount", values=(principal.account_id,), source=DERIVED)
    if principal.type in types:
        yield ContextEntry(
            name="aws:PrincipalType", values=(types[principal.type],), source=DERIVED
        )
    if principal.user_name:
        yield ContextEntry(name="aws:username", values=(principal.user_name,), source=DERIVED)
    if principal.user_id:
        yield ContextEntry(name="aws:userid", values=(principal.user_id,), source=DERIVED)


def _context_entries(entries: Iterable[Mapping[str, Any]]) -> Iterable[ContextEntry]:
    for index, entry in enumerate(entries):
        key = _entry_key(entry)
        yield _context_entry(index, entry) if key is None else _cached_entry(index, key)


@lru_cache(maxsize=8192)
def _cached_entry(index: int, key: tuple[Any, ...]) -> ContextEntry:
    name, values, kind = key
    return _context_entry(
        index, {"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": kind}
    )


def _context_entry(index: int, entry: Mapping[str, Any]) -> ContextEntry:
    """One context entry, its values checked against its type (the schema checked its shape)."""
    return _checked_entry(
        index, entry["ContextKeyName"], tuple(entry["ContextKeyValues"]), entry["ContextKeyType"]
    )


def _checked_entry(index: int, name: str, values: tuple[str, ...], kind: str) -> ContextEntry:
    if not values:
        raise InputError(f"context[{index}].ContextKeyValues", "at least one value is required")
    if len(values) > 1 and not kind.endswith("List"):
        raise InputError(
            f"context[{index}].ContextKeyValues",
            f"type {kind} takes one value; use {kind}List for several",
        )
    for value in values:
        problem = _value_problem(kind.removesuffix("List"), value)
        if problem:
            raise InputError(f"context[{index}].ContextKeyValues", f"{value!r} is not {problem}")
    return ContextEntry(name=name, values=values, type=kind, source="request")


_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4: Final = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


@lru_cache(maxsize=8192)
def _value_problem(kind: str, value: str) -> str | None:
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return "a boolean (true or false)"
    if kind == "numeric":
        try:
            float(value)
        except ValueError:
            return "a number"
    if kind == "ip":
        if _IPV4.fullmatch(value):  # what ip_address accepts of the common form, in a regex
            return None
        try:
            ipaddress.ip_address(value)  # the common case; a CIDR block is checked below
        except ValueError:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                return "an IP address or CIDR"
    if kind == "date":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            try:
                float(value)
            except ValueError:
                return "a date (ISO 8601 or epoch seconds)"
    return None


# `_value_problem` without its cache, for a value that changed from the last line's (a replayed
# line's own time and source IP): the cache would miss, and its miss costs more than the check.
_new_value_problem: Final = _value_problem.__wrapped__


def _policy(value: Any, field: str, kind: PolicyKind) -> Json | None:
    """A policy document the caller gives (JSON text or object), refused as IAM would refuse
    it: STS and Organizations reject a malformed session policy or SCP, so no request ran
    under one."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise InputError(field, f"not valid JSON: {error.msg}") from None
    if not isinstance(value, dict):
        raise InputError(field, "expected a policy document (a JSON object)")
    try:
        compile_policy(value, policy_id=field, kind=kind)
    except MalformedPolicyError as error:
        raise InputError(
            field, f"a policy IAM would refuse: {error.element}: {error.message}"
        ) from None
    return value


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "pattern":
        hints = {
            "requester_arn": "expected an IAM or STS ARN (arn:aws:iam::ACCOUNT:user/NAME …)",
            "action": "expected an IAM action such as s3:GetObject",
            "kms_key_arn": "expected a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)",
            "vpc_endpoint_id": "expected a VPC endpoint id (vpce-…)",
            "ContextKeyName": "expected a condition key such as aws:SourceIp",
        }
        last = error.absolute_path[-1] if error.absolute_path else ""
        return f"{error.instance!r}: {hints.get(str(last), error.message)}"
    return error.message
