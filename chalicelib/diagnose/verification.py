"""What a fix cannot change, proved from what the engine reads, so it is not re-run.

Fix verification (`remedies._reevaluate`) asks whether the request is allowed with a patch, and
whether the patch lets a probe through that was refused before: the same action on another
bucket, another principal of the account, one whose identity already allows the request. A
probe the patch cannot affect keeps its verdict, so the answer is no without loading or
evaluating anything; and a patch that differs from its twin in Resource values alone is
answered as the twin is, where every scan answers alike.

A patch of an identity policy changes one policy document: an inline policy of one IAM user,
group or role (`inline:...`, added or replaced), or the default version of one managed policy
(an IAM policy ARN). It adds or removes no user, role, group, attachment, boundary, bucket,
key or organization (`patches.apply_patch`). The engine reads identity policies in one place,
the principal evidence of the request's own principal (`engine.evidence.kept_evidence`,
taken in `evaluate._run`, the one read here): the inline policies of that user or role and of
the user's groups, and the managed policies they attach and the boundary, by ARN. So when the
engine's evidence for the probe's principal (as it resolves it) on the unpatched snapshot is
read from no entity that holds the patched inline policy and lists no patched managed policy,
every part of the snapshot its decision reads is the same after the patch: same verdict.

Twins. Two patches of one identity policy whose documents differ in Resource values alone (a
grant on the exact key and on its prefix, a statement corrected with either) are decided alike
wherever each statement of the one answers every scan as the same statement of the other: an
identity-type scan (`hits.scan`, no Principal element) takes the statements whose Action covers
its action and keeps those whose Resource matches; the statements' references (policy, index,
Sid, effect) and conditions are the same. So when the engine's full decision of a request on
the snapshot patched with the twin reads the patched document there (its evidence lists it, as
patched) and every identity-type scan it makes (`hits.scans_of`) gets the same Action and
Resource answers from both documents' statements, the decision with this patch takes the same
path to the same verdict, without loading that snapshot (`same_answers`). The scans are those
the verdict tree of the request's shape on that snapshot remembers, when it answers (each
with the request's own key-bearing resource and context); else the decision is made anew to
record them.

Anything else (another kind of patch, an evidence the engine could not take) is checked in full.
Pure: no boto3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..engine import resolve_principal
from ..engine.evaluate import decide_in_full
from ..engine.evidence import PrincipalEvidence, kept_evidence
from ..engine.hits import Scan, scans_of
from ..engine.policy import CompiledPolicy, CompiledStatement, with_resource
from ..engine.resolve import resolved_principal
from ..engine.verdict_cache import remembered_scans
from ..model import AccessRequest, MalformedPolicyError
from ..snapshot import Snapshot, Unreadable
from .patches import split_inline

ENABLED = True  # False: every probe is decided on the patched snapshot (the proof tests)


def unaffected(snapshot: Snapshot, probe: AccessRequest, patch: Mapping[str, Any]) -> bool:
    """The patch cannot change the verdict of `probe` (on `snapshot`, before the patch)."""
    if not ENABLED:
        return False
    changed = identity_policy(patch)
    if changed is None:
        return False
    evidence = kept_evidence(snapshot, resolved_principal(probe, snapshot))
    if evidence.exists is None:
        return False  # the IAM of the probe's account is not (wholly) readable: no claim
    return not _reads(evidence, changed)


def absent_principal(snapshot: Snapshot, probe: AccessRequest, patch: Mapping[str, Any]) -> bool:
    """The patch cannot change the verdict of `probe` on `snapshot` with the probe's user added
    (`remedies.with_probe_user`: one inline policy, no group, managed policy nor boundary).

    Only when the engine finds no user of the probe's name in its account's IAM (readable):
    then the added user is the only one, and its evidence reads its own inline policies alone.
    """
    if not ENABLED:
        return False
    changed = identity_policy(patch)
    if changed is None:
        return False
    principal = resolved_principal(probe, snapshot)
    if kept_evidence(snapshot, principal).exists is not False:
        return False
    kind, _, name = principal.principal_arn.split(":", 5)[-1].partition("/")
    return kind == "user" and changed != ("inline", "user", name.rsplit("/", 1)[-1])


def twins(patch: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Patches of one identity policy whose documents differ in statements' Resource alone
    (equal as JSON with each statement's Resource left out; a statement without Resource: no).

    A statement both documents share (one object: the policy's own, beside the one a fix adds
    or changes) is equal as it stands; only the others are written out to compare."""
    if patch.get("policy") != other.get("policy") or set(patch) != set(other):
        return False
    if identity_policy(patch) is None:
        return False
    document, theirs = patch.get("document"), other.get("document")
    if not (isinstance(document, Mapping) and isinstance(theirs, Mapping)):
        return False
    statements, their_statements = document.get("Statement"), theirs.get("Statement")
    if not (isinstance(statements, list) and isinstance(their_statements, list)):
        return False
    if len(statements) != len(their_statements) or set(document) != set(theirs):
        return False
    if not all(isinstance(st, Mapping) and "Resource" in st for st in statements):
        return False
    if not all(_same(patch[key], other[key]) for key in patch if key != "document"):
        return False
    if not all(_same(document[key], theirs[key]) for key in document if key != "Statement"):
        return False
    return all(
        mine is their or _alike_but_resource(mine, their)
        for mine, their in zip(statements, their_statements, strict=True)
    )


def _same(mine: Any, theirs: Any) -> bool:
    """Equal as JSON: one value, two equal strings or lists of strings, or the same text."""
    if mine is theirs or (type(mine) is str and type(theirs) is str):
        return bool(mine == theirs)
    if type(mine) is list and type(theirs) is list and _strings(mine) and _strings(theirs):
        return bool(mine == theirs)
    return _json(mine) == _json(theirs) is not None


def _strings(values: list[Any]) -> bool:
    return all(type(value) is str for value in values)


def _alike_but_resource(mine: Any, theirs: Any) -> bool:
    """Two statements with Resource, equal as JSON with it left out."""
    if not (isinstance(mine, Mapping) and isinstance(theirs, Mapping)):
        return False
    if "Resource" not in mine or "Resource" not in theirs or set(mine) != set(theirs):
        return False
    return all(_same(value, theirs[key]) for key, value in mine.items() if key != "Resource")


def same_answers(
    twin: Snapshot,
    requests: Sequence[AccessRequest],
    patch: Mapping[str, Any],
    twin_patch: Mapping[str, Any],
    known: bool = False,
) -> bool:
    """Each of `requests` is decided on the snapshot with `patch` as on `twin` (the same
    snapshot with `twin_patch`, a twin of `patch`; `known`: the caller found them `twins`
    already).

    Only the Resource elements that differ are compiled (`policy.with_resource`: the twin's
    compiled statement with this patch's Resource, as the whole document compiles it); the
    other elements and statements are the twin's, as JSON (twins differ in Resource values
    alone).
    """
    if not ENABLED or not (known or twins(patch, twin_patch)):
        return False
    policy_id, statements = patch["policy"], patch["document"]["Statement"]
    pairs = zip(statements, twin_patch["document"]["Statement"], strict=True)
    changed = [
        i
        for i, (mine, theirs) in enumerate(pairs)
        if not _same(mine["Resource"], theirs["Resource"])
    ]
    ours: dict[int, list[CompiledStatement] | None] = {}  # by id of the twin's compiled copy
    for request in requests:
        resolved = resolve_principal(request, twin)
        theirs = _copies(kept_evidence(twin, resolved.principal), policy_id)
        if not theirs or any(policy.raw != twin_patch["document"] for policy in theirs):
            return False  # read elsewhere or not as patched: no claim
        alike: list[tuple[CompiledStatement, CompiledStatement]] = []  # must answer alike
        for policy in theirs:
            if len(policy.statements) != len(statements):
                return False
            if id(policy) not in ours:
                ours[id(policy)] = _statements(policy, statements, changed)
            mine = ours[id(policy)]
            if mine is None:
                return False
            alike += zip(mine, (policy.statements[i] for i in changed), strict=True)
        scans = _scans(twin, resolved)
        if scans is None or not all(_answer_alike(a, b, scans) for a, b in alike):
            return False
    return True


def _scans(twin: Snapshot, request: AccessRequest) -> Sequence[Scan] | None:
    """The identity-type scans of the full decision of `request` on `twin`: those the verdict
    tree of its shape remembers (`verdict_cache.remembered_scans`), else recorded from the
    decision made anew; None when that fails."""
    remembered = remembered_scans(request, twin)
    return remembered if remembered is not None else identity_scans(twin, request)


def _answer_alike(
    mine: CompiledStatement, theirs: CompiledStatement, scans: Sequence[Scan]
) -> bool:
    """The same Resource answers to every scan whose action the statements cover (`mine` is
    `theirs` with another Resource: one Action element)."""
    if mine.matches_every_resource != theirs.matches_every_resource:
        return False
    for action, resource, ctx in scans:
        if theirs.matches_action(action) and mine.matches_resource(
            resource, ctx
        ) != theirs.matches_resource(resource, ctx):
            return False
    return True


def _statements(
    twin: CompiledPolicy, statements: Sequence[Any], indices: list[int]
) -> list[CompiledStatement] | None:
    """The twin's statements at `indices`, with the Resource of `statements` (this patch's);
    None: one is malformed."""
    try:
        return [
            with_resource(twin.statements[i], statements[i], version=twin.version) for i in indices
        ]
    except MalformedPolicyError:
        return None


def _json(value: Any) -> str | None:
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return None


def identity_scans(snapshot: Snapshot, probe: AccessRequest) -> list[Scan] | None:
    """The identity-type scans of the full decision of `probe` on `snapshot`; None when the
    decision fails (no claim then: the full check meets the same failure)."""
    try:
        return scans_of(lambda: decide_in_full(probe, snapshot))[1]
    except Exception:
        return None


def _copies(evidence: PrincipalEvidence, policy_id: str) -> list[CompiledPolicy] | None:
    """The compiled copies of `policy_id` the evidence lists; None when one does not compile."""
    sources = (*evidence.identity, *([evidence.boundary] if evidence.boundary else []))
    found = [source.compiled for source in sources if source.policy_id == policy_id]
    if any(compiled is None for compiled in found):
        return None
    return [compiled for compiled in found if compiled is not None]


def identity_policy(patch: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """What a patch of an identity policy changes: ("inline", entity kind, entity name) or
    ("managed", policy ARN, ""); None for any other patch."""
    if patch.get("kind") != "policy":
        return None
    policy_id = patch.get("policy")
    if not isinstance(policy_id, str):
        return None
    if policy_id.startswith("inline:"):
        _account, kind, name, _policy = split_inline(policy_id)
        return "inline", kind, name
    if policy_id.startswith("arn:") and ":policy/" in policy_id:
        return "managed", policy_id, ""
    return None


def _reads(evidence: PrincipalEvidence, changed: tuple[str, str, str]) -> bool:
    """Whether a decision with this evidence reads the changed policy (in any account: an equal
    name or ARN elsewhere counts too)."""
    what, first, second = changed
    if what == "managed":
        sources = (*evidence.identity, *([evidence.boundary] if evidence.boundary else []))
        return any(source.policy_id == first for source in sources)
    entity = evidence.entity
    if entity is None:
        return False
    owners = {(entity.kind, entity.name)}
    if entity.kind == "user" and not isinstance(entity.groups, Unreadable):
        owners.update(("group", group) for group in entity.groups)
    return (first, second) in owners
