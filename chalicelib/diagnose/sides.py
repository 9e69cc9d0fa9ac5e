"""Which account each part of a finding belongs to, when more than one account was judged.

A cross-account request whose requester's account is in the snapshot (`accounts.<id>`) is
judged on both sides: the requester's account decides its identity policies, boundary, session
policy and SCPs; the bucket's account its bucket policy, ACLs, Block Public Access and RCPs; a
KMS key's account its key policy, grants and RCPs. Causes and fixes then say which account
they are about, and a fix says whose credentials run its command. With one account judged (the
requester's account absent from the snapshot) nothing is labelled, as before. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.resolve import foreign_bucket_account
from ..lean_dataclass import dataclass
from ..model import AccessRequest, Decision, Evaluation, Layer
from ..snapshot import Snapshot
from .patches import policy_account

# Layers the requester's own account decides.
REQUESTER_LAYERS = frozenset(
    {Layer.IDENTITY_POLICY, Layer.PERMISSIONS_BOUNDARY, Layer.SESSION_POLICY, Layer.SCP}
)
# Layers of no account's policies in particular (the endpoint is in the caller's network).
UNSIDED_LAYERS = frozenset({Layer.VPC_ENDPOINT_POLICY})


@dataclass(frozen=True, slots=True, kw_only=True)
class Sides:
    """The accounts of one request: the requester's, the bucket's; `labelled` when the finding
    names them (more than one account was judged)."""

    requester: str | None
    bucket: str
    both: bool  # a cross-account request judged on both sides
    requester_only: bool = False  # on a bucket the snapshot does not hold: the requester's side
    labelled: bool

    def requester_side_reason(self) -> str:
        """The scope sentence of a request on a bucket of an account the snapshot does not
        cover (`engine.resolve.foreign_bucket_account`): the requester's side alone."""
        return (
            f"the requester is in account {self.requester}, the bucket in {self.bucket}: "
            f"judged on the requester's side only (identity policies, boundary, session "
            f"policy, SCPs); the bucket account {self.bucket}'s bucket policy, ACLs and Block "
            "Public Access are not in the snapshot, and must also grant the request"
        )

    def scope_reason(self) -> str:
        """The scope sentence of a cross-account request judged on both sides."""
        return (
            f"the requester is in account {self.requester}, the bucket in {self.bucket}: "
            f"judged on both sides (the requester's account {self.requester}: identity "
            "policies, boundary, session policy, SCPs; the bucket account "
            f"{self.bucket}: bucket policy, ACLs, Block Public Access, RCPs)"
        )

    def label(self, account: str | None) -> str | None:
        """ "The requester's account X", "Bucket account Y" or "Key account Z"."""
        if not self.labelled or not account:
            return None
        if account == self.requester == self.bucket:
            return f"Account {account}"
        if account == self.requester:
            return f"The requester's account {account}"
        if account == self.bucket:
            return f"Bucket account {account}"
        return f"Key account {account}"

    def layer_account(self, layer: Layer | None, evaluation: Evaluation | None) -> str | None:
        """The account whose policy a layer of an evaluation is (None: no one account's)."""
        if layer is None or layer in UNSIDED_LAYERS:
            return None
        if layer in REQUESTER_LAYERS:
            return self.requester
        if evaluation is not None and evaluation.action.lower().startswith("kms:"):
            return _arn_account(evaluation.resource_arn) or self.bucket
        if layer is Layer.ACCESS_POINT_POLICY and evaluation is not None:
            return _arn_account(evaluation.resource_arn) or self.bucket  # the access point's
        return self.bucket

    def patch_account(self, patch: Mapping[str, Any] | None, doc: Mapping[str, Any]) -> str | None:
        """The account whose credentials apply a patch (None: the requester's request)."""
        if patch is None:
            return None
        kind = patch.get("kind")
        if kind == "session-policy":
            return self.requester
        if kind in ("ownership", "abac"):
            return self.bucket
        if kind == "key-tag":
            return _arn_account(str(patch.get("key", ""))) or self.bucket
        if kind != "policy":
            return None
        policy_id = str(patch.get("policy", ""))
        if policy_id.startswith("key-policy:"):
            return _arn_account(policy_id.partition(":")[2]) or self.bucket
        if policy_id.startswith(("inline:", "arn:")):  # IAM: the snapshot's, unless a side's
            return policy_account(doc, policy_id) or str(doc.get("account_id") or self.bucket)
        return self.bucket


def sides_of(request: AccessRequest, snapshot: Snapshot, decision: Decision) -> Sides:
    """The accounts of `request`; labelled when the requester's side, or a KMS key of a third
    account, was judged along with the bucket account."""
    requester = request.principal.account_id
    foreign = foreign_bucket_account(request, snapshot)
    bucket = foreign or snapshot.account_id
    both = (
        not foreign
        and bool(requester)
        and requester != bucket
        and snapshot.side(requester) is not None
    )
    keys = {
        _arn_account(e.resource_arn)
        for e in decision.evaluations
        if e.action.lower().startswith("kms:")
    }
    third = any(k not in (None, bucket, requester) for k in keys)
    labelled = both or third or bool(foreign)
    return Sides(
        requester=requester,
        bucket=bucket,
        both=both,
        labelled=labelled,
        requester_only=bool(foreign),
    )


def labelled_text(label: str | None, text: str) -> str:
    """`text` under an account label: "Bucket account Y: add ..."."""
    if label is None or not text:
        return text
    return f"{label}: {text[0].lower()}{text[1:]}" if _lowerable(text) else f"{label}: {text}"


def credentials_note(account: str | None) -> str:
    """Which account's credentials run a fix's command (a note, never part of the command)."""
    return f" Run it with credentials of account {account}." if account else ""


def _lowerable(text: str) -> bool:
    """A sentence that starts with an ordinary word (not an ARN, an id or a name)."""
    first = text.split(" ", 1)[0]
    return first.isalpha() and first[:1].isupper() and (len(first) == 1 or first[1:].islower())


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None
