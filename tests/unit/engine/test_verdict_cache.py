"""The verdict cache must never change a verdict: a remembered one equals the full decision.

Every engine case is replayed with many object keys of the same shape on one snapshot, so the
cache fills on some keys and answers for the others; each answer is checked against a full
decision on a fresh snapshot.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from chalicelib.engine import decide, evaluate
from chalicelib.engine.verdict_cache import (
    DIRECT_KEYS,
    SHAPE_FIELDS,
    UNCACHED_FIELDS,
    UNREAD_FIELDS,
)
from chalicelib.model import AccessRequest, ContextEntry, Operation, Verdict
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.casefile import principal_from_arn, request_from_case
from tests.unit.engine.test_cases import _all_cases

ENGINE = Path(__file__).resolve().parents[3] / "chalicelib" / "engine"
S3_ARN = re.compile(r"arn:aws[\w-]*:s3:::([^/\"*?$]+)/([^\"]*)")
PRINCIPAL_ARN = re.compile(r"arn:aws:(?:iam::\d{12}:(?:user|role)/[\w+=,.@/-]+|iam::\d{12}:root)")


def _keys(case: Mapping[str, Any], own: str) -> list[str]:
    """Keys that matter to the case: its own, each key pattern its policies name (wildcards
    and variables filled in), neighbours of those, and keys matching nothing."""
    found = {own, "", "x", own + "/more", "other/" + own, own.upper()}
    for _bucket, pattern in S3_ARN.findall(json.dumps(case["snapshot"])):
        for fill in ("", "a", "a/b"):
            key = re.sub(r"\$\{[^}]*\}", "alice", pattern).replace("*", fill).replace("?", "q")
            found.update({key, key + "z", key.rsplit("/", 1)[0]})
    return sorted(found)


def _with_key(request: AccessRequest, key: str) -> AccessRequest:
    op = request.operations[0]
    arn = op.resource_arn[: len(op.resource_arn) - len(op.key or "")] + key
    return dataclasses.replace(
        request, operations=(dataclasses.replace(op, resource_arn=arn, key=key),)
    )


def _neighbours(case: Mapping[str, Any], request: AccessRequest) -> Iterator[AccessRequest]:
    """The request with one part of its shape changed at a time: requester, action, bucket,
    context, endpoint, access point, KMS key, version."""
    yield request
    text = json.dumps(case["snapshot"])
    op = request.operations[0]
    for arn in sorted(set(PRINCIPAL_ARN.findall(text))):
        yield dataclasses.replace(request, principal=principal_from_arn(arn))
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObjectVersion", "s3:GetObjectAcl"):
        yield dataclasses.replace(request, operations=(dataclasses.replace(op, action=action),))
    for bucket in sorted({b for b, _key in S3_ARN.findall(text)} - {op.bucket}):
        arn = f"arn:aws:s3:::{bucket}/{op.key}"
        changed = dataclasses.replace(op, bucket=bucket, resource_arn=arn)
        yield dataclasses.replace(request, operations=(changed,))
    yield dataclasses.replace(request, context=())
    for i, entry in enumerate(request.context):
        flipped = tuple({"true": "false", "false": "true"}.get(v, v + "x") for v in entry.values)
        context = list(request.context)
        context[i] = dataclasses.replace(entry, values=flipped)
        yield dataclasses.replace(request, context=tuple(context))
        yield dataclasses.replace(request, context=request.context[:i] + request.context[i + 1 :])
    for name, values in _CONTEXT_NEIGHBOURS:  # keys the case's policies read, or never read
        others = tuple(e for e in request.context if e.name.lower() != name.lower())
        for value in values:
            entry = ContextEntry(name=name, values=(value,))
            yield dataclasses.replace(request, context=(*others, entry))
    yield dataclasses.replace(
        request, vpc_endpoint_id=None if request.vpc_endpoint_id else "vpce-1a"
    )
    yield dataclasses.replace(request, access_point_arn=None)
    yield dataclasses.replace(request, kms_key_arn=None)
    version = None if op.version_id else "v1"
    yield dataclasses.replace(request, operations=(dataclasses.replace(op, version_id=version),))


# Values a context key takes in neighbouring requests: inside and outside the address ranges and
# times the engine cases test, other users and tags, and keys no policy reads.
_CONTEXT_NEIGHBOURS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("aws:SourceIp", ("203.0.113.7", "192.0.2.10", "10.0.0.1", "10.1.2.3", "2001:db8::1")),
    ("aws:CurrentTime", ("2019-06-01T00:00:00Z", "2025-06-01T12:00:00Z", "2031-01-01T00:00:00Z")),
    ("aws:EpochTime", ("1559347200", "1748779200", "1924992000")),
    ("aws:username", ("alice", "bob")),
    ("aws:PrincipalTag/team", ("data", "web")),
    ("aws:SecureTransport", ("true", "false")),
    ("aws:RequestedRegion", ("us-east-1", "eu-west-1", "ap-south-1")),
    ("aws:SourceVpce", ("vpce-1a", "vpce-0a1b2c3d4e5f60789")),
    ("aws:PrincipalOrgID", ("o-abcd1234ef", "o-other")),
    ("s3:x-amz-acl", ("private", "public-read")),
    ("s3:x-amz-server-side-encryption", ("AES256", "aws:kms")),
    ("x:NeverRead", ("1", "2")),
)


def _object_cases() -> Iterator[Any]:
    for path, case in _all_cases():
        request = request_from_case(case["request"])
        if len(request.operations) == 1 and request.operations[0].key is not None:
            yield pytest.param(case, id=f"{path.stem}::{case['name']}")


@pytest.mark.parametrize("case", list(_object_cases()))
def test_a_remembered_verdict_is_the_full_decision(case: Mapping[str, Any]) -> None:
    request = request_from_case(case["request"])
    keys = _keys(case, request.operations[0].key or "")
    requests = [_with_key(one, key) for one in _neighbours(case, request) for key in keys]
    shared, reference = load_snapshot(case["snapshot"]), load_snapshot(case["snapshot"])
    expected = [evaluate(one, reference) for one in requests]
    for _round in range(2):  # the first round fills the cache, the second mostly reads it
        for one, full in zip(requests, expected, strict=True):
            quick = decide(one, shared)
            assert (quick.decision, quick.blocked_by) == (full.decision, full.blocked_by), one


def test_one_shape_is_decided_once_and_other_keys_reuse_it() -> None:
    snapshot = load_snapshot(_snapshot({"Effect": "Allow", "Action": "s3:GetObject",
                                        "Resource": "arn:aws:s3:::b/public/*"}))  # fmt: skip
    allowed = [decide(_get(f"public/{i}.csv"), snapshot) for i in range(50)]
    denied = [decide(_get(f"private/{i}.csv"), snapshot) for i in range(50)]
    assert {v.decision for v in allowed} == {Verdict.ALLOWED}
    assert {v.decision for v in denied} == {Verdict.IMPLICIT_DENY}
    assert len(snapshot.verdicts) == 1  # one shape, two paths in its tree


def test_a_kms_grant_bound_to_one_object_is_not_reused_for_another() -> None:
    key_arn = "arn:aws:kms:us-east-1:111122223333:key/k1"
    doc = _snapshot({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    doc["kms"] = {
        "keys": {
            key_arn: {
                "metadata": {"Arn": key_arn, "KeyManager": "CUSTOMER", "KeyState": "Enabled"},
                "policy": {"Version": "2012-10-17", "Statement": []},
                "grants": [
                    {
                        "GrantId": "g1",
                        "GranteePrincipal": "arn:aws:iam::111122223333:user/alice",
                        "Operations": ["Decrypt"],
                        "Constraints": {
                            "EncryptionContextSubset": {"aws:s3:arn": "arn:aws:s3:::b/a"}
                        },
                    }
                ],
            }
        }
    }
    snapshot = load_snapshot(doc)
    for _round in range(3):  # the key reaches the KMS context: nothing may be remembered
        assert decide(_get("a", kms_key_arn=key_arn), snapshot).decision is Verdict.ALLOWED
        assert decide(_get("b", kms_key_arn=key_arn), snapshot).decision is Verdict.IMPLICIT_DENY


def test_the_partition_of_the_object_arn_is_part_of_the_shape() -> None:
    # GetObject is allowed everywhere, s3:ListBucket only on the aws partition's bucket: a
    # missing key answers 404 (allowed) in one partition and 403 in the other.
    doc = _snapshot({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    statements = doc["iam"]["UserDetailList"][0]["UserPolicyList"][0]["PolicyDocument"]
    statements["Statement"].append(
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
    )
    doc["s3"]["buckets"]["b"]["objects"] = {}
    snapshot = load_snapshot(doc)
    china = _get("k")
    op = dataclasses.replace(china.operations[0], resource_arn="arn:aws-cn:s3:::b/k")
    china = dataclasses.replace(china, operations=(op,))
    for _round in range(3):
        assert decide(_get("k"), snapshot).decision is Verdict.ALLOWED
        assert decide(china, snapshot).decision is Verdict.IMPLICIT_DENY


def test_requests_that_differ_in_context_do_not_share_a_verdict() -> None:
    snapshot = load_snapshot(
        _snapshot(
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        )
    )
    secure, plain = _get("k"), _get("k")
    secure = dataclasses.replace(
        secure, context=(ContextEntry(name="aws:SecureTransport", values=("true",)),)
    )
    for _round in range(3):
        assert decide(secure, snapshot).decision is Verdict.ALLOWED
        assert decide(plain, snapshot).decision is Verdict.IMPLICIT_DENY


def test_every_request_field_is_in_the_shape_or_named_as_outside_it() -> None:
    fields = {f.name for f in dataclasses.fields(AccessRequest)}
    assert fields == SHAPE_FIELDS | UNCACHED_FIELDS | UNREAD_FIELDS
    operation = {f.name for f in dataclasses.fields(Operation)}
    assert operation == {"action", "resource_arn", "bucket", "key", "version_id", "role",
                         "kms_actions"}  # fmt: skip


def test_the_engine_never_reads_the_fields_left_out_of_the_shape() -> None:
    source = "\n".join(path.read_text() for path in ENGINE.glob("*.py"))
    for name in UNREAD_FIELDS:
        assert not re.search(rf"request\.{name}\b", source), name


def _snapshot(statement: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "account_id": "111122223333",
        "iam": {
            "UserDetailList": [
                {
                    "UserName": "alice",
                    "Arn": "arn:aws:iam::111122223333:user/alice",
                    "UserPolicyList": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                        }
                    ],
                }
            ]
        },
        "s3": {"buckets": {"b": {"owner": {"ID": "c" * 64}}}},
    }


def _get(key: str, kms_key_arn: str | None = None) -> AccessRequest:
    return request_from_case(
        {
            "principal": "arn:aws:iam::111122223333:user/alice",
            "action": "s3:GetObject",
            "resource": f"arn:aws:s3:::b/{key}",
            "kms_actions": ["kms:Decrypt"],
            "kms_key_arn": kms_key_arn,
        }
    )


def _conditioned() -> Any:
    """Reads aws:SourceIp (a range), aws:CurrentTime (a deadline) and aws:username (a variable);
    never aws:EpochTime, aws:PrincipalOrgID or x:Unread."""
    doc = _snapshot(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/home/${aws:username}/*",
            "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/16", "2001:db8::/32"]}},
        }
    )
    statements = doc["iam"]["UserDetailList"][0]["UserPolicyList"][0]["PolicyDocument"]
    statements["Statement"].append(
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
        }
    )
    return doc


def _replayed(i: int, ip: str, when: str, user: str = "alice") -> AccessRequest:
    request = _get(f"home/{'alice' if i % 3 else 'bob'}/f-{i}.csv")
    context = (
        ContextEntry(name="aws:SourceIp", values=(ip,)),
        ContextEntry(name="aws:CurrentTime", values=(when,)),
        ContextEntry(name="aws:EpochTime", values=(str(1_700_000_000 + i),)),
        ContextEntry(name="aws:PrincipalOrgID", values=(f"o-{i}",)),
        ContextEntry(name="x:Unread", values=(str(i),)),
        ContextEntry(name="aws:username", values=(user,)),
    )
    return dataclasses.replace(request, context=context)


def test_replayed_requests_differing_in_read_and_unread_context_match_full_decisions() -> None:
    ips = ("10.0.1.2", "10.0.200.9", "10.1.0.1", "192.0.2.1", "2001:db8::7", "2001:db9::7", "x")
    times = ("2025-01-01T00:00:00Z", "2029-12-31T23:59:59Z", "2030-01-01T00:00:01Z", "bad")
    requests = [
        _replayed(i, ips[i % len(ips)], times[(i // 7) % len(times)], ("alice", "bob")[i % 2])
        for i in range(400)
    ]
    shared, reference = load_snapshot(_conditioned()), load_snapshot(_conditioned())
    for _round in range(2):
        for one in requests:
            quick, full = decide(one, shared), evaluate(one, reference)
            assert (quick.decision, quick.blocked_by) == (full.decision, full.blocked_by), one
    verdicts = {decide(one, shared).decision for one in requests}
    assert verdicts == {Verdict.ALLOWED, Verdict.IMPLICIT_DENY, Verdict.EXPLICIT_DENY}


def test_context_no_policy_reads_does_not_make_a_new_shape(monkeypatch: Any) -> None:
    engine = importlib.import_module("chalicelib.engine.evaluate")

    full = engine._decide_in_full
    calls: list[AccessRequest] = []

    def counted(request: AccessRequest, snapshot: Any) -> Any:
        calls.append(request)
        return full(request, snapshot)

    monkeypatch.setattr(engine, "_decide_in_full", counted)
    snapshot = load_snapshot(_conditioned())
    # Own key, own time before the deadline, own unread keys, addresses inside one range.
    requests = [
        _replayed(i * 3 + 1, f"10.0.{i // 250}.{i % 250}", f"2025-01-01T00:{i % 60:02d}:00Z")
        for i in range(500)
    ]
    answers = {decide(one, snapshot).decision for one in requests}
    assert answers == {Verdict.ALLOWED}
    assert len(snapshot.verdicts) == 1
    assert len(calls) <= 3  # the first two of the shape; every other one is replayed


def test_the_engine_reads_the_request_context_only_through_its_request_context() -> None:
    """A read the trace cannot see must have its key in the shape (`DIRECT_KEYS`)."""
    source = {path.name: path.read_text() for path in ENGINE.glob("*.py")}
    direct = {
        name.lower()
        for text in source.values()
        for name in re.findall(r"context_value\(\s*\"([^\"]+)\"", text)
    }
    assert direct == DIRECT_KEYS
    calls = sum(text.count("context_value(") for text in source.values())
    assert calls == len(direct)  # every call names its key literally
    readers = {
        name
        for name, text in source.items()
        if re.search(r"(?<=\w)(?<!engine)\.context\b(?!_)", text)
    }
    # context.py builds the RequestContext; resolve.py runs before the shape is taken;
    # verdict_cache.py takes it.
    assert readers == {"context.py", "resolve.py", "verdict_cache.py"}, readers


def test_a_shape_whose_answers_keep_differing_stops_growing_and_stays_right(
    monkeypatch: Any,
) -> None:
    cache = importlib.import_module("chalicelib.engine.verdict_cache")
    monkeypatch.setattr(cache, "MAX_PATHS", 3)
    traces = []

    def counted(slots: Any, compute: Any) -> Any:
        traces.append(slots)
        return cache_traced(slots, compute)

    cache_traced = cache.traced
    monkeypatch.setattr(cache, "traced", counted)
    shared, reference = load_snapshot(_conditioned()), load_snapshot(_conditioned())
    users = [f"user{i}" for i in range(12)] + ["alice"]  # ${aws:username} read with its value
    for _round in range(2):
        for i, user in enumerate(users):
            one = _replayed(i, "10.0.0.1", "2025-01-01T00:00:00Z", user)
            quick, full = decide(one, shared), evaluate(one, reference)
            assert (quick.decision, quick.blocked_by) == (full.decision, full.blocked_by), one
    assert max(cache._path_counts(shared).values()) == 3
    assert len(traces) == 3  # a full tree no longer traces the requests that fall off it


def test_whole_requests_stop_being_looked_up_when_none_repeats_and_stay_right(
    monkeypatch: Any,
) -> None:
    cache = importlib.import_module("chalicelib.engine.verdict_cache")
    monkeypatch.setattr(cache, "MAX_MISSES", 8)
    shared, reference = load_snapshot(_conditioned()), load_snapshot(_conditioned())
    ips = ("10.0.1.2", "192.0.2.1", "2001:db8::7")
    distinct = [_replayed(i, ips[i % 3], "2025-01-01T00:00:00Z") for i in range(12)]
    for one in distinct + distinct[:3] * 2:  # repeats come after the lookups stopped
        quick, full = decide(one, shared), evaluate(one, reference)
        assert (quick.decision, quick.blocked_by) == (full.decision, full.blocked_by), one
    assert not cache._repeats(shared).looking
    again = load_snapshot(_conditioned())
    for one in distinct[:3] * 4:  # repeats from the start: looked up, and found
        quick, full = decide(one, again), evaluate(one, reference)
        assert (quick.decision, quick.blocked_by) == (full.decision, full.blocked_by), one
    assert cache._repeats(again).looking and cache._repeats(again).leaves
