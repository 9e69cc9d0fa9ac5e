"""Issue 15: the shortcuts of the batch path (template requests, remembered entries and
condition answers) give what the full path gives, for good and bad input alike."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest

from chalicelib import request as request_module
from chalicelib.engine.conditions import compile_condition_block
from chalicelib.engine.context import RequestContext, normalise_key
from chalicelib.engine.verdict_cache import DIRECT_KEYS
from chalicelib.model import AccessRequest, InputError
from chalicelib.request import _TEMPLATES, _value_problem, lazy_request, request_from_runbook
from chalicelib.runbook_verdicts import _FORMS, _form

ALICE = "arn:aws:iam::111122223333:user/alice"


def _document(context: Any, resource: str = "arn:aws:s3:::b/k.txt") -> dict[str, Any]:
    return {
        "requester_arn": ALICE,
        "action": "s3:GetObject",
        "resource_arn": resource,
        "context": context,
    }


def _entry(name: Any, values: Any, kind: Any = "string") -> dict[str, Any]:
    return {"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": kind}


def _outcome(document: dict[str, Any]) -> AccessRequest | str:
    try:
        return request_from_runbook(document)
    except InputError as error:
        return f"InputError: {error}"


CONTEXTS: list[Any] = [
    [_entry("aws:SourceIp", ["10.0.0.1"], "ip")],
    [_entry("aws:SourceIp", ["10.0.0.01"], "ip")],
    [_entry("aws:SourceIp", "10.0.0.1", "ip")],  # a string, not a list of values
    [_entry("aws:username", "a")],
    [_entry("aws:SourceIp", ["10.0.0.1", "10.0.0.2"], "ip")],
    [_entry("aws:SourceIp", ["10.0.0.1", "10.0.0.2"], "ipList")],
    [_entry(["aws:SourceIp"], ["10.0.0.1"], "ip")],
    [_entry("aws:SourceIp", ["10.0.0.1"], ["ip"])],
    [_entry("aws:SourceIp", [1], "ip")],
    [_entry("aws:SecureTransport", ["maybe"], "boolean")],
    [_entry("aws:CurrentTime", ["2025-11-24T16:00:07Z"], "date")],
    [_entry("aws:EpochTime", ["17x"], "numeric")],
    [{**_entry("aws:username", ["alice"]), "extra": 1}],
    [{"ContextKeyName": "aws:username", "ContextKeyValues": ["alice"]}],
    [_entry("aws:username", ["bob"]), _entry("AWS:USERNAME", ["carol"])],
    [_entry("aws:PrincipalArn", ["arn:aws:iam::111122223333:user/bob"])],
    [],
    None,
    "aws:username",
]


@pytest.mark.parametrize("context", CONTEXTS)
@pytest.mark.parametrize("resource", ["arn:aws:s3:::b/k.txt", "arn:aws:s3:::b", "*", 7])
def test_a_template_request_is_the_request_the_full_check_builds(
    context: Any, resource: Any
) -> None:
    document = _document(context, resource)
    _TEMPLATES.clear()
    fresh = _outcome(document)  # no template yet: the full check
    request_from_runbook(_document([]))  # the template of these fields, from a good document
    assert _TEMPLATES
    assert _outcome(document) == fresh  # the template, the form of the entries met
    assert _outcome(document) == fresh  # the template and its remembered form


@pytest.mark.parametrize(
    ("action", "version_id", "seed"),
    [
        ("s3:GetObject", None, "arn:aws:s3:::other/key"),
        ("s3:GetObjectVersion", "v1", "arn:aws:s3:::other/key"),
        ("s3:PutObject", None, "arn:aws:s3:::other/key"),
        ("s3:ListBucket", None, "arn:aws:s3:::other"),
        ("s3:ListAllMyBuckets", None, "*"),
        ("s3:GetObjectAcl", "v2", "arn:aws:s3:::other/key"),
    ],
)
@pytest.mark.parametrize("resource", ["arn:aws:s3:::b/k.txt", "arn:aws:s3:::b/", "arn:aws:s3:::b"])
def test_a_template_request_of_any_action_is_the_request_the_full_check_builds(
    action: str, version_id: str | None, seed: str, resource: str
) -> None:
    """The operation a template request builds from the object ARN it split (its action's
    KMS actions, its version id) is the one the full check builds."""
    document = {**_document([_entry("aws:SourceIp", ["10.0.0.1"], "ip")], resource)}
    document["action"] = action
    if version_id is not None:
        document["version_id"] = version_id
    _TEMPLATES.clear()
    fresh = _outcome(document)
    request_from_runbook({**document, "resource_arn": seed})  # the template of these fields
    assert _TEMPLATES
    assert _outcome(document) == fresh


KINDS = ["string", "numeric", "boolean", "ip", "binary", "date"]
NAMES: list[Any] = ["aws:SourceIp", "aws:CurrentTime", "AWS:epochtime", "aws:x y", "nocolon", ""]
VALUES: list[Any] = [
    "10.1.2.3", "10.1.2.300", "::1", "10.0.0.0/8", "\u0661.2.3.4", "1764000007", "1e5", "nan",
    "-inf", "0x10", "1_000", " 7", "true", "FALSE", "yes", "2025-11-24T16:00:07Z",
    "2025-11-24T16:00:07+01:00", "2025-13-01", "", "\n", "a\u0000b", "x" * 5000, 7, None, True,
]  # fmt: skip


@pytest.mark.parametrize("kind", [*KINDS, *(k + "List" for k in KINDS), "List", "float", 3])
def test_a_new_entry_of_a_template_request_is_checked_as_the_full_check_checks_it(
    kind: Any,
) -> None:
    """An entry on the batch path (`lazy_request`: the form of its name and type, then its
    values) against the schema and the value check of `request_from_runbook`, for every name,
    value and list of them, the first time and once its form is known."""
    _TEMPLATES.clear()
    request_from_runbook(_document([]))
    for name in NAMES:
        for values in [[v] for v in VALUES] + [[], ["10.1.2.3", "1"], ["1", 2]]:
            document = _document([_entry(name, values, kind)])
            _TEMPLATES.clear()
            fresh = _outcome(document)
            request_from_runbook(_document([]))
            assert _outcome(document) == fresh, (name, values, kind)
            assert _outcome(document) == fresh, (name, values, kind)


BASE: list[dict[str, Any]] = [
    _entry("aws:PrincipalTag/team", ["data"]),
    _entry("aws:SecureTransport", ["true"], "boolean"),
    _entry("aws:SourceIp", ["10.0.0.1"], "ip"),
    _entry("aws:CurrentTime", ["2025-11-24T16:00:07Z"], "date"),
    _entry("aws:EpochTime", ["1764000007"], "numeric"),
    _entry("aws:TagKeys", ["a", "b"], "stringList"),
]


def _neighbours(base: list[dict[str, Any]]) -> list[Any]:
    """Contexts that differ from `base` in one entry (its value, name, type, keys, shape) or in
    their length."""
    found: list[Any] = []
    for i, entry in enumerate(base):
        name = entry["ContextKeyName"]
        variants: list[Any] = [
            *({**entry, "ContextKeyValues": [value]} for value in VALUES),
            {**entry, "ContextKeyValues": ["10.1.2.3", "1"]},
            {**entry, "ContextKeyValues": []},
            {**entry, "ContextKeyValues": "10.1.2.3"},
            {**entry, "ContextKeyValues": [["true"]]},
            {**entry, "ContextKeyName": "aws:Other"},
            {**entry, "ContextKeyName": name.upper()},
            {**entry, "ContextKeyName": 7},
            {**entry, "ContextKeyName": [name]},
            {**entry, "ContextKeyType": "string"},
            {**entry, "ContextKeyType": "ipList"},
            {**entry, "ContextKeyType": "float"},
            {**entry, "extra": 1},
            {k: v for k, v in entry.items() if k != "ContextKeyType"},
            {"ContextKeyName": name, "ContextKeyValues": ["1"], "contextKeyType": "string"},
            [entry],
            None,
            name,
        ]
        found += [[*base[:i], variant, *base[i + 1 :]] for variant in variants]
    return [*found, base[:-1], [*base, base[0]], [*base, base[2]], [base[1], base[0]], []]


def test_a_context_like_the_last_one_is_checked_as_the_full_check_checks_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`lazy_request` checks a context where it differs from its template's last one: each
    neighbour of a context, right after it and after one another, against the full check."""
    contexts = _neighbours(BASE)
    expected = []
    for context in contexts:
        _TEMPLATES.clear()
        expected.append(_outcome(_document(context)))
    assert sum(isinstance(found, AccessRequest) for found in expected) > 40
    _TEMPLATES.clear()
    request_from_runbook(_document(BASE))
    for context, fresh in zip(contexts, expected, strict=True):
        assert _outcome(_document(context)) == fresh, context  # after BASE
        request_from_runbook(_document(BASE))  # the last context is BASE again
    for context, fresh in zip(contexts * 2, expected * 2, strict=True):
        assert _outcome(_document(context)) == fresh, context  # after one another
    lazy_request(_document(BASE))
    monkeypatch.setattr(request_module, "_checked_context", None)  # the last context's path
    context = [*BASE[:2], _entry("aws:SourceIp", ["10.9.9.9"], "ip"), *BASE[3:]]
    one = lazy_request(_document(context))
    assert one is not None and one.values[2] == ("10.9.9.9",)


def test_a_document_changed_after_its_request_was_built_is_checked_again() -> None:
    """The last context is kept as copies: a caller that changes its document in place gets
    the check of the changed document."""
    _TEMPLATES.clear()
    changed = _document(copy.deepcopy(BASE))
    changed["context"][2]["ContextKeyValues"][0] = "not an ip"
    fresh = _outcome(changed)  # no template: the full check
    assert isinstance(fresh, str) and "not an IP" in fresh
    document = _document(copy.deepcopy(BASE))
    request_from_runbook(document)  # the template
    request_from_runbook(document)  # the template's last context
    document["context"][2]["ContextKeyValues"][0] = "not an ip"
    assert _outcome(document) == fresh


@pytest.mark.parametrize(
    "value",
    ["0.0.0.0", "255.255.255.255", "1.2.3.4\n", "1.2.3.04", "00.1.2.3", "1.2.3", "1.2.3.4.5",
     "+1.2.3.4", "1.2.3.4 ", "\u0661.2.3.4", "1.2.3.\u0664", "256.1.1.1", "1.2.3.4/32"],
)  # fmt: skip
def test_an_ip_value_is_checked_as_ipaddress_checks_it(value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
        valid = True
    except ValueError:
        valid = False
    assert (_value_problem("ip", value) is None) == valid


BLOCKS: list[dict[str, Any]] = [
    {"Bool": {"aws:SecureTransport": "false"}},
    {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.1.1"]}},
    {"NotIpAddressIfExists": {"aws:SourceIp": "10.0.0.0/8"}},
    {"StringLike": {"aws:username": "${aws:PrincipalTag/team}-*"}},  # a variable: not kept
    {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}},
    {"Null": {"aws:SourceIp": "true"}},
    {"NumericLessThan": {"aws:EpochTime": "1764000100"}},
]
CONTEXT_VALUES: list[dict[str, list[str]]] = [
    {},
    {"aws:SecureTransport": ["false"]},
    {"aws:SecureTransport": ["TRUE"]},
    {"aws:SourceIp": ["10.1.2.3"]},
    {"aws:SourceIp": ["192.168.1.1"]},
    {"aws:SourceIp": ["not an ip"]},
    {"aws:username": ["data-x"], "aws:PrincipalTag/team": ["data"]},
    {"aws:username": ["data-x"], "aws:PrincipalTag/team": ["ops"]},
    {"aws:TagKeys": ["a"]},
    {"aws:TagKeys": ["a", "c"]},
    {"aws:EpochTime": ["1764000000"]},
    {"aws:EpochTime": ["1764000200"]},
]


@pytest.mark.parametrize("block", BLOCKS)
def test_a_remembered_condition_answer_is_the_answer_computed_afresh(
    block: dict[str, Any],
) -> None:
    kept = compile_condition_block(block, policy_id="p", variables=True).conditions[0]
    for values in CONTEXT_VALUES * 2:  # the second time from what it remembered
        fresh = compile_condition_block(block, policy_id="p", variables=True).conditions[0]
        ctx = RequestContext(values)
        assert kept.answer(ctx) == fresh.answer(ctx), values
    assert (kept.answers is None) == ("$" in str(block))


WALKED: list[Any] = [
    [
        _entry("aws:SourceIp", ["10.0.0.1"], "ip"),
        _entry("aws:SecureTransport", ["true"], "boolean"),
    ],
    [_entry("aws:PrincipalTag/Team", ["a"]), _entry("aws:principaltag/team", ["b"])],  # one key
    [_entry("aws:ResourceTag/Team", ["a"]), _entry("aws:ResourceTag/team", ["b"])],  # two keys
    [_entry("aws:username", ["bob"]), _entry("aws:username", ["carol"])],
    [_entry("AWS:PrincipalArn", ["arn:aws:iam::111122223333:user/bob"])],  # over a derived one
    [_entry("aws:PrincipalArn/x", ["y"])],
    [_entry("S3:VersionId", ["v9"])],
    [_entry("s3:x-amz-server-side-encryption", ["aws:kms"])],
    [
        _entry("aws:SourceIp", ["10.0.0.1"], "ip"),
        _entry("S3:X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", ["k1", "k2"], "stringList"),
        _entry("s3:x-amz-server-side-encryption-bucket-key-enabled", ["true"], "boolean"),
    ],
    [_entry("aws:TagKeys", ["a", "b"], "stringList"), _entry("aws:EpochTime", ["1"], "numeric")],
    [],
]


@pytest.mark.parametrize("context", WALKED)
@pytest.mark.parametrize(
    "fields",
    [{}, {"version_id": "v1"}, {"vpc_endpoint_id": "vpce-1a2b3c4d"}, {"session_name": "s"}],
)
def test_the_walk_reads_the_context_and_header_keys_of_the_built_request(
    context: Any, fields: dict[str, Any]
) -> None:
    """`decide_runbook`'s tree walk on a line without its request: the lookup context and the
    header keys of its shape are those of the request `request_from_runbook` builds."""
    document = {**_document(context), **fields}
    if "session_name" in fields:
        document["requester_arn"] = "arn:aws:iam::111122223333:role/app"
    _TEMPLATES.clear()
    request_from_runbook(document)
    for _round in range(2):  # a new form, then the form remembered
        lazy = lazy_request(document)
        assert lazy is not None and lazy.object_key == "k.txt"
        request = lazy.build()
        assert request == request_from_runbook(document)
        form = _FORMS.get(lazy.form) or _form(lazy.form)
        expected = RequestContext.from_request(request)
        names = set(_names(context))
        assert form.walks == (len(names) == len(context))
        if form.walks:
            found = form.context(lazy.values)
            assert (found._entries, found._names) == (expected._entries, expected._names)
        header = tuple(
            (e.name.lower(), e.values) for e in request.context if e.name.lower() in DIRECT_KEYS
        )
        assert form.header_keys(lazy.values) == header


def _names(context: list[dict[str, Any]]) -> list[str]:
    """The lookup keys of the entries' names (a tag part keeps its case but for principal tags)."""
    return [normalise_key(entry["ContextKeyName"]) for entry in context]
