"""Issue 15: the caches of fix verification change no finding.

Differential: for every golden scenario, requests with other object keys (the same key, a
sibling, another prefix) and other context (source IP inside and outside private ranges,
HTTPS or not), each twice, are diagnosed on ONE loaded snapshot with the caches on (patched
snapshots kept per patch and sharing compiled policies, verdicts by `decide`), and each on a
fresh snapshot with the caches off (`remedies.CACHE = False`: deep-copied patched documents,
`evaluate` for every verdict). The findings must be equal, field for field.
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chalicelib import pipeline
from chalicelib.diagnose import remedies
from chalicelib.diagnose.patches import apply_patch
from chalicelib.engine import decide, resolve_principal
from chalicelib.model import AccessRequest, ContextEntry, DiagnoserError
from chalicelib.snapshot import load_snapshot

from .diagnose_builders import patched_both_ways
from .scenarios import load_scenario, scenario_paths

PATHS = scenario_paths()


def _keys(key: str | None) -> list[str | None]:
    if key is None:
        return [None]
    folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return [key, f"{key}-2", f"{folder}sibling.bin", "elsewhere/other.csv", key]


def _with_key(request: AccessRequest, key: str | None) -> AccessRequest:
    first = request.operations[0]
    if key is None or first.key is None or first.bucket is None:
        return request
    arn = f"arn:aws:s3:::{first.bucket}/{key}"
    return replace(request, operations=(replace(first, resource_arn=arn, key=key),))


def _with_context(request: AccessRequest, entries: list[ContextEntry]) -> AccessRequest:
    names = {e.name.lower() for e in entries}
    kept = tuple(e for e in request.context if e.name.lower() not in names)
    return replace(request, context=(*kept, *entries))


CONTEXTS: list[list[ContextEntry]] = [
    [],
    [ContextEntry(name="aws:SourceIp", values=("10.0.0.1",), type="ip")],
    [ContextEntry(name="aws:SourceIp", values=("192.0.2.44",), type="ip")],
    [ContextEntry(name="aws:SecureTransport", values=("false",), type="boolean")],
    [
        ContextEntry(name="aws:SecureTransport", values=("true",), type="boolean"),
        ContextEntry(name="aws:SourceIp", values=("203.0.113.9",), type="ip"),
    ],
]


def variants(request: AccessRequest) -> list[AccessRequest]:
    single = len(request.operations) == 1
    keys = _keys(request.operations[0].key) if single else [None]
    out = []
    for key in keys:
        for entries in CONTEXTS:
            out.append(_with_context(_with_key(request, key), entries))
    return out * 2  # the second round meets every cache warm


def _finding(request: AccessRequest, snapshot: Any) -> dict[str, Any]:
    try:
        return pipeline.diagnose(request, snapshot, finding_id="differential").to_dict()
    except Exception as error:  # the same error either way
        return {"error": f"{type(error).__name__}: {error}"}


@pytest.mark.parametrize("decided", [False, True], ids=["fresh", "decided-before"])
@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_cached_findings_equal_fresh_findings(
    path: Path, decided: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`decided-before`: the shared snapshot has decided every request twice first (a batch at
    --detail decision grows its verdict trees): a patched snapshot must not answer from them."""
    scenario = load_scenario(path)
    document = json.loads((path / "snapshot.json").read_text(encoding="utf-8"))
    requests = variants(scenario.request)
    shared = load_snapshot(copy.deepcopy(document))
    for request in requests if decided else []:
        with contextlib.suppress(DiagnoserError):  # the finding reports it
            decide(resolve_principal(request, shared), shared)
    cached = [_finding(r, shared) for r in requests]
    monkeypatch.setattr(remedies, "CACHE", False)
    fresh = [_finding(r, load_snapshot(copy.deepcopy(document))) for r in requests]
    for request, with_cache, without in zip(requests, cached, fresh, strict=True):
        assert with_cache == without, request
    assert document == json.loads((path / "snapshot.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_shared_patch_equals_deep_copied_patch(path: Path) -> None:
    scenario = load_scenario(path)
    document = scenario.snapshot.document
    before = copy.deepcopy(document)
    patches = [
        r.patch
        for r in scenario.finding().remedies
        if r.patch is not None and r.patch.get("kind") in ("policy", "ownership")
    ]
    for patch in patches:
        expected, shared = patched_both_ways(document, patch)
        assert shared == expected
    assert document == before  # the snapshot's own document is never changed


def test_caches_hit_across_requests_of_one_snapshot() -> None:
    """Two requests answered by the same patch share one patched snapshot."""
    for path in PATHS:
        scenario = load_scenario(path)
        findings = [pipeline.diagnose(r, scenario.snapshot) for r in variants(scenario.request)]
        if any(f.remedies for f in findings):
            store = scenario.snapshot.cached(remedies._STORE, dict)
            if store:
                return
    pytest.fail("no scenario kept a patched snapshot")


def test_granted_probe_is_per_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The granted probe user is granted each request's own resource, cache or not.

    The bucket policy denies data/* to all but alice; the patch drops that Deny, which lets
    another user with an IAM grant read data/report.csv (broader), not other/* (never denied).
    The keys come in an order where a probe granted the previous key would answer wrong."""
    scenario = load_scenario(scenario_paths()[0].parent / "no-identity-allow")
    alice = "arn:aws:iam::111122223333:user/alice"
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::example-bucket/data/*",
        "Condition": {"StringNotEquals": {"aws:PrincipalArn": alice}},
    }
    allow = {
        "Effect": "Allow",
        "Principal": {"AWS": alice},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::example-bucket/*",
    }
    base = apply_patch(
        scenario.snapshot.document,
        {
            "kind": "policy",
            "policy": "bucket-policy:example-bucket",
            "document": {"Version": "2012-10-17", "Statement": [deny]},
        },
    )
    document = {"Version": "2012-10-17", "Statement": [allow]}
    patch = {"kind": "policy", "policy": "bucket-policy:example-bucket", "document": document}
    keys = ("other/file.bin", "data/report.csv", "data/x", "other/y", "data/report.csv")
    answers = {}
    for cache in (False, True):
        monkeypatch.setattr(remedies, "CACHE", cache)
        snapshot = load_snapshot(copy.deepcopy(base))
        answers[cache] = [
            remedies._reevaluate(_with_key(scenario.request, key), snapshot, patch) for key in keys
        ]
    assert answers[True] == answers[False]
    assert [broader for _, broader in answers[False]] == [False, True, False, False, True]


@pytest.mark.parametrize(
    "extra", [{}, {"Tuple": ("a", "b")}, {"NaN": float("nan")}], ids=["json", "tuple", "nan"]
)
def test_a_fix_starts_from_its_own_copy_of_the_policy(extra: dict[str, Any]) -> None:
    """Each fix is built on a copy of the current document equal to a deep copy (parsed from
    its kept text, or deep-copied when the text would not give it back): changing one changes
    neither the next copy nor the snapshot."""
    scenario = load_scenario(scenario_paths()[0].parent / "no-identity-allow")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", **extra}],
    }
    policy = "bucket-policy:example-bucket"
    patch = {"kind": "policy", "policy": policy, "document": document}
    snapshot = load_snapshot(apply_patch(scenario.snapshot.document, patch))
    first = remedies._current(snapshot, policy)
    assert first is not None
    assert json.dumps(first) == json.dumps(document)
    assert type(first["Statement"][0].get("Tuple", ())) is tuple
    first["Statement"].clear()
    second = remedies._current(snapshot, policy)
    assert second is not None and len(second["Statement"]) == 1
    assert remedies.policy_document(snapshot.document, policy) is not None
    assert len(snapshot.document["s3"]["buckets"]["example-bucket"]["policy"]["Statement"]) == 1
    assert remedies._current(snapshot, "bucket-policy:no-such-bucket") is None
