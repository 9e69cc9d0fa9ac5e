"""Issue 15, replay-like batches: each line of a replay (its own key, source IP and times), some
broken the ways a replay breaks (a value, a name, a type, an entry, the resource, the
requester), gets from `diagnose --batch` the answer the full path gives it alone: the request
the full check builds (no template known) decided by `evaluate`, or that check's error."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from bench.bench_workloads import request
from bench.engine_fixture import snapshot
from chalicelib.cli import main
from chalicelib.engine import evaluate
from chalicelib.model import InputError
from chalicelib.request import _TEMPLATES, request_from_runbook
from chalicelib.snapshot import load_snapshot

VALUES: list[Any] = [
    "10.1.2.3", "10.1.2.300", "::1", "10.0.0.0/8", "1764000007", "nan", "true", "FALSE", "yes",
    "2025-11-24T16:00:07Z", "2025-13-01", "", "\n", "a\u0000b", 7, None, True, ["x"], {"a": 1},
]  # fmt: skip


def _broken(document: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """`document`, one of its parts changed (or none, most of the time)."""
    document = copy.deepcopy(document)
    context = document["context"]
    i = rng.randrange(len(context))
    entry = context[i]
    name = entry["ContextKeyName"]
    changes = [
        lambda: entry.update(ContextKeyValues=[rng.choice(VALUES)]),
        lambda: entry.update(ContextKeyValues=[rng.choice(VALUES), rng.choice(VALUES)]),
        lambda: entry.update(ContextKeyValues=[]),
        lambda: entry.update(ContextKeyName=rng.choice(["aws:Other", name.upper(), 7, [name]])),
        lambda: entry.update(ContextKeyType=rng.choice(["string", "ipList", "float", 3])),
        lambda: entry.update(extra=1),
        lambda: entry.pop("ContextKeyType"),
        lambda: context.__setitem__(i, rng.choice([[entry], None, name])),
        lambda: context.append(copy.deepcopy(context[0])),
        lambda: context.append({**entry, "ContextKeyName": name.upper()}),
        lambda: context.pop(),
        lambda: rng.shuffle(context),
        lambda: document.update(
            resource_arn=rng.choice(
                ["*", "arn:aws:s3:::acme-data-lake-prod", "arn:aws:s3:::acme-data-lake-prod/", 7]
            )
        ),
        lambda: document.update(version_id="v1"),
        lambda: document.update(requester_arn="arn:aws:iam::111122223333:user/bob"),
        lambda: document.update(action=rng.choice(["s3:ListBucket", "s3:PutObject", "GetObject"])),
        lambda: entry.update(
            ContextKeyName="s3:x-amz-server-side-encryption",
            ContextKeyType="string",
            ContextKeyValues=[rng.choice(["aws:kms", "AES256"])],
        ),
        lambda: document.update(context=None),
    ]
    if rng.random() < 0.5:
        rng.choice(changes)()
    return document


def _alone(document: dict[str, Any], reference: Any) -> dict[str, Any]:
    _TEMPLATES.clear()  # the full check
    try:
        built = request_from_runbook(document)
    except InputError as error:
        return {"error": str(error)}
    decision = evaluate(built, reference)
    return {
        "decision": decision.decision.value,
        "blocked_by": [layer.value for layer in decision.blocked_by],
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_each_line_of_a_replay_gets_the_answer_of_the_full_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    rng = random.Random(seed)
    documents = [_broken(request(i, replay=True), rng) for i in range(300)]
    documents += documents[-20:]  # lines again, after other lines
    (tmp_path / "snapshot.json").write_text(json.dumps(snapshot()))
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        "".join(json.dumps({"id": i, "request": d}) + "\n" for i, d in enumerate(documents))
    )
    _TEMPLATES.clear()
    arguments = ["diagnose", "--snapshot", str(tmp_path / "snapshot.json"), "--batch", str(batch)]
    assert main([*arguments, "--detail", "decision"]) == 0
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    reference = load_snapshot(snapshot())
    expected = [{**_alone(d, reference), "id": i} for i, d in enumerate(documents)]
    assert sum("error" in answer for answer in expected) > 20
    assert sum("error" not in answer for answer in expected) > 150
    for document, answer, full in zip(documents, answers, expected, strict=True):
        assert answer == full, document
