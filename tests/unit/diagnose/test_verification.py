"""Issue 15: a probe a fix cannot affect keeps its verdict (`diagnose.verification`).

The claim itself, checked wherever the criterion makes it: every golden scenario and every
engine case, with neighbours of its request (another key, another action, every user and role
of the snapshot as the requester) and patches of every kind (each inline, managed, bucket, key
and endpoint policy of the snapshot replaced, a new inline policy on each user, group and role,
ownership and request patches, and the fixes the findings propose): when `unaffected` or
`absent_principal` says the patch cannot change a probe's verdict, the probe's whole decision
on the patched snapshot equals its decision on the unpatched one. Then the findings: diagnosed
with the criterion and without it (`verification.ENABLED = False`), they are equal. And where
a probe shares the patched policy (a group, a managed policy, a user of the probe's name), the
criterion says so, and the broader fix is dropped either way.

Two more shortcuts of issue 15, proved the same way: `apply_patch_shared` copies a managed
policy's versions instead of deep-copying them (the same document as `apply_patch`), and
`near_misses` explains no statement that misses on two elements (the same near misses).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose import near_misses, remedies, verification
from chalicelib.diagnose.patches import apply_patch
from chalicelib.engine import decide, evaluate, resolve_principal
from chalicelib.engine.evidence import principal_evidence
from chalicelib.model import AccessRequest, DiagnoserError, Operation
from chalicelib.request import principal_from_arn, request_from_runbook
from chalicelib.snapshot import load_snapshot
from tests.unit.engine.casefile import request_from_case

from .diagnose_builders import patched_both_ways
from .scenarios import load_scenario, scenario_paths

PATHS = scenario_paths()
CASE_FILES = sorted((Path(__file__).resolve().parents[2] / "data" / "cases").rglob("*.json"))
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                     "Resource": "*"}]}  # fmt: skip
OPEN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                "Action": "*", "Resource": "*"}]}  # fmt: skip
EMPTY = {"Version": "2012-10-17", "Statement": []}
INLINE = (("user", "UserDetailList", "UserName", "UserPolicyList"),
          ("role", "RoleDetailList", "RoleName", "RolePolicyList"),
          ("group", "GroupDetailList", "GroupName", "GroupPolicyList"))  # fmt: skip


def _sides(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(inline id prefix, IAM) of the snapshot's account and of each other account's side."""
    if isinstance(document.get("iam"), Mapping):
        yield "inline:", document["iam"]
    for account, side in (document.get("accounts") or {}).items():
        if isinstance(side, Mapping) and isinstance(side.get("iam"), Mapping):
            yield f"inline:{account}:", side["iam"]


def patches(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Patches of every kind the snapshot offers a place for."""
    out: list[dict[str, Any]] = []
    for prefix, iam in _sides(document):
        for kind, table, name_key, list_key in INLINE:
            for entity in iam.get(table) or ():
                if not isinstance(entity, Mapping):
                    continue
                name = entity.get(name_key)
                out.append(_policy(f"{prefix}{kind}/{name}/s3doctor-new", ALLOW_ALL))
                for item in entity.get(list_key) or ():
                    if isinstance(item, Mapping):
                        policy = f"{prefix}{kind}/{name}/{item.get('PolicyName')}"
                        out += [_policy(policy, ALLOW_ALL), _policy(policy, EMPTY)]
        for item in iam.get("Policies") or ():
            if isinstance(item, Mapping) and isinstance(item.get("Arn"), str):
                out += [_policy(item["Arn"], ALLOW_ALL), _policy(item["Arn"], EMPTY)]
    for bucket in (document.get("s3") or {}).get("buckets") or {}:
        out += [_policy(f"bucket-policy:{bucket}", OPEN), _policy(f"bucket-policy:{bucket}", EMPTY)]
        out.append(
            {"kind": "ownership", "bucket": bucket, "object_ownership": "BucketOwnerEnforced"}
        )
    for key in (document.get("kms") or {}).get("keys") or {}:
        out.append(_policy(f"key-policy:{key}", OPEN))
    for endpoint in document.get("vpc_endpoints") or {}:
        out.append(_policy(f"vpce-policy:{endpoint}", OPEN))
    scp = "arn:aws:organizations::111122223333:policy/o-example/service_control_policy/p-x"
    out.append(_policy(scp, ALLOW_ALL))  # no IAM policy of that ARN: refused, never applied
    out.append({"kind": "request", "context": {"aws:SecureTransport": ["true"]}})
    return out


def _policy(policy_id: str, document: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": "policy", "policy": policy_id, "document": copy.deepcopy(dict(document))}


def neighbours(request: AccessRequest, document: Mapping[str, Any]) -> list[AccessRequest]:
    """The request, with another key, with another action, and by each user and role."""
    out = [request]
    op = request.operations[0]
    if len(request.operations) == 1 and op.bucket is not None:
        if op.key is not None:
            arn = f"arn:aws:s3:::{op.bucket}/elsewhere/other.csv"
            out.append(_with_op(request, replace(op, resource_arn=arn, key="elsewhere/other.csv")))
            out.append(_with_op(request, replace(op, action="s3:PutObject", version_id=None)))
        else:
            out.append(_with_op(request, replace(op, action="s3:GetBucketPolicy")))
    account = request.principal.account_id
    for _prefix, iam in _sides(document):
        for kind, table, _name, _list in INLINE[:2]:
            for entity in iam.get(table) or ():
                arn = entity.get("Arn") if isinstance(entity, Mapping) else None
                if isinstance(arn, str) and arn.startswith("arn:aws:iam::"):
                    principal = principal_from_arn(arn)
                    if principal.account_id == account or kind == "user":
                        out.append(replace(request, principal=principal, session_policy=None))
    return out


def _with_op(request: AccessRequest, op: Operation) -> AccessRequest:
    return replace(request, operations=(op,), kms_key_arn=None)


def worlds() -> Iterator[Any]:
    for path in PATHS:
        yield pytest.param(path, id=path.name)
    for path in CASE_FILES:
        yield pytest.param(path, id=f"cases/{path.stem}")


def _world(path: Path) -> list[tuple[AccessRequest, dict[str, Any]]]:
    if path.is_dir():
        scenario = load_scenario(path)
        document = json.loads((path / "snapshot.json").read_text(encoding="utf-8"))
        return [(scenario.request, document)]
    cases = json.loads(path.read_text(encoding="utf-8"))["cases"]
    return [(request_from_case(c["request"]), c["snapshot"]) for c in cases if not c.get("xfail")]


def _fixes(request: AccessRequest, document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The patches of the findings' own remedies."""
    try:
        finding = pipeline.diagnose(request, load_snapshot(copy.deepcopy(dict(document))))
    except DiagnoserError:
        return []
    return [dict(r.patch) for r in finding.remedies if r.patch is not None]


def _load(document: Mapping[str, Any], patch: Mapping[str, Any]) -> Any:
    try:
        return load_snapshot(apply_patch(document, patch))
    except DiagnoserError:
        return None  # the patch does not apply: `_reevaluate` stops before any probe


def _decision(request: AccessRequest, snapshot: Any) -> Any:
    try:
        return evaluate(request, snapshot)
    except DiagnoserError as error:
        return type(error), str(error)


@pytest.mark.parametrize("path", list(worlds()))
def test_unaffected_probe_keeps_its_whole_decision(path: Path) -> None:
    claims = 0
    for original, document in _world(path):
        base = load_snapshot(copy.deepcopy(document))
        requests = neighbours(original, document)
        every = patches(document) + [p for r in requests[:3] for p in _fixes(r, document)]
        for patch in every:
            patched = _load(document, patch)
            if patched is None:
                continue
            for request in requests:
                claims += _check_probes(request, base, patched, document, patch)
    assert claims or path.is_dir(), "the criterion was never put to the test here"


def _check_probes(
    request: AccessRequest,
    base: Any,
    patched: Any,
    document: Mapping[str, Any],
    patch: Mapping[str, Any],
) -> int:
    claims = 0
    for probe in remedies._probes(request):
        if verification.unaffected(base, probe, patch):
            claims += 1
            assert _decision(probe, patched) == _decision(probe, base), (probe, patch)
    granted = remedies.probe_with_grants(request, evaluate(request, base))
    if granted is not None and verification.absent_principal(base, granted[0], patch):
        claims += 1
        probe, statements = granted
        account = probe.principal.account_id
        before = remedies.with_probe_user(base.document, statements, account)
        after = remedies.with_probe_user(patched.document, statements, account)
        if before is not None and after is not None:
            assert _decision(probe, load_snapshot(after)) == _decision(
                probe, load_snapshot(before)
            ), (probe, patch)
    return claims


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_findings_equal_without_the_criterion(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(path)
    document = json.loads((path / "snapshot.json").read_text(encoding="utf-8"))
    requests = neighbours(scenario.request, document)
    answers = {}
    for enabled in (True, False):
        monkeypatch.setattr(verification, "ENABLED", enabled)
        shared = load_snapshot(copy.deepcopy(document))
        answers[enabled] = [_finding(r, shared) for r in requests * 2]
    assert answers[True] == answers[False]


def _finding(request: AccessRequest, snapshot: Any) -> dict[str, Any]:
    try:
        return pipeline.diagnose(request, snapshot, finding_id="verification").to_dict()
    except Exception as error:  # the same error either way
        return {"error": f"{type(error).__name__}: {error}"}


# --------------------------------------------------------------------------- shared policies

ACCOUNT = "111122223333"
NEAR = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::example-bucket/data"}


def _user(name: str, **extra: Any) -> dict[str, Any]:
    return {"UserName": name, "UserId": f"AIDA{name.upper()[:12]:0<12}", "Path": "/",
            "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "GroupList": [],
            "UserPolicyList": [], "AttachedManagedPolicies": [], **extra}  # fmt: skip


def _shared_world(how: str) -> dict[str, Any]:
    """alice and the stranger probe's user `s3doctor-probe` share the policy that nearly
    grants alice's GetObject (a Resource without `/*`): through a group, or a managed policy."""
    document = {"Version": "2012-10-17", "Statement": [NEAR]}
    groups: list[dict[str, Any]] = []
    policies: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    if how == "group":
        groups = [{"GroupName": "team", "Arn": f"arn:aws:iam::{ACCOUNT}:group/team",
                   "GroupPolicyList": [{"PolicyName": "read", "PolicyDocument": document}],
                   "AttachedManagedPolicies": []}]  # fmt: skip
        extra = {"GroupList": ["team"]}
    else:
        arn = f"arn:aws:iam::{ACCOUNT}:policy/read"
        policies = [{"PolicyName": "read", "Arn": arn, "DefaultVersionId": "v1",
                     "PolicyVersionList": [{"VersionId": "v1", "IsDefaultVersion": True,
                                            "Document": document}]}]  # fmt: skip
        extra = {"AttachedManagedPolicies": [{"PolicyName": "read", "PolicyArn": arn}]}
    users = [_user("alice", **extra), _user("s3doctor-probe", **extra)]
    return {
        "account_id": ACCOUNT,
        "region": "us-east-1",
        "iam": {"UserDetailList": users, "GroupDetailList": groups, "RoleDetailList": [],
                "Policies": policies},
        "s3": {"buckets": {"example-bucket": {"owner": {"ID": "a" * 64}}}},
    }  # fmt: skip


ALICE_READS = {
    "requester_arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "action": "s3:GetObject",
    "resource_arn": "arn:aws:s3:::example-bucket/data/report.csv",
}


@pytest.mark.parametrize("how", ["group", "managed"])
def test_a_fix_the_stranger_shares_is_checked_and_dropped(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = _shared_world(how)
    request = request_from_runbook(ALICE_READS)
    answers = {}
    for enabled in (True, False):
        monkeypatch.setattr(verification, "ENABLED", enabled)
        answers[enabled] = pipeline.diagnose(request, load_snapshot(copy.deepcopy(document)))
    assert answers[True].to_dict() == answers[False].to_dict()
    monkeypatch.setattr(verification, "ENABLED", True)
    codes = [(r.code, r.target) for r in answers[True].remedies]
    # The corrected shared statement would let the stranger in too: never proposed.
    assert not any(code == "FIX_STATEMENT" for code, _ in codes), codes
    assert any(code == "ADD_IDENTITY_STATEMENT" for code, _ in codes), codes
    # ...because the criterion said the stranger reads the patched policy.
    base = load_snapshot(copy.deepcopy(document))
    policy = "inline:group/team/read" if how == "group" else f"arn:aws:iam::{ACCOUNT}:policy/read"
    stranger = remedies._probes(request)[-1]
    assert not verification.unaffected(base, stranger, _policy(policy, EMPTY))
    assert verification.unaffected(base, stranger, _policy("inline:user/alice/new", EMPTY))


def test_a_user_of_the_granted_probe_name_gets_the_full_check() -> None:
    document = _shared_world("group")
    document["iam"]["UserDetailList"].append(_user(remedies.GRANTED_PROBE))
    base = load_snapshot(document)
    request = request_from_runbook(ALICE_READS)
    probe, _ = remedies.probe_with_grants(request, evaluate(request, base)) or (None, None)
    assert probe is not None
    assert not verification.absent_principal(base, probe, _policy("inline:user/alice/x", EMPTY))
    fresh = load_snapshot(_shared_world("group"))
    assert verification.absent_principal(fresh, probe, _policy("inline:user/alice/x", EMPTY))
    assert not verification.absent_principal(fresh, probe, _policy("bucket-policy:b", OPEN))


# --------------------------------------------------------------------------- the other shortcuts


@pytest.mark.parametrize("path", list(worlds()))
def test_shared_patches_equal_deep_copied_ones(path: Path) -> None:
    """`apply_patch_shared` (a managed policy's versions copied, not deep-copied) gives the
    document `apply_patch` gives, for every patch of every kind, and changes no original."""
    for _request, document in _world(path):
        before = copy.deepcopy(document)
        for patch in patches(document):
            expected, shared = patched_both_ways(document, patch)
            assert shared == expected, patch
        assert document == before


@pytest.mark.parametrize("path", list(worlds()))
def test_near_misses_equal_with_every_statement_explained(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statements that miss on two elements are skipped unexplained: the same near misses."""
    for original, document in _world(path):
        snapshot = load_snapshot(copy.deepcopy(document))
        requests = neighbours(original, document)
        decisions = [_decision(r, snapshot) for r in requests]
        answers = {}
        for skipping in (True, False):
            if not skipping:
                monkeypatch.setattr(near_misses, "_fails_twice", lambda *args: False)
            answers[skipping] = [
                near_misses.find_near_misses(r, snapshot, d) if not isinstance(d, tuple) else d
                for r, d in zip(requests, decisions, strict=True)
            ]
        monkeypatch.undo()
        assert answers[True] == answers[False]


# --------------------------------------------------------------------------- twins


def _family(request: AccessRequest, document: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """Families of patches of one identity policy of the requester: its statements with their
    Resource set to each of several forms (twins), and with another Action or Effect (not)."""
    op = request.operations[0]
    bucket = op.bucket or "example-bucket"
    forms = [op.resource_arn, f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}/data/*", "*",
             "arn:aws:s3:::another-bucket/*", [op.resource_arn, "arn:aws:s3:::x/y"]]  # fmt: skip
    snapshot = load_snapshot(copy.deepcopy(dict(document)))
    principal = resolve_principal(request, snapshot).principal
    evidence = principal_evidence(snapshot, principal)
    families = []
    if evidence.entity is not None:
        policy_id = f"inline:{evidence.entity.kind}/{evidence.entity.name}/s3doctor-twin"
        grant = {"Sid": "S3DoctorTwin", "Effect": "Allow", "Action": op.action}
        families.append(
            [_policy(policy_id, {"Version": "2012-10-17", "Statement": [{**grant, "Resource": f}]})
             for f in forms]
            + [_policy(policy_id, {"Version": "2012-10-17",
                                   "Statement": [{**grant, "Action": "s3:*", "Resource": "*"}]}),
               _policy(policy_id, {"Version": "2012-10-17",
                                   "Statement": [{**grant, "Effect": "Deny", "Resource": "*"}]})]
        )  # fmt: skip
    for source in evidence.identity[:2]:
        if source.compiled is None or not source.compiled.raw.get("Statement"):
            continue
        raw = dict(source.compiled.raw)
        statements = raw["Statement"] if isinstance(raw["Statement"], list) else [raw["Statement"]]
        if not all(isinstance(st, Mapping) and "Resource" in st for st in statements):
            continue
        family = []
        for form in forms:
            changed = [dict(statements[0], Resource=form), *statements[1:]]
            family.append(_policy(source.policy_id, {**raw, "Statement": changed}))
        family.append(_policy(source.policy_id, {**raw, "Statement": statements[1:]}))
        families.append(family)
    return families


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_twins_that_answer_alike_are_decided_alike(path: Path) -> None:
    scenario = load_scenario(path)
    document = json.loads((path / "snapshot.json").read_text(encoding="utf-8"))
    base = load_snapshot(copy.deepcopy(document))
    claims = 0
    for request in neighbours(scenario.request, document)[:3]:
        probes = [request, *remedies._probes(request)]
        for family in _family(request, document):
            loaded = [(p, _load(document, p)) for p in family]
            for patch, patched in loaded:
                for twin, twin_patched in loaded[:3]:
                    if patched is None or twin_patched is None or patch is twin:
                        continue
                    for probe in probes:
                        if verification.same_answers(twin_patched, [probe], patch, twin):
                            claims += 1
                            assert decide(probe, patched) == decide(probe, twin_patched)
                            assert _decision(probe, patched) == _decision(probe, twin_patched)
                        elif not verification.twins(patch, twin):
                            assert not verification.same_answers(base, [probe], patch, twin)
    assert claims or not _family(scenario.request, document)


def test_twins_are_patches_that_differ_in_resource_alone() -> None:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k"}
    one = _policy("inline:user/alice/p", {"Version": "2012-10-17", "Statement": [statement]})
    prefix = copy.deepcopy(one)
    prefix["document"]["Statement"][0]["Resource"] = ["arn:aws:s3:::b/*"]
    assert verification.twins(one, prefix) and verification.twins(prefix, one)
    for path, value in (("Action", "s3:*"), ("Effect", "Deny"), ("Sid", "X")):
        other = copy.deepcopy(prefix)
        other["document"]["Statement"][0][path] = value
        assert not verification.twins(one, other) and not verification.twins(other, one)
    elsewhere = dict(prefix, policy="inline:user/bob/p")
    assert not verification.twins(one, elsewhere)
    no_resource = copy.deepcopy(one)
    no_resource["document"]["Statement"][0]["NotResource"] = no_resource["document"]["Statement"][
        0
    ].pop("Resource")
    assert not verification.twins(no_resource, no_resource)


def test_twins_share_the_policys_own_statements_and_differ_in_the_one_a_fix_adds() -> None:
    """Patches built on one document share its statements (objects): those are equal as they
    stand, and a shared statement without Resource still makes no twins."""
    own = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
    grant = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k"}

    def adding(statement: Any, *, shared: Any = own, **document: Any) -> dict[str, Any]:
        statements = [shared, statement]
        document = {"Version": "2012-10-17", **document, "Statement": statements}
        return {"kind": "policy", "policy": "inline:user/alice/p", "document": document}

    one, prefix = adding(grant), adding({**grant, "Resource": "arn:aws:s3:::b/*"})
    assert verification.twins(one, prefix) and verification.twins(one, one)
    assert not verification.twins(one, adding({**grant, "Action": "s3:*"}))
    assert not verification.twins(one, adding(grant, Version="2008-10-17"))
    assert not verification.twins(one, adding(grant, Id="x"))
    assert not verification.twins(one, dict(prefix, policy="inline:user/bob/p"))
    assert not verification.twins(one, {**prefix, "document": {**prefix["document"],
                                                               "Statement": [grant]}})  # fmt: skip
    not_resource = {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::b/*"}
    assert not verification.twins(
        adding(grant, shared=not_resource), adding(grant, shared=not_resource)
    )


def test_twins_reading_the_context_in_resource_are_matched_with_the_requests_own() -> None:
    """A twin's Resource with a policy variable is matched with the request's own context, on
    the scans its shape's verdict tree remembers."""
    grant = {"Effect": "Allow", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::example-bucket/${aws:username}/*"}  # fmt: skip
    one = {**grant, "Resource": "arn:aws:s3:::example-bucket/${aws:username}/x"}
    twin = _policy("inline:user/alice/grant", {"Version": "2012-10-17", "Statement": [grant]})
    patch = _policy("inline:user/alice/grant", {"Version": "2012-10-17", "Statement": [one]})
    snapshot = load_snapshot(apply_patch(_shared_world("group"), twin))
    request = request_from_runbook(
        {**ALICE_READS, "resource_arn": "arn:aws:s3:::example-bucket/alice/y"}
    )
    for _ in range(3):  # the shape's tree grown, then walked
        decide(request, snapshot)
    assert verification.remembered_scans(resolve_principal(request, snapshot), snapshot)
    # alice/y: the folder grant matches it, the one-object grant does not.
    assert not verification.same_answers(snapshot, [request], patch, twin)


@pytest.mark.parametrize("names_user_id", [False, True], ids=["plain", "aws:userid"])
def test_a_patched_snapshot_resolves_as_its_own_where_the_patch_names_a_key_resolution_reads(
    names_user_id: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN alice's GetObject, which no policy grants, and a grant in her inline policy, with
    # a condition on her aws:userid (which resolution adds only where a policy names the key)
    # or without
    grant: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject",
                             "Resource": "arn:aws:s3:::example-bucket/*"}  # fmt: skip
    if names_user_id:
        grant["Condition"] = {"StringEquals": {"aws:userid": "AIDAALICE0000000"}}
    document = {"Version": "2012-10-17", "Statement": [grant]}
    patch = {"kind": "policy", "policy": "inline:user/alice/grant", "document": document}
    world = _shared_world("group")
    answers, shared = {}, []
    # WHEN the grant is verified for her request as given, with the caches on and off
    for cache in (True, False):
        monkeypatch.setattr(remedies, "CACHE", cache)
        base = load_snapshot(copy.deepcopy(world))
        answers[cache] = remedies._reevaluate(request_from_runbook(ALICE_READS), base, patch)
        patched = remedies._patched(base, patch, remedies._canonical_of(patch))
        shared.append(patched.resolved is base.resolved)
    # THEN it lets her in either way (her aws:userid added on the patched snapshot); only a
    # patch that names no such key shares the snapshot's resolutions
    assert answers[True] == answers[False] and answers[True][0]
    assert shared == [not names_user_id, False]
