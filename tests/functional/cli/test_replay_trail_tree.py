"""Replay over a synced trail bucket: digest files and other non-event files are skipped and
counted, old files are read unless --since is given, and the summary lists the top findings."""

import gzip
import json
import os
from pathlib import Path

import pytest

from bench.bench_workloads import trail
from bench.engine_fixture import snapshot
from chalicelib.cli import main
from chalicelib.commands import replay
from chalicelib.commands.spool import Spool
from chalicelib.model import Finding
from tests.functional.cli.test_replay_command import SCENARIO, _denied

PREFIX = "AWSLogs/111122223333/CloudTrail"
DIGEST = {
    "awsAccountId": "111122223333",
    "digestStartTime": "2020-01-01T00:00:00Z",
    "digestEndTime": "2020-01-01T01:00:00Z",
    "digestS3Bucket": "trail-bucket",
    "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2020/01/01/x.json.gz",
    "logFiles": [],
}


def _gz(path: Path, document) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(document).encode()))


def _tree(root: Path) -> Path:
    """A trail bucket sync: an old log file (2020), a new one, two digests, and some litter."""
    old = [
        _denied("old-1", time="2020-01-01T00:10:00Z"),
        _denied("old-2", time="2020-01-01T00:20:00Z"),
    ]
    new = [_denied("new-1"), {**_denied("other"), "eventSource": "ec2.amazonaws.com"}]
    _gz(
        root / PREFIX / "us-east-1/2020/01/01/111122223333_CloudTrail_us-east-1_old.json.gz",
        {"Records": old},
    )
    _gz(
        root / PREFIX / "us-east-1/2026/12/05/111122223333_CloudTrail_us-east-1_new.json.gz",
        {"Records": new},
    )
    digest_dir = root / "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2020/01/01"
    _gz(digest_dir / "111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_1.json.gz", DIGEST)
    _gz(root / "elsewhere" / "digest-copy.json.gz", DIGEST)  # a digest out of its folder
    (root / PREFIX / "README.txt").write_text("synced by ops\n")
    (root / PREFIX / "manifest.json").write_text('{"files": 2}')
    return root


def _replay(root: Path, *more: str) -> list[str]:
    return ["replay", "--events", str(root), "--snapshot", str(SCENARIO / "snapshot.json"), *more]


def test_a_trail_tree_with_digests_and_old_files_is_replayed_whole(tmp_path, capsys):
    code = main(_replay(_tree(tmp_path)))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = captured.out
    assert "3 of 3 events diagnosed." in out  # the 2020 file too: --since not given
    assert "Skipped 4 files that hold no events: digest 2, not-events 2" in out
    assert "other-service 1" in out
    # the top findings: principal, bucket, action, cause code and finding id
    top = out.split("Top findings (1 of 3 events):")[1].splitlines()
    assert top[1].split() == ["COUNT", "PRINCIPAL", "BUCKET", "ACTION", "CAUSE", "FINDING"]
    count, principal, bucket, action, cause, finding = top[2].split()
    assert (count, principal, bucket, action, cause) == (
        "3",
        "user/alice",
        "example-bucket",
        "s3:GetObject",
        "NO_ALLOW_IDENTITY",
    )
    assert finding in {"old-1", "old-2", "new-1"}


def test_since_given_explicitly_filters_files_and_counts_what_it_left_out(tmp_path, capsys):
    assert main(_replay(_tree(tmp_path), "--since", "2021-01-01", "--output", "json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert [f["event_id"] for f in document["findings"]] == ["new-1"]
    assert document["before_since"] == 2
    assert document["skipped_files"] == {"digest": 2, "not-events": 2}
    assert len(document["skipped_file_paths"]) == 4
    (top,) = document["top_findings"]
    assert top == {
        "principal": "arn:aws:iam::111122223333:user/alice",
        "bucket": "example-bucket",
        "action": "s3:GetObject",
        "cause": "NO_ALLOW_IDENTITY",
        "finding_id": "new-1",
        "occurrences": 1,
    }


def test_only_old_files_give_findings_not_an_empty_period(tmp_path, capsys):
    # the bug: the 24h default of LookupEvents also filtered --events files
    path = tmp_path / "old.json.gz"
    _gz(path, {"Records": [_denied("old-1", time="2019-06-01T00:00:00Z")]})
    assert main(_replay(path)) == 0
    out = capsys.readouterr().out
    assert "No S3 AccessDenied events" not in out
    assert "1 of 1 events diagnosed." in out


def test_a_digest_named_on_its_own_is_skipped_but_other_litter_is_an_error(tmp_path, capsys):
    digest = tmp_path / "111122223333_CloudTrail-Digest_us-east-1.json.gz"
    _gz(digest, DIGEST)
    assert main(_replay(digest)) == 0
    assert "Skipped 1 files that hold no events: digest 1" in capsys.readouterr().out
    litter = tmp_path / "notes.txt"
    litter.write_text("not json")
    assert main(_replay(litter)) == 2  # named by the user: bad input, one line naming it
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--events" in err[0]


def test_the_top_findings_are_ranked_and_limited_to_ten(tmp_path, capsys):
    from chalicelib.commands.replay import TopTally
    from tests.functional.findings_fixtures import make_finding

    findings = [
        make_finding(f"a{n}", bucket="b", user="alice", first_seen="2025-01-01T00:00:00Z")
        for n in range(3)
    ]
    findings += [
        make_finding(
            f"u{n}", bucket=f"bucket-{n}", user=f"user{n}", first_seen="2025-01-01T00:00:00Z"
        )
        for n in range(12)
    ]
    tally = TopTally()
    for finding in findings:
        found = replay.Outcome.of(finding, keep=replay.Kept())
        tally.add(found.group, found.finding_id)
    top = tally.ranked()
    assert len(top) == 10
    assert (top[0].principal.endswith("user/alice"), top[0].occurrences) == (True, 3)
    assert top[0].finding_id == "a2"  # the latest of the group
    assert all(t.occurrences == 1 for t in top[1:])


def test_the_text_summary_counts_without_keeping_the_findings(tmp_path, capsys):
    """The text summary is worked out as the events are diagnosed (a replay of a million events
    does not hold a million findings): it says what the JSON output, which keeps them, says."""
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    events = tmp_path / "trail.json"
    events.write_text(json.dumps(trail(90)))
    argv = ["replay", "--events", str(events), "--snapshot", str(snapshot_path)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert main([*argv, "--output", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["findings"]) == document["diagnosed"] == 90
    assert "90 of 90 events diagnosed." in text
    causes = text.split("By cause:\n")[1].split("\n\n")[0].splitlines()
    assert {c.split()[0]: int(c.split()[1]) for c in causes} == document["by_cause"]
    top = document["top_findings"]
    assert len(top) == 3 and sum(t["occurrences"] for t in top) == 90
    table = text.split("Top findings (3 of 90 events):\n")[1].split("\n\n")[0].splitlines()
    assert [row.split()[-1] for row in table[1:]] == [t["finding_id"] for t in top]
    assert [int(row.split()[0]) for row in table[1:]] == [t["occurrences"] for t in top]
    summary = replay.ReplaySummary()
    for finding in document["findings"]:
        summary.add(replay.Outcome.of(Finding.from_dict(finding), keep=replay.Kept()))
    assert summary.reported is None and summary.texts is None
    assert [t.to_dict() for t in summary.top.ranked()] == top


def test_a_replay_whose_records_wait_on_disk_says_what_one_in_memory_says(
    tmp_path, monkeypatch, capsys
):
    """Past `Spool.MEMORY` the records to diagnose wait in a temporary file: the same
    findings and summary, in one process and with workers (which take them as they are read)."""
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    events = tmp_path / "trail.json"
    events.write_text(json.dumps(trail(45)))
    argv = ["replay", "--events", str(events), "--snapshot", str(snapshot_path), "--output", "json"]
    assert main(argv) == 0
    in_memory = capsys.readouterr().out
    monkeypatch.setattr(Spool, "MEMORY", 1)
    assert main(argv) == 0
    assert capsys.readouterr().out == in_memory
    assert main([*argv, "--jobs", "2"]) == 0
    assert capsys.readouterr().out == in_memory
    assert len(json.loads(in_memory)["findings"]) == 45


def test_an_offline_replay_loads_no_aws_client_machinery(tmp_path):
    """boto3 and botocore's client, session and config modules (0.2 s of start-up) load only
    where a client is made: a replay against a snapshot makes none."""
    import subprocess
    import sys

    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    events = tmp_path / "trail.json"
    events.write_text(json.dumps(trail(3)))
    script = (
        "import sys; from chalicelib.cli import main; "
        f"code = main(['replay', '--events', {str(events)!r}, '--snapshot', "
        f"{str(snapshot_path)!r}]); "
        "print(code, [m for m in ('boto3', 'botocore.client', 'botocore.session', "
        "'botocore.config') if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=False
    )
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr


def _busy_tree(root: Path) -> Path:
    """`_tree` with a day of a busy account beside it: twelve log files of other calls, calls
    not denied and a few denials (some before 2021), an unreadable file and a file of records
    too broken to diagnose, enough files to be read by worker processes."""
    _tree(root)
    records = trail(60)["Records"]
    for n in range(12):
        day = [
            {**record, "eventID": f"busy-{n}-{i}"}
            | ({} if i % 5 == 0 else {"eventSource": "ec2.amazonaws.com"})
            | ({"eventTime": "2020-06-01T00:00:00Z"} if n % 4 == 0 else {})
            for i, record in enumerate(records[5 * n : 5 * n + 5])
        ]
        day.append({**records[0], "eventID": f"ok-{n}", "errorCode": None})
        _gz(root / PREFIX / f"eu-west-1/2026/12/{n + 1:02d}/log-{n}.json.gz", {"Records": day})
    (root / PREFIX / "eu-west-1/broken.json.gz").write_bytes(b"\x1f\x8b not gzip")
    _gz(root / PREFIX / "eu-west-1/odd.json.gz", {"Records": [{**records[1], "userIdentity": 7}]})
    return root


def test_a_tree_of_many_files_read_by_workers_gives_what_one_process_gives(tmp_path, capsys):
    # GIVEN a trail tree of 20 files: logs, digests, litter, an unreadable file
    root = _busy_tree(tmp_path / "bucket")
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(json.dumps(snapshot()))
    argv = ["replay", "--events", str(root), "--snapshot", str(snapshot_path), "--output", "json"]
    pids = tmp_path / "pids"
    sorted_files = replay.sorted_files

    def noted(items, args):
        with pids.open("a") as file:
            file.write(f"{os.getpid()}\n")
        return sorted_files(items, args)

    # WHEN it is replayed in one process, then (read and diagnosed) by workers, asked or not
    outputs = []
    for more in (["--jobs", "1"], [], ["--jobs", "3"], ["--since", "2021-01-01"]):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(replay, "sorted_files", noted)
            assert main([*argv, *more]) == 0
        outputs.append(capsys.readouterr().out)
    # THEN the files were read by workers unless --jobs 1 said one process
    readers = {int(pid) for pid in pids.read_text().split()}
    assert len(readers) > 1 and os.getpid() not in readers
    # AND the document is the same: findings, counts, skipped files in order, errors
    assert outputs[1] == outputs[2] == outputs[0]
    document = json.loads(outputs[0])
    assert document["skipped_files"] == {"digest": 2, "not-events": 2, "unreadable": 1}
    assert document["skipped"] == {"not-denied": 12, "other-service": 49}
    assert len(document["errors"]) == 1 and document["diagnosed"] == 15
    paths = document["skipped_file_paths"]
    assert paths == sorted(paths, key=lambda p: sorted(root.rglob("*")).index(Path(p)))
    since = json.loads(outputs[3])
    assert since["before_since"] == 17 and since["diagnosed"] == 10


def test_a_bad_file_named_among_many_stops_the_replay_as_in_one_process(tmp_path, capsys):
    root = _busy_tree(tmp_path / "bucket")
    litter = tmp_path / "notes.txt"
    litter.write_text("not json")
    errors = []
    for more in (["--jobs", "1"], []):
        assert main([*_replay(root), "--events", str(litter), *more]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        errors.append(captured.err)
    assert errors[1] == errors[0] and errors[0].count("\n") == 1 and str(litter) in errors[0]


def test_a_reader_that_dies_stops_the_replay_before_any_work(tmp_path, capsys, monkeypatch):
    root = _busy_tree(tmp_path / "bucket")

    def dying(items, args):
        os._exit(9)
        yield

    monkeypatch.setattr(replay, "sorted_files", dying)
    assert main(_replay(root)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "a process reading the --events files stopped" in captured.err
    assert captured.err.count("\n") == 1
