"""Issue 15, the batch path: a line repeated in a batch gets the answer it gets alone, whatever
its id; an offline diagnosis does not load the modules of the commands that call AWS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.cli import main

SCENARIO = Path(__file__).resolve().parents[2] / "data" / "scenarios"
SNAPSHOT = SCENARIO / "bucket-policy-deny-insecure-transport" / "snapshot.json"
REQUEST = json.loads((SNAPSHOT.parent / "request.json").read_text())


def _batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], *options: str
) -> list[Any]:
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    code = main(["diagnose", "--snapshot", str(SNAPSHOT), "--batch", str(path), *options])
    assert code == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _variants() -> list[str]:
    """Lines that repeat one request in the ways a batch can spell it."""
    body = json.dumps({"request": REQUEST})[1:]
    secure = json.dumps(
        {"request": {**REQUEST, "context": [_entry("aws:SecureTransport", "true")]}}
    )[1:]
    return [
        '{"id": 1, ' + body,
        '{"id": 2, ' + body,  # the same REST, another id
        '{"id":-0,' + body,
        ' {"id" : 40 , ' + body,
        '{"id": 3, ' + body[:-1] + ', "id": 9}',  # a second id: the last one wins
        '{"id": 4, ' + body[:-1] + ', "id": 9}',
        '{"id": "five", ' + body,
        '{"id": 6.0, ' + body,
        "{" + body,  # no id: the line number
        "{" + body,
        '{"id": 7, ' + secure,
        '{"id": 8, ' + secure,
        '{"id": 10, ' + body.replace('"request"', '"reqest"'),  # its error names the line
        '{"id": 11, ' + body.replace('"request"', '"reqest"'),
        '{"id": 12, ' + body.replace('"request"', '"\\u0069d": 13, "request"'),  # escaped id
        '{"id": 14, ' + body.replace('"request"', '"\\u0069d": 13, "request"'),
        '{"id": 15, ' + body,
    ]


def _entry(name: str, value: str) -> dict[str, Any]:
    return {"ContextKeyName": name, "ContextKeyValues": [value], "ContextKeyType": "boolean"}


@pytest.mark.parametrize("detail", ["decision", "full"])
def test_a_repeated_line_gets_the_answer_it_gets_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    lines = _variants()
    together = _batch(tmp_path, capsys, lines, "--detail", detail)
    alone = [
        _batch(tmp_path, capsys, ["\n" * i + line], "--detail", detail)[0]  # same line number
        for i, line in enumerate(lines)
    ]
    assert together == alone
    ids = [answer["id"] for answer in together]
    assert ids == [1, 2, 0, 40, 9, 9, "five", 6.0, 9, 10, 7, 8, 10, 11, 13, 13, 15]
    assert "error" in together[12] and "line 13" in together[12]["error"]
    assert "line 14" in together[13]["error"]
    assert together[0]["decision"] != together[10]["decision"]  # the context is part of it


def test_a_repeated_line_with_a_query_is_queried_with_its_own_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ['{"id": 1, ' + json.dumps({"request": REQUEST})[1:]] * 2
    lines.append(lines[0].replace('"id": 1', '"id": 2'))
    answers = _batch(tmp_path, capsys, lines, "--detail", "decision", "--query", "[id, decision]")
    assert answers == [[1, "explicit-deny"], [1, "explicit-deny"], [2, "explicit-deny"]]


def test_offline_diagnose_of_requests_does_not_load_boto3_or_the_event_parser(
    tmp_path: Path,
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"id": 1, "request": REQUEST}) + "\n")
    script = (
        "import sys; from chalicelib.cli import main; "
        f"code = main(['diagnose', '--snapshot', {str(SNAPSHOT)!r}, '--batch', {str(batch)!r}]); "
        "print(code, *(m in sys.modules for m in ('boto3', 'chalicelib.commands.replay', "
        "'jmespath', 'chalicelib.events.parse', 'multiprocessing')))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    # multiprocessing: the --jobs machinery (25 ms of start-up) loads with --jobs alone.
    assert result.stdout.splitlines()[-1] == "0 False False False False False", result.stderr


def test_a_command_name_given_as_an_option_value_still_runs_the_named_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--region", "diagnose", "completion", "bash"]) == 0
    assert "s3doctor" in capsys.readouterr().out


@pytest.mark.parametrize("detail", ["decision", "full"])
def test_a_batch_that_stops_looking_for_repeats_still_answers_each_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, detail: str
) -> None:
    from chalicelib.commands import diagnose

    monkeypatch.setattr(diagnose._Repeated, "LIMIT", 3)
    keys = [f"data/{i}.csv" for i in range(5)] + ["data/0.csv", "data/1.csv"]
    lines = [
        json.dumps({"id": i, "request": {**REQUEST, "resource_arn": f"arn:aws:s3:::b/{key}"}})
        for i, key in enumerate(keys)
    ]
    answers = _batch(tmp_path, capsys, lines, "--detail", detail)
    assert [a["id"] for a in answers] == list(range(7))
    assert {**answers[5], "id": 0} == answers[0]
    assert {**answers[6], "id": 1} == answers[1]


@pytest.mark.parametrize("detail", ["decision", "full"])
def test_a_line_may_carry_its_snapshot_inline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    inline = json.loads(SNAPSHOT.read_text())
    lines = [
        json.dumps({"id": 1, "request": REQUEST}),
        json.dumps({"id": 2, "request": REQUEST, "snapshot": inline}),
        json.dumps({"id": 3, "request": REQUEST, "snapshot": inline}),
        json.dumps({"id": 4, "request": REQUEST, "snapshot": {"account_id": 7}}),
        json.dumps({"id": 5, "request": REQUEST, "snapshot": 7}),
    ]
    answers = _batch(tmp_path, capsys, lines, "--detail", detail)
    assert {**answers[1], "id": 1} == answers[0] == {**answers[2], "id": 1}
    assert "error" not in answers[0]
    assert "snapshot" in answers[3]["error"] and "error" in answers[3]
    assert answers[4]["error"] == "snapshot: expected a path or a snapshot object"


LINES: list[bytes] = [
    b'{"id": 1}',
    b'{"id": "\xff"}',
    b'{"id": "\xed\xa0\x80"}',  # a surrogate spelled in UTF-8
    b'{"id": "\\ud800"}',
    '{"id": "é"}'.encode(),
    '{"id": "é"}'.encode("utf-16-le"),
    '{"id": "é"}'.encode("utf-16"),
    '{"id": 2}'.encode("utf-32"),
    "\ufeff".encode() + b'{"id": 3}',
    b'{"',
    b'{"id": 1}{',
    b' {"id": 1}',
    b"[1]",
    b'{"id": 1}\n',
    b'{"id": 1} \t\r\n \n',
    b'{"id": 1}\x0c',  # a form feed: not JSON whitespace
    '{"id": 1}\u2028'.encode(),
    '{"id": 1}\u00a0'.encode(),
    b'{"id": 1} 2',
    b'{"id": 1}}',
    b'{"id": }',
    b'{"id": [1, }',
    b'{"id": 1,}',
    b'{"id"}',
    b'{"id": tru}',
    b'{"id": NaN, "x": -Infinity}',
    b'{"id": "a\nb"}',
    b'{"id": "a\tb"}',  # a control character in a string
    b'{"id": 1, "id": 2}',
    b'{"id": 1e400}',
    b'{"id": 12345678901234567890123}',
    b'{"' + b"[" * 100000,
    b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}",
]


@pytest.mark.parametrize("line", LINES)
def test_a_batch_line_is_parsed_as_json_loads_parses_it(line: bytes) -> None:
    from chalicelib.commands.diagnose import _parse

    def outcome(parse: Any) -> object:
        try:
            return parse(line)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
            return (type(error), str(error))

    assert outcome(_parse) == outcome(json.loads)


def test_a_decision_batch_stops_looking_for_repeats_after_its_probe_unless_lines_repeat() -> None:
    from chalicelib.commands.diagnose import _Repeated

    def line(ident: int, key: int) -> bytes:
        return b'{"id": %d, "request": {"k": %d}}' % (ident, key)

    around = ('{"decision": "allow", "id": ', "}")
    replay = _Repeated(3)
    for i in range(5):  # each line its own: the looking stops after the probe
        assert replay.answer(line(i, i)) is None
        replay.keep(line(i, i), i, around)
    assert not replay.looking
    assert replay.answer(line(9, 0)) is None
    repeats = _Repeated(3)
    for i in range(8):  # a repeat within the probe: kept up to LIMIT lines
        found = repeats.answer(line(i, i % 2 or i))
        if i == 3:
            assert found == '{"decision": "allow", "id": 3}'
        repeats.keep(line(i, i), i, around)
    assert repeats.looking
