"""The AWS CLI's habits, offline: global options after the subcommand, --version, --query,
--output per command (and refused with --batch), colour, completion, shorthand context keys."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib import cli
from chalicelib.commands.diagnose import context_key
from chalicelib.commands.options import apply_output_before, aws_environment, use_color
from chalicelib.engine import ENGINE_VERSION
from chalicelib.model import InputError

SCENARIOS = Path(__file__).resolve().parents[2] / "data" / "scenarios"
SCENARIO = SCENARIOS / "bucket-policy-deny-insecure-transport"
SOURCE_IP = SCENARIOS / "allow-condition-source-ip"
OFFLINE = [
    "--snapshot",
    str(SCENARIO / "snapshot.json"),
    "--request",
    str(SCENARIO / "request.json"),
]


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_version_prints_the_package_and_engine_versions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["--version"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("s3doctor ") and f"(engine {ENGINE_VERSION})" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["-v", "--color", "never", "--region", "eu-west-1", "diagnose", *OFFLINE],
        ["diagnose", *OFFLINE, "-v", "--color", "never", "--region", "eu-west-1"],
        ["diagnose", "--profile", "p", "--endpoint-url", "http://127.0.0.1:1", *OFFLINE],
    ],
)
def test_global_options_are_accepted_before_and_after_the_subcommand(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    args = cli.build_parser().parse_args(argv)
    assert args.command == "diagnose"
    code, out, _ = _main(capsys, *argv)
    assert code == 0 and out.startswith("DENIED")


def test_an_option_after_the_subcommand_wins_over_the_one_before() -> None:
    args = cli.build_parser().parse_args(["--region", "a", "findings", "list", "--region", "b"])
    assert args.region == "b"
    args = cli.build_parser().parse_args(["--region", "a", "findings", "list"])
    assert args.region == "a"


def test_every_option_of_every_command_has_help_and_no_private_references() -> None:
    parser = cli.build_parser()
    for sub in [parser, *cli._subcommand_parsers(parser)]:
        texts = [sub.description or "", sub.epilog or ""]
        for action in sub._actions:
            if action.option_strings and action.help != "==SUPPRESS==":
                assert action.help, f"{sub.prog} {action.option_strings} has no help"
            texts.append(action.help or "")
        assert "DESIGN" not in " ".join(texts), sub.prog
        assert "chalicelib/" not in " ".join(texts), sub.prog


def test_help_keeps_every_example_whole_for_copying() -> None:
    """argparse breaks long words and hyphenated names; ours wraps at spaces only."""
    parser = cli.build_parser()
    for sub in [parser, *cli._subcommand_parsers(parser)]:
        lines = sub.format_help().splitlines()
        for action in sub._actions:
            example = (action.help or "").rpartition("e.g. ")[2].split(" ")[-1].rstrip(")")
            if "-" in example.strip("-") and "{" not in example:
                assert any(example in line for line in lines), (sub.prog, example)


GLOBAL_OPTIONS = {"-h", "--help", "-v", "--verbose", "--color", "--profile", "--region"}


def test_every_replay_option_has_help_with_an_example() -> None:
    parser = cli.build_parser()
    (replay,) = [sub for sub in cli._subcommand_parsers(parser) if sub.prog == "s3doctor replay"]
    own = [
        action
        for action in replay._actions
        if action.option_strings
        and not set(action.option_strings) & GLOBAL_OPTIONS
        and "--endpoint-url" not in action.option_strings
    ]
    assert {"--output", "--since", "--events", "--from-dlq"} <= {
        name for action in own for name in action.option_strings
    }
    for action in own:
        assert action.help and "e.g. " in action.help, action.option_strings


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--output", "json", "findings", "list"], "json"),
        (["--output", "yaml", "findings", "get", "f1"], "yaml"),
        (["--output", "json", "findings", "list", "--output", "table"], "table"),  # after wins
        (["findings", "list", "--output", "text"], "text"),
        (["--output", "json", "replay", "--events", "x"], "json"),
        (["replay", "--events", "x"], None),  # replay's own default: text
        (["--output", "markdown", "diagnose", *OFFLINE], "markdown"),
    ],
)
def test_output_before_the_subcommand_is_the_subcommands_unless_given_after(
    argv: list[str], expected: str | None
) -> None:
    args = cli.build_parser().parse_args(argv)
    apply_output_before(args)
    assert args.output == expected


def test_output_before_the_subcommand_formats_the_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _main(capsys, "--output", "json", "diagnose", *OFFLINE)
    assert code == 0 and json.loads(out)["decision"] == "explicit-deny"
    code, out, _ = _main(capsys, "--output", "json", "diagnose", *OFFLINE, "--output", "text")
    assert code == 0 and out.startswith("DENIED")


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--output", "markdown", "findings", "list"], "`findings list` allows table, text, json"),
        (["--output", "yaml", "replay", "--events", "x"], "`replay` allows text, json; not 'yaml'"),
        (["--output", "json", "collect", "--bucket", "b", "--out", "-"], "`collect` has no"),
        (["--output", "json", "completion", "bash"], "`completion` has no --output"),
    ],
)
def test_output_before_a_subcommand_that_cannot_honour_it_exits_2_in_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    code, out, err = _main(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"s3doctor {argv[2]}: --output: ") and named in err


def test_query_filters_the_json_output_and_implies_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _main(capsys, "diagnose", *OFFLINE, "--query", "decision")
    assert code == 0 and json.loads(out) == "explicit-deny"
    code, out, _ = _main(capsys, "diagnose", *OFFLINE, "--output", "json", "--query", "blocked_by")
    assert json.loads(out) == ["bucket-policy"]


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--output", "text", "--query", "decision"], "--query"),
        (["--query", "[[["], "--query"),
    ],
)
def test_query_that_cannot_apply_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], argv: list[str], field: str
) -> None:
    code, _, err = _main(capsys, "diagnose", *OFFLINE, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and field in err


def test_yaml_output(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("yaml")
    code, out, _ = _main(capsys, "diagnose", *OFFLINE, "--output", "yaml", "--query", "decision")
    assert code == 0 and out.strip() in ("explicit-deny", "explicit-deny\n...")


def _batch(tmp_path: Path) -> Path:
    request = json.loads((SCENARIO / "request.json").read_text())
    path = tmp_path / "batch.jsonl"
    path.write_text(json.dumps({"id": "a", "request": request}) + "\n")
    return path


@pytest.mark.parametrize("output", ["text", "markdown", "yaml"])
def test_batch_refuses_an_output_it_cannot_honour(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, output: str
) -> None:
    argv = ["diagnose", "--snapshot", str(SCENARIO / "snapshot.json"), "--batch"]
    code, out, err = _main(capsys, *argv, str(_batch(tmp_path)), "--output", output)
    assert code == 2 and out == ""
    assert "--batch writes JSON lines" in err and len(err.strip().splitlines()) == 1


def test_batch_honours_json_and_query_per_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["diagnose", "--snapshot", str(SCENARIO / "snapshot.json"), "--batch"]
    batch = str(_batch(tmp_path))
    code, out, _ = _main(capsys, *argv, batch, "--output", "json")
    assert code == 0 and json.loads(out)["id"] == "a"
    code, out, _ = _main(capsys, *argv, batch, "--query", "[id, decision]")
    assert code == 0 and json.loads(out) == ["a", "explicit-deny"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("choice", "no_color", "expected"),
    [
        (None, None, True),
        (None, "1", False),
        ("auto", "1", False),
        ("always", "1", True),
        ("never", None, False),
    ],
)
def test_color_follows_the_flag_then_no_color_then_the_terminal(
    monkeypatch: pytest.MonkeyPatch, choice: str | None, no_color: str | None, expected: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    if no_color:
        monkeypatch.setenv("NO_COLOR", no_color)
    args = cli.build_parser().parse_args(
        ["diagnose", *OFFLINE, *(["--color", choice] if choice else [])]
    )
    assert use_color(args, _Terminal()) is expected
    assert use_color(args, io.StringIO()) is (choice == "always")


def test_color_always_colours_the_text_and_never_does_not(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = _main(capsys, "diagnose", *OFFLINE, "--color", "always")
    assert "\x1b[" in out
    _, out, _ = _main(capsys, "--color", "never", "diagnose", *OFFLINE)
    assert "\x1b[" not in out


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_script_names_the_commands(
    capsys: pytest.CaptureFixture[str], shell: str
) -> None:
    code, out, _ = _main(capsys, "completion", shell)
    assert code == 0
    for word in ("s3doctor", "diagnose", "collect", "findings", "--snapshot", "--endpoint-url"):
        assert word in out


def test_bash_completion_script_is_valid_bash(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _main(capsys, "completion", "bash")
    checked = subprocess.run(["bash", "-n"], input=out, text=True, capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.1,ContextKeyType=ip",
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"],
             "ContextKeyType": "ip"},
        ),
        (
            "ContextKeyName=aws:SourceIp,ContextKeyValues=10.0.0.1,10.0.0.2,ContextKeyType=ip",
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1", "10.0.0.2"],
             "ContextKeyType": "ip"},
        ),
        (
            "ContextKeyName=s3:prefix,ContextKeyValues=[a/,b/]",
            {"ContextKeyName": "s3:prefix", "ContextKeyValues": ["a/", "b/"]},
        ),
        (
            'ContextKeyName=aws:UserAgent,ContextKeyValues="x, y"',
            {"ContextKeyName": "aws:UserAgent", "ContextKeyValues": ["x, y"]},
        ),
        (
            '{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["1.2.3.4"]}',
            {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["1.2.3.4"]},
        ),
    ],
)  # fmt: skip
def test_context_key_accepts_the_aws_cli_shorthand_and_json(text: str, expected: object) -> None:
    assert context_key(text, "--context-key[0]") == expected


@pytest.mark.parametrize(
    "text",
    ["aws:SourceIp=1.2.3.4", "ContextKeyValues=1", "ContextKeyName=a,ContextKeyName=b", "{nope"],
)
def test_a_context_key_that_is_neither_exits_2_naming_it(text: str) -> None:
    with pytest.raises(InputError, match=r"--context-key\[0\]"):
        context_key(text, "--context-key[0]")


def test_shorthand_and_json_context_keys_diagnose_alike(capsys: pytest.CaptureFixture[str]) -> None:
    request = json.loads((SOURCE_IP / "request.json").read_text())
    base = [
        "diagnose", "--snapshot", str(SOURCE_IP / "snapshot.json"), "--output", "json",
        "--resource-arn", request["resource_arn"], "--action", request["action"],
        "--requester-arn", request["requester_arn"],
    ]  # fmt: skip
    shorthand = "ContextKeyName=aws:SourceIp,ContextKeyValues=203.0.113.9,ContextKeyType=ip"
    as_json = json.dumps(context_key(shorthand, "x"))
    _, by_shorthand, _ = _main(capsys, *base, "--context-key", shorthand)
    _, by_json, _ = _main(capsys, *base, "--context-key", as_json)
    assert json.loads(by_shorthand)["decision"] == json.loads(by_json)["decision"]
    assert json.loads(by_shorthand)["request"] == json.loads(by_json)["request"]


def test_profile_wins_over_credentials_in_the_environment() -> None:
    args = cli.build_parser().parse_args(
        ["collect", "--bucket", "b", "--out", "-", "--profile", "audit", "--region", "eu-west-1"]
    )
    changes = aws_environment(args)
    assert changes["AWS_PROFILE"] == "audit"
    assert changes["AWS_ACCESS_KEY_ID"] is None
    assert changes["AWS_REGION"] == changes["AWS_DEFAULT_REGION"] == "eu-west-1"


def test_the_environment_is_restored_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    before = dict(os.environ)
    _main(capsys, "--endpoint-url", "http://127.0.0.1:1", "--profile", "x", "diagnose", *OFFLINE)
    assert dict(os.environ) == before


_HIDE_BOTO3 = """
import sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("boto3", "botocore"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
from chalicelib.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _without_boto3(*argv: str) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[3]
    return subprocess.run(
        [sys.executable, "-c", _HIDE_BOTO3, *argv],
        capture_output=True, text=True, cwd=root, check=False, timeout=60,
    )  # fmt: skip


def test_without_boto3_offline_works_and_aws_commands_name_the_extra() -> None:
    assert _without_boto3("--help").returncode == 0
    offline = _without_boto3("diagnose", *OFFLINE)
    assert offline.returncode == 0, offline.stderr
    live = _without_boto3("--region", "eu-west-1", "collect", "--bucket", "b", "--out", "-")
    assert live.returncode == 2
    assert live.stderr.strip().endswith("pip install 's3-403-doctor[aws]'")


def test_a_bad_query_says_what_is_wrong_and_where(capsys: pytest.CaptureFixture[str]) -> None:
    """jmespath's message ends on lines of their own; the one line kept said "Incomplete
    expression:" and stopped there."""
    code, _, err = _main(capsys, "diagnose", *OFFLINE, "--query", "causes[0")
    assert code == 2
    assert err.strip().endswith("Incomplete expression at character 9")


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_output_cut_short_by_its_reader_ends_quietly(
    tmp_path: Path, jobs: str, unbuffered: str
) -> None:
    """`s3doctor diagnose --batch F | head -n 1`: the batch stops when `head` has its line,
    without a traceback or an error about the pipe (nor one when Python flushes what its
    buffer holds on the way out)."""
    request = json.loads((SCENARIO / "request.json").read_text())
    path = tmp_path / "batch.jsonl"
    path.write_text("".join(json.dumps({"id": i, "request": request}) + "\n" for i in range(3000)))
    command = [sys.executable, "-m", "chalicelib.cli", "diagnose", "--snapshot"]
    command += [str(SCENARIO / "snapshot.json"), "--batch", str(path), "--jobs", jobs]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env.update({"PYTHONUNBUFFERED": unbuffered} if unbuffered else {})
    batch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert batch.stdout is not None and batch.stderr is not None
    first = batch.stdout.readline()
    batch.stdout.close()  # as `head -n 1` does once it has its line
    err = batch.stderr.read()
    batch.wait(timeout=60)

    assert json.loads(first)["id"] == 0
    assert err == b""
    assert batch.returncode == 1
