"""A policy patch's document is written once: its canonical key (which keys the patched
snapshots) is written around it and the fix's command reads it back. Both must be the texts
written on their own, whatever the document and the policy name hold."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.diagnose.patches import document_text
from chalicelib.diagnose.remedies import Probes, _canonical, _canonical_of

HOSTILE_ID = 'inline:user/a","kind":"x/p'
DOCUMENTS: list[Any] = [
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]},
    {"Statement": [{"kind": ',"kind":"policy"', "Resource": ["é", "\u2028"], "n": float("nan")}]},
    {},
]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("policy", ["arn:aws:iam::111122223333:policy/P", HOSTILE_ID])
def test_the_key_and_the_command_text_are_those_written_alone(document: Any, policy: str) -> None:
    patch = {"kind": "policy", "policy": policy, "document": document}

    assert _canonical_of(patch) == _canonical(patch)
    assert Probes(request=None, decision=None).document_text(patch) == document_text(document)


def test_other_patches_keep_their_own_key_and_give_no_text() -> None:
    ownership = {"kind": "ownership", "bucket": "b", "object_ownership": "BucketOwnerEnforced"}
    extra = {"kind": "policy", "policy": "p", "document": {}, "note": "x"}
    for patch in (ownership, extra):
        assert _canonical_of(patch) == _canonical(patch)
        assert Probes(request=None, decision=None).document_text(patch) is None
    assert _canonical_of({"kind": "policy", "policy": "p", "document": {"a": {1}}}) is None
