"""Issue 15: the completion of a request (`pipeline._prepared`: resolution and its notes)
remembered per form of request (`resolved_forms`) is the completion made afresh.

Requests go through both ways in turn, each on its own snapshot: the remembering one fills on
some requests and answers for their neighbours (other object keys, other values of the context
keys resolution does not read), and each answer is compared with the completion made on a
snapshot that remembers nothing. The requests: every golden scenario's runbook requests and
their neighbours (`runbook_requests`) and its event, and a grid on an account where resolution
adds and notes everything it can (tags of users, roles, buckets, objects and access points, the
unique id, organizations, endpoints and their owners, an access point alias, unread keys).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from chalicelib import pipeline, resolved_forms
from chalicelib.demo.cloudtrail import (
    assumed_role_identity,
    iam_user_identity,
    s3_access_denied_record,
)
from chalicelib.engine import resolve_principal
from chalicelib.engine.resolve import FROM_ENDPOINT, VPC_UNKNOWN_NOTE
from chalicelib.events import parse_event
from chalicelib.model import AccessRequest, ContextEntry, InputError
from chalicelib.request import request_from_runbook
from chalicelib.snapshot import Snapshot, load_snapshot

from .test_speed_runbook import runbook_requests

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
ACCOUNT, OTHER, ORG = "111122223333", "444455556666", "o-a1b2c3d4e5"
BUCKET, SHUT = "rich-data", "shut-data"  # ABAC on and tags read; ABAC status unreadable
POINT = f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/rich-ap"
ALIAS = "rich-ap-hrzrlukc5m36ft7okagglf3gmwluquse1b-s3alias"
OURS, THEIRS, NOBODYS = "vpce-0a1b2c3d4e5f60789", "vpce-0f9e8d7c6b5a40321", "vpce-0123456789abcdef0"
UNREAD = {"$unreadable": "AccessDenied"}
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/etl"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/etl/nightly"
# Keys whose naming in a policy makes resolution add or note something.
NAMED = (
    "aws:userid",
    "aws:ResourceTag/team",
    "s3:BucketTag/team",
    "s3:ExistingObjectTag/class",
    "s3:AccessPointNetworkOrigin",
    "s3:AccessPointTag/team",
    "aws:VpceOrgID",
    "aws:VpceAccount",
    "aws:SourceVpcArn",
    "ec2:SourceInstanceARN",
    "aws:PrincipalOrgID",
    "aws:ResourceOrgID",
    "aws:Referer",
    "s3:signatureAge",
)


def _rich_document() -> dict[str, Any]:
    condition = {"StringLikeIfExists": dict.fromkeys(NAMED, "*")}
    grant = {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": condition}
    policy = [
        {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [grant]}}
    ]
    team = [{"Key": "team", "Value": "finance"}]
    alice = {
        "UserName": "alice",
        "UserId": "AIDAALICE000000000000",
        "Arn": ALICE,
        "Path": "/",
        "UserPolicyList": policy,
        "AttachedManagedPolicies": [],
        "GroupList": [],
        "Tags": team,
    }
    etl = {
        "RoleName": "etl",
        "RoleId": "AROAETL0000000000000",
        "Arn": ROLE,
        "Path": "/service-role/",
        "RolePolicyList": policy,
        "AttachedManagedPolicies": [],
        "Tags": [{"Key": "team", "Value": "etl"}],
    }
    tagged = {"head": {"ContentLength": 1}, "tags": [{"Key": "class", "Value": "secret"}]}
    objects = {"tagged.csv": tagged, "unread.csv": {"head": {"ContentLength": 1}, "tags": UNREAD}}
    point = {
        "Name": "rich-ap",
        "Bucket": BUCKET,
        "NetworkOrigin": "VPC",
        "Alias": ALIAS,
        "tags": team,
    }
    levels = [{"target_id": "r-ab12"}, {"target_id": "ou-ab12-11111111"}, {"target_id": ACCOUNT}]
    return {
        "account_id": ACCOUNT,
        "partition": "aws",
        "region": "us-east-1",
        "iam": {"UserDetailList": [alice], "RoleDetailList": [etl], "GroupDetailList": []},
        "organization": {"org_id": ORG, "levels": levels},
        "s3": {
            "buckets": {
                BUCKET: {"abac": "Enabled", "tags": team, "objects": objects},
                SHUT: {"abac": UNREAD, "objects": UNREAD},
            },
            "access_points": {POINT: point},
        },
        "vpc_endpoints": {
            OURS: {"VpcEndpointId": OURS, "VpcId": "vpc-0aaa1111", "OwnerId": ACCOUNT},
            THEIRS: {"VpcEndpointId": THEIRS, "VpcId": "vpc-0bbb2222", "OwnerId": OTHER},
            NOBODYS: {"VpcEndpointId": NOBODYS, "VpcId": "vpc-0ccc3333"},
        },
    }


def _entry(name: str, value: str, kind: str = "string") -> dict[str, Any]:
    return {"ContextKeyName": name, "ContextKeyValues": [value], "ContextKeyType": kind}


CONTEXTS: list[list[dict[str, Any]]] = [
    [],
    [_entry("aws:SourceVpce", OURS)],
    [_entry("aws:SourceVpce", THEIRS)],
    [_entry("aws:SourceVpce", NOBODYS)],
    [_entry("aws:SourceVpce", OURS), _entry("aws:VpceAccount", OTHER)],
    [_entry("aws:SourceVpce", OURS), _entry("aws:VpceAccount", ACCOUNT)],
    [_entry("aws:ResourceAccount", OTHER)],
    [_entry("aws:ResourceAccount", ACCOUNT)],
    [_entry("s3:ResourceAccount", ACCOUNT), _entry("aws:ResourceAccount", ACCOUNT)],
    [_entry("aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:role/etl")],
    [_entry("aws:PrincipalTag/team", "given"), _entry("aws:userid", "given")],
    [_entry("aws:ResourceTag/team", "given"), _entry("s3:AccessPointNetworkOrigin", "Internet")],
    [_entry("s3:authType", "REST-QUERY-STRING")],
]
# Values of keys resolution never reads: each request again with each of these.
UNREAD_VALUES = [
    [_entry("aws:SourceIp", "10.0.0.1", "ip"), _entry("aws:CurrentTime", "2031-01-01T00:00:00Z")],
    [
        _entry("aws:SourceIp", "203.0.113.7", "ip"),
        _entry("aws:CurrentTime", "2032-02-02T00:00:00Z"),
    ],
]


def _grid() -> Iterator[dict[str, Any]]:
    resources = [
        f"arn:aws:s3:::{BUCKET}/tagged.csv",  # the object's own record: never remembered
        f"arn:aws:s3:::{BUCKET}/unread.csv",
        f"arn:aws:s3:::{BUCKET}/other/one.csv",
        f"arn:aws:s3:::{BUCKET}/other/two.csv",
        f"arn:aws:s3:::{BUCKET}",
        f"arn:aws:s3:::{SHUT}/a.csv",
        f"arn:aws:s3:::{SHUT}/b.csv",
        f"arn:aws:s3:::{ALIAS}/a.csv",
        f"{POINT}/object/a.csv",
        f"{POINT}/object/b.csv",
    ]
    for requester in (
        ALICE,
        SESSION,
        f"arn:aws:iam::{ACCOUNT}:role/etl",
        f"arn:aws:iam::{OTHER}:user/bob",
    ):
        for action in ("s3:GetObject", "s3:PutObject", "s3:ListBucket"):
            for resource in resources:
                for context in CONTEXTS:
                    for unread in UNREAD_VALUES:
                        yield {
                            "requester_arn": requester,
                            "action": action,
                            "resource_arn": resource,
                            "context": [*context, *unread],
                        }


def _records() -> Iterator[dict[str, Any]]:
    alice = iam_user_identity(
        account_id=ACCOUNT, user_name="alice", user_id="AIDAALICE000000000000"
    )
    etl = assumed_role_identity(
        account_id=ACCOUNT,
        role_name="etl",
        role_id="AROAETL0000000000000",
        session_name="nightly",
        path="/service-role/",
    )
    for number, (identity, key, ip, endpoint, owner, auth, named) in enumerate(
        (identity, key, ip, endpoint, owner, auth, named)
        for identity in (alice, etl)
        for key in ("tagged.csv", "a.csv", "b.csv")
        for ip in ("203.0.113.10", "198.51.100.7")
        for endpoint in (None, OURS, THEIRS)
        for owner in (ACCOUNT, OTHER)
        for auth in ("AuthHeader", "QueryString")
        for named in (True, False)
    ):
        record = s3_access_denied_record(
            event_id=f"e-{number}",
            event_time=f"2025-11-24T16:{number % 60:02d}:00Z",
            region="us-east-1",
            identity=identity,
            event_name="GetObject",
            bucket=BUCKET,
            bucket_account=owner,
            key=key,
            vpc_endpoint_id=endpoint,
            source_ip=ip,
        )
        record["additionalEventData"]["AuthenticationMethod"] = auth
        if not named:  # the bucket's owner assumed from the recipient (`events.parse`)
            for resource in record["resources"]:
                resource.pop("accountId", None)
        yield record


def _crafted(request: AccessRequest) -> Iterator[AccessRequest]:
    """`request` with fields a runbook document or a record does not set this way: notes, an
    event id, an access point, a bucket owner, an entry's source."""
    yield replace(request, notes=(VPC_UNKNOWN_NOTE, "a note"))
    yield replace(request, event_id="e-crafted")
    yield replace(request, access_point_arn=POINT)
    yield replace(request, bucket_account=OTHER)
    if request.context:
        last = replace(request.context[-1], source=FROM_ENDPOINT)
        yield replace(request, context=(*request.context[:-1], last))
        yield replace(request, context=(*request.context[:-1], last), notes=(VPC_UNKNOWN_NOTE,))


def _requests(documents: Iterator[dict[str, Any]], records: Iterator[Any]) -> list[AccessRequest]:
    out = []
    for number, document in enumerate(documents):
        try:
            request = request_from_runbook(document)
        except InputError:
            continue
        out.append(request)
        if number % 2 == 0:
            out += _crafted(request)
    for record in records:
        try:
            out.append(parse_event(record))
        except InputError:
            continue
    return out


def _cases() -> Iterator[Any]:
    yield pytest.param(_rich_document(), "grid", id="rich-account")
    for folder in sorted(SCENARIOS.iterdir()):
        yield pytest.param(folder, "scenario", id=folder.name)


def _scenario_requests(folder: Path) -> list[AccessRequest]:
    requests = runbook_requests(folder) if (folder / "request.json").exists() else []
    event = folder / "event.json"
    if event.exists():
        requests += _requests(iter(()), iter([json.loads(event.read_text())]))
    return requests


@pytest.mark.parametrize(("source", "kind"), list(_cases()))
def test_a_remembered_completion_is_the_completion_made_afresh(source: Any, kind: str) -> None:
    if kind == "grid":
        document = source
        requests = _requests(_grid(), _records())
    else:
        document = json.loads((source / "snapshot.json").read_text())
        requests = _scenario_requests(source)
    remembering, afresh = load_snapshot(document), load_snapshot(document)
    answered = 0
    for request in requests:
        answered += _remembered(request, remembering)
        got = pipeline._prepared(request, remembering)
        want = pipeline._completed(request, afresh)
        assert got == want, (request, got, want)
        # kept as resolved, as the engine's own resolution would give it
        assert resolve_principal(got, remembering) is got
        assert resolve_principal(got, load_snapshot(document)) == got
    if kind == "grid":
        assert answered > len(requests) // 4, (answered, len(requests))


def _remembered(request: AccessRequest, snapshot: Snapshot) -> bool:
    """Whether the completion of `request` comes from an earlier request's."""
    form = resolved_forms._form(request, snapshot)
    forms = snapshot.cached(("resolved forms",), dict)
    return form is not None and form in forms


def test_the_scenarios_are_answered_from_remembered_forms() -> None:
    """Not vacuous: most scenario requests and neighbours come from a remembered form."""
    answered = total = 0
    for folder in sorted(SCENARIOS.iterdir()):
        snapshot = load_snapshot(json.loads((folder / "snapshot.json").read_text()))
        for request in _scenario_requests(folder):
            answered += _remembered(request, snapshot)
            pipeline._prepared(request, snapshot)
            total += 1
    assert answered > total // 2, (answered, total)


class _Watched(ContextEntry):
    """A context entry that records the reads of its values and its type."""

    read: ClassVar[set[str]] = set()

    def __init__(self, **fields: Any) -> None:  # each field in its slot: no setters here
        for name, value in fields.items():
            getattr(ContextEntry, name).__set__(self, value)

    @property  # type: ignore[override]
    def values(self) -> tuple[str, ...]:
        _Watched.read.add(self.name.lower())
        return ContextEntry.values.__get__(self)  # type: ignore[attr-defined,no-any-return]

    @property  # type: ignore[override]
    def type(self) -> str:
        _Watched.read.add(self.name.lower())
        return ContextEntry.type.__get__(self)  # type: ignore[attr-defined,no-any-return]


def _watched(entry: ContextEntry) -> _Watched:
    return _Watched(**{name: getattr(entry, name) for name in ContextEntry.__dataclass_fields__})


def test_resolution_reads_the_values_of_the_read_keys_alone() -> None:
    """What the form leaves out of the context, resolution never reads: on the rich account,
    completing each request of the grid reads the values (or type) of no other entry."""
    document = _rich_document()
    snapshot = load_snapshot(document)
    _Watched.read.clear()
    requests = _requests(_grid(), _records())
    for request in requests:
        watched = tuple(map(_watched, request.context))
        pipeline._completed(replace(request, context=watched), snapshot)
    assert _Watched.read <= resolved_forms.READ_KEYS, _Watched.read - resolved_forms.READ_KEYS
    assert {"aws:sourcevpce", "aws:principalarn", "s3:authtype"} <= _Watched.read
