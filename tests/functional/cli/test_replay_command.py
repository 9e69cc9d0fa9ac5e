import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chalicelib.cli import build_parser, main
from chalicelib.commands import replay
from chalicelib.demo.cloudtrail import iam_user_identity, s3_access_denied_record
from tests.functional.findings_fixtures import findings_table  # noqa: F401

SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "no-identity-allow"
ALICE = iam_user_identity(
    account_id="111122223333", user_name="alice", user_id="AIDAEXAMPLEALICE0001"
)
MESSAGE = (
    "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: s3:GetObject on "
    'resource: "arn:aws:s3:::example-bucket/data/report.csv" because no identity-based policy '
    "allows the s3:GetObject action"
)


def _denied(event_id, *, time=None):
    return s3_access_denied_record(
        event_id=event_id,
        event_time=time or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        region="us-east-1",
        identity=ALICE,
        event_name="GetObject",
        bucket="example-bucket",
        bucket_account="111122223333",
        key="data/report.csv",
        error_message=MESSAGE,
    )


def _log_file(tmp_path, records):
    path = tmp_path / "111122223333_CloudTrail_us-east-1_log.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return path


def _trail(tmp_path):
    """Two denials by alice, one allowed call, one denied record too broken to diagnose."""
    allowed = {**_denied("ok-1"), "errorCode": None, "errorMessage": None}
    broken = {**_denied("broken-1"), "userIdentity": None}
    stale = _denied("old-1", time="2020-01-01T00:00:00Z")
    return _log_file(tmp_path, [_denied("deny-1"), allowed, broken, _denied("deny-2"), stale])


def test_replay_events_file_summarises_by_cause(tmp_path, capsys):
    path = _trail(tmp_path)
    code = main(["replay", "--events", str(path), "--snapshot", str(SCENARIO / "snapshot.json")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 of 4 events diagnosed." in captured.out  # the 2020 record too: no --since
    assert "NO_ALLOW_IDENTITY" in captured.out.split("By cause:")[1].splitlines()[1]
    assert "Could not diagnose 1:" in captured.out
    assert "broken-1" in captured.out
    assert captured.err == ""  # no progress bar when stderr is not a terminal


def test_replay_json_output_carries_counts_and_findings(tmp_path, capsys):
    path = _trail(tmp_path)
    argv = ["replay", "--events", str(path), "--snapshot", str(SCENARIO / "snapshot.json")]
    assert main([*argv, "--since", "2000-01-01", "--output", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["diagnosed"] == 3  # the 2020 record is inside this period
    assert document["by_cause"]["NO_ALLOW_IDENTITY"] == 3
    assert document["by_decision"] == {"implicit-deny": 3}
    assert sorted(f["event_id"] for f in document["findings"]) == ["deny-1", "deny-2", "old-1"]


def test_replay_from_lookup_events_reads_every_page(monkeypatch, capsys):
    # GIVEN CloudTrail LookupEvents (moto lacks it) answering in two pages
    client = boto3.client(
        "cloudtrail", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    expected = {
        "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": "s3.amazonaws.com"}],
        "StartTime": ANY,
    }
    page = lambda *records, **more: {  # noqa: E731
        "Events": [{"EventId": r["eventID"], "CloudTrailEvent": json.dumps(r)} for r in records],
        **more,
    }
    stubber.add_response("lookup_events", page(_denied("lk-1"), NextToken="t1"), expected)
    stubber.add_response("lookup_events", page(_denied("lk-2")), {**expected, "NextToken": "t1"})
    monkeypatch.setattr(replay, "cloudtrail_client", lambda: client)
    # WHEN replaying without --events
    with stubber:
        code = main(["replay", "--snapshot", str(SCENARIO / "snapshot.json"), "--output", "json"])
        stubber.assert_no_pending_responses()
    # THEN both pages were diagnosed
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert sorted(f["event_id"] for f in document["findings"]) == ["lk-1", "lk-2"]


def test_replay_store_aggregates_repeats_like_the_handler(tmp_path, findings_table, capsys):  # noqa: F811
    path = _log_file(tmp_path, [_denied("store-1"), _denied("store-2"), _denied("store-3")])
    argv = ["replay", "--events", str(path), "--snapshot", str(SCENARIO / "snapshot.json")]
    assert main([*argv, "--store"]) == 0
    assert "3 of 3 events diagnosed, findings stored." in capsys.readouterr().out
    assert main(["findings", "list", "--bucket", "example-bucket", "--output", "json"]) == 0
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["occurrences"] == 3


def test_replay_store_writes_to_the_table_named_by_the_option(
    tmp_path,
    findings_table,  # noqa: F811
    capsys,
    monkeypatch,
):
    """`--table` names the table as its help says: it was ignored, and a user without
    $FINDINGS_TABLE_NAME was told to set it."""
    from chalicelib import wiring

    monkeypatch.delenv("FINDINGS_TABLE_NAME")
    wiring.reset()
    record = {**_denied("table-1"), "eventName": "PutObject"}  # no repeat of another test's
    path = _log_file(tmp_path, [record])
    argv = ["replay", "--events", str(path), "--snapshot", str(SCENARIO / "snapshot.json")]

    assert main([*argv, "--store", "--table", findings_table]) == 0

    assert "findings stored" in capsys.readouterr().out
    assert main(["findings", "list", "--table", findings_table, "--output", "json"]) == 0
    stored = json.loads(capsys.readouterr().out)["findings"]
    assert "table-1" in [finding["event_id"] for finding in stored]


def test_replay_from_the_dead_letter_queue_refuses_a_table(capsys):
    queue = "https://sqs.us-east-1.amazonaws.com/111122223333/dlq"
    assert main(["replay", "--from-dlq", queue, "--table", "t"]) == 2
    assert "--table" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--events", "/no/such/file.json"], "--events"),
        (["--since", "last week"], "--since"),
    ],
)
def test_replay_bad_input_exits_2_naming_the_option(argv, field, capsys):
    assert main(["replay", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert field in err[0]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_draws_on_a_terminal_only(tmp_path):
    path = _log_file(tmp_path, [_denied("p-1"), _denied("p-2")])
    argv = ["--events", str(path), "--snapshot", str(SCENARIO / "snapshot.json")]
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        args = build_parser().parse_args(["replay", *argv])
        assert replay.run(args, out=io.StringIO(), err=stream) == 0
    assert "replay" in terminal.getvalue() and "2/2" in terminal.getvalue()
    assert "event/s" in terminal.getvalue()  # tqdm's rate
    assert pipe.getvalue() == ""


def test_replay_events_reads_lambda_on_failure_records(tmp_path, capsys):
    # GIVEN messages saved from the dead-letter queue: on-failure records around EventBridge events
    def on_failure(record):
        envelope = {
            "version": "0",
            "id": f"eb-{record['eventID']}",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.s3",
            "account": "111122223333",
            "time": record["eventTime"],
            "region": "us-east-1",
            "resources": [],
            "detail": record,
        }
        return {
            "version": "1.0",
            "timestamp": "2025-03-01T10:07:12.345Z",
            "requestContext": {
                "requestId": "c2a6b5e4-0000-4000-8000-000000000000",
                "functionArn": "arn:aws:lambda:us-east-1:111122223333:function:f:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": envelope,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": "Rate exceeded", "errorType": "ClientError"},
        }

    path = tmp_path / "dlq-messages.jsonl"
    lines = [json.dumps(on_failure(_denied(f"dlq-{n}"))) for n in (1, 2)]
    path.write_text("\n".join(lines) + "\n")
    # WHEN replaying them as --events
    argv = ["replay", "--events", str(path), "--snapshot", str(SCENARIO / "snapshot.json")]
    assert main([*argv, "--output", "json"]) == 0
    # THEN each record's requestPayload was diagnosed
    document = json.loads(capsys.readouterr().out)
    assert sorted(f["event_id"] for f in document["findings"]) == ["dlq-1", "dlq-2"]
