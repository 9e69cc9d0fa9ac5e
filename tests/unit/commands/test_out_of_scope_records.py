"""Records that are not S3 AccessDenied get no verdict (issue 11.3, DESIGN 3.3 "Scope").

One CloudTrail log file of mixed records (tests/data/events/log-file-mixed-denials-and-others):
two S3 AccessDenied GetObject calls, an STS AssumeRole denial, an Organizations denial, a
successful CopyObject, a NoSuchLifecycleConfiguration error, a VPC endpoint network-activity
event and an S3 service event. Each path counts the same: 2 diagnosed, 6 skipped by reason.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib import service
from chalicelib.cli import main
from chalicelib.collect.file import FileSnapshotSource
from chalicelib.commands import replay
from chalicelib.events import OutOfScope, SkipKind, parse_event
from chalicelib.publish.memory import InMemoryFindingStore, ListPublisher

DATA = Path(__file__).resolve().parents[2] / "data"
LOG = DATA / "events" / "log-file-mixed-denials-and-others.json"
SNAPSHOT = DATA / "scenarios" / "no-identity-allow" / "snapshot.json"
DENIED = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000008"]
SKIPPED = {
    "other-service": 2,  # STS AssumeRole denied, Organizations denied
    "not-denied": 1,  # CopyObject that succeeded
    "other-error": 1,  # NoSuchLifecycleConfiguration
    "network-activity": 1,  # VpceAccessDenied network-activity event
    "service-event": 1,  # AwsServiceEvent
}


def records() -> list[dict[str, Any]]:
    return list(json.loads(LOG.read_text(encoding="utf-8"))["Records"])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_each_kind_of_record_gets_its_reason() -> None:
    kinds: dict[str, int] = {}
    for record in records():
        try:
            parse_event(record)
        except OutOfScope as error:
            kinds[error.kind.value] = kinds.get(error.kind.value, 0) + 1
    assert kinds == SKIPPED


def test_diagnose_a_mixed_log_file_diagnoses_the_denials_and_counts_the_rest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys, "diagnose", "--snapshot", str(SNAPSHOT), "--event", str(LOG), "--output", "json"
    )
    assert code == 0
    findings = json.loads(out)
    assert [f["event_id"] for f in findings] == DENIED
    assert all(f["decision"] == "implicit-deny" for f in findings)
    assert err == (
        "skipped 6 of 8 records (not S3 AccessDenied, not diagnosed): other-service 2, "
        "network-activity 1, not-denied 1, other-error 1, service-event 1\n"
    )


def test_diagnose_text_of_a_mixed_log_file_has_no_verdict_for_skipped_records(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "diagnose", "--snapshot", str(SNAPSHOT), "--event", str(LOG))
    assert code == 0
    assert out.count("verdict ") == 2
    assert "sts:" not in out and "CopyObject" not in out and "Lifecycle" not in out
    assert "skipped 6 of 8" in err


@pytest.mark.parametrize(
    ("index", "field", "why"),
    [
        (1, "eventSource", "eventSource sts.amazonaws.com is not S3"),
        (2, "eventSource", "eventSource organizations.amazonaws.com is not S3"),
        (3, "errorCode", "no errorCode: the call was not denied"),
        (4, "errorCode", "errorCode NoSuchLifecycleConfiguration is not an authorization denial"),
        (5, "eventCategory", "network-activity event"),
        (6, "eventType", "AwsServiceEvent"),
    ],
)
def test_one_record_that_is_not_an_s3_denial_is_one_line_naming_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, index: int, field: str, why: str
) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(records()[index]))
    code, out, err = run(capsys, "diagnose", "--snapshot", str(SNAPSHOT), "--event", str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"s3doctor diagnose: {field}: not an S3 AccessDenied, not diagnosed")
    assert why in err


def test_batch_answers_an_error_for_each_skipped_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    batch = tmp_path / "batch.jsonl"
    lines = [json.dumps({"id": f"r{i}", "event": r}) for i, r in enumerate(records())]
    batch.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "diagnose", "--snapshot", str(SNAPSHOT), "--batch", str(batch))
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [a["id"] for a in answers] == [f"r{i}" for i in range(8)]
    findings = [a for a in answers if "decision" in a]
    errors = [a for a in answers if "error" in a]
    assert [a["id"] for a in findings] == ["r0", "r7"]
    assert len(errors) == 6
    assert all(set(a) == {"id", "error"} for a in errors)
    assert all("not an S3 AccessDenied, not diagnosed" in a["error"] for a in errors)


def _replay_args(path: Path, output: str) -> argparse.Namespace:
    return argparse.Namespace(
        since="2000-01-01",
        events=[path],
        snapshot=SNAPSHOT,
        store=False,
        table=None,
        output=output,
    )


def test_replay_skips_and_counts_what_is_not_an_s3_denial() -> None:
    out, err = _Stream(), _Stream()
    assert replay.run(_replay_args(LOG, "json"), out=out, err=err) == 0
    document = json.loads(out.text)
    assert document["diagnosed"] == 2
    assert document["errors"] == []
    assert document["skipped"] == SKIPPED
    assert sorted(f["event_id"] for f in document["findings"]) == DENIED


def test_replay_text_says_what_was_skipped() -> None:
    out, err = _Stream(), _Stream()
    assert replay.run(_replay_args(LOG, "text"), out=out, err=err) == 0
    assert out.text.splitlines()[:2] == [
        "2 of 2 events diagnosed.",
        "Skipped 6 records that are not S3 AccessDenied: other-service 2, network-activity 1, "
        "not-denied 1, other-error 1, service-event 1",
    ]


def test_the_handler_stores_an_error_record_no_finding_and_no_alert() -> None:
    store, publisher = InMemoryFindingStore(), ListPublisher()
    for record in records()[1:7]:
        result = service.handle_event(
            {"detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "detail": record},
            source=FileSnapshotSource(SNAPSHOT),
            store=store,
            publisher=publisher,
            clock=lambda: datetime(2025, 3, 4, 10, 16, tzinfo=UTC),
        )
        assert result.finding_id is None
        assert result.error and "not an S3 AccessDenied" in result.error
        assert store.get_error(result.event_key) is not None
    assert publisher.sent == []


def test_skip_kinds_are_the_counting_vocabulary() -> None:
    assert {kind.value for kind in SkipKind} == set(SKIPPED)


class _Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, value: str) -> int:
        self.text += value
        return len(value)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
