"""`replay --store` when DynamoDB fails mid-run: the summary still says what was stored and
what failed (exit 1), and rerunning the same command counts nothing twice."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from chalicelib import wiring
from chalicelib.cli import main
from chalicelib.commands import replay
from chalicelib.publish.store import create_table
from tests.functional.cli.test_replay_command import SCENARIO, _denied, _log_file
from tests.functional.findings_fixtures import REGION, findings_table  # noqa: F401


def _failing_before(event: int, fail: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """`fail()` (a change to the moto server) runs just before the replay handles event number
    `event` (from 0); the replay's own diagnosis and store are untouched."""
    real = replay._diagnoser

    def diagnoser(args):
        diagnose = real(args)
        seen = count()

        def diagnose_one(record):
            if next(seen) == event:
                fail()
            return diagnose(record)

        return diagnose_one

    monkeypatch.setattr(replay, "_diagnoser", diagnoser)


def _replay(path, table: str) -> list[str]:
    snapshot = str(SCENARIO / "snapshot.json")
    return ["replay", "--events", str(path), "--snapshot", snapshot, "--store", "--table", table]


def _doomed_table(tmp_path, events, stored: int, monkeypatch) -> tuple[Path, str]:
    """A log file of `events` and a new table, deleted once `stored` of them are stored."""
    client = boto3.client("dynamodb", region_name=REGION)
    table = f"gone-{uuid.uuid4().hex[:8]}"
    create_table(client, table)
    path = _log_file(tmp_path, events)
    _failing_before(stored, lambda: client.delete_table(TableName=table), monkeypatch)
    return path, table


def test_a_table_deleted_mid_run_ends_with_the_summary_of_what_was_stored(
    tmp_path,
    findings_table,  # noqa: F811
    capsys,
    monkeypatch,
):
    # GIVEN four denials to store, and a table that is deleted once two are stored
    events = [_denied(f"gone-{n}") for n in range(1, 5)]
    path, table = _doomed_table(tmp_path, events, 2, monkeypatch)

    # WHEN replaying them with --store
    code = main(_replay(path, table))

    # THEN the run fails, but says how far it got, what failed and that a rerun is safe
    captured = capsys.readouterr()
    assert code == 1
    out = captured.out
    assert "2 of 4 events diagnosed, findings stored." in out
    stop = out.split("\n\nStopped at event gone-3 by an AWS failure: ")[1].splitlines()
    assert "ResourceNotFoundException" in stop[0]
    assert stop[1] == "  Not handled: 2 events (gone-3 and those after it)."
    assert stop[2] == "  Stored before the failure: the findings of 2 events."
    assert "Rerunning the same command is safe" in stop[3]
    assert captured.err.startswith("s3doctor replay: stopped at event gone-3: ")


def test_the_json_summary_of_a_stopped_run_says_where_it_stopped(
    tmp_path,
    findings_table,  # noqa: F811
    capsys,
    monkeypatch,
):
    events = [_denied("json-1"), _denied("json-2"), _denied("json-3")]
    path, table = _doomed_table(tmp_path, events, 1, monkeypatch)

    assert main([*_replay(path, table), "--output", "json"]) == 1

    document = json.loads(capsys.readouterr().out)
    assert document["diagnosed"] == 1
    assert [f["event_id"] for f in document["findings"]] == ["json-1"]
    assert document["stopped"]["event"] == "json-2"
    assert document["stopped"]["not_handled"] == 2
    assert "ResourceNotFoundException" in document["stopped"]["error"]


@pytest.fixture
def moto_servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ThreadedMotoServer]]:
    """Moto servers this test starts (and stops); their tables are the process's, shared."""
    servers: list[ThreadedMotoServer] = []
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "1",  # a server gone is an error at once, not after backoffs
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()
        wiring.reset()


def _serve(servers: list[ThreadedMotoServer], monkeypatch: pytest.MonkeyPatch) -> str:
    """A new moto server, which the environment and wiring now point at; its endpoint."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    servers.append(server)
    assert server._server is not None
    endpoint = f"http://127.0.0.1:{server._server.server_port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    wiring.reset()
    return endpoint


def test_rerunning_after_a_failure_counts_each_event_once(
    tmp_path, moto_servers, capsys, monkeypatch
):
    # GIVEN four repeats of one denial, and DynamoDB unreachable once two are stored
    real = replay._diagnoser
    endpoint = _serve(moto_servers, monkeypatch)
    table = f"rerun-{uuid.uuid4().hex[:8]}"
    create_table(boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint), table)
    path = _log_file(tmp_path, [_denied(f"rerun-{n}") for n in range(1, 5)])
    _failing_before(2, moto_servers[0].stop, monkeypatch)
    assert main(_replay(path, table)) == 1
    assert "Stored before the failure: the findings of 2 events." in capsys.readouterr().out

    # WHEN DynamoDB is back and the same command runs again
    monkeypatch.setattr(replay, "_diagnoser", real)
    _serve(moto_servers, monkeypatch)
    assert main(_replay(path, table)) == 0
    assert "4 of 4 events diagnosed, findings stored." in capsys.readouterr().out

    # THEN the finding counts four occurrences: the two stored before are not counted again
    assert main(["findings", "list", "--table", table, "--output", "json"]) == 0
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["occurrences"] == 4
