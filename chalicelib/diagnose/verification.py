"""Which probes of a fix the fix cannot affect: their verdict is the one they had before it.

Fix verification (`remedies._reevaluate`) asks whether a patch lets a probe through that was
refused before: another principal of the account, one whose identity already allows the
request. A probe the patch cannot affect keeps its verdict, so the answer is no without loading
or evaluating anything.

A patch of an identity policy changes one policy document: an inline policy of one IAM user,
group or role (`inline:...`, added or replaced), or the default version of one managed policy
(an IAM policy ARN). It adds or removes no user, role, group, attachment, boundary, bucket,
key or organization (`patches.apply_patch`). The engine reads identity policies in one place,
the principal evidence of the request's own principal (`engine.evidence.principal_evidence`,
taken once per request in `evaluate._run`): the inline policies of that user or role and of
the user's groups, and the managed policies they attach and the boundary, by ARN. So when the
engine's evidence for the probe's principal (as it resolves it) on the unpatched snapshot is
read from no entity that holds the patched inline policy and lists no patched managed policy,
every part of the snapshot its decision reads is the same after the patch: same verdict.
Anything else (another kind of patch, an evidence the engine could not take) is checked in full.
Pure: no boto3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine import resolve_principal
from ..engine.evidence import PrincipalEvidence, principal_evidence
from ..model import AccessRequest, Principal
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
    evidence = _evidence(snapshot, resolve_principal(probe, snapshot).principal)
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
    principal = resolve_principal(probe, snapshot).principal
    if _evidence(snapshot, principal).exists is not False:
        return False
    kind, _, name = principal.principal_arn.split(":", 5)[-1].partition("/")
    return kind == "user" and changed != ("inline", "user", name.rsplit("/", 1)[-1])


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


def _evidence(snapshot: Snapshot, principal: Principal) -> PrincipalEvidence:
    """The engine's evidence for `principal` (kept on the snapshot)."""
    evidence: PrincipalEvidence = snapshot.cached(
        ("verification-evidence", principal), lambda: principal_evidence(snapshot, principal)
    )
    return evidence
