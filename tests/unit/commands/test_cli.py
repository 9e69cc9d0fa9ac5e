"""The `s3doctor` entry point: exit codes and the hints for a new user's first failures."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from chalicelib import cli


class NoCredentialsError(Exception):
    """Stands for botocore's: the CLI recognises it by name, without importing botocore."""


def test_missing_credentials_say_how_to_work_offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise NoCredentialsError("Unable to locate credentials")

    parser = cli.build_parser()
    original = parser.parse_args

    def parse(argv: list[str] | None = None) -> argparse.Namespace:
        args = original(argv)
        args.func = fail
        return args

    monkeypatch.setattr(cli, "build_parser", lambda only=None: parser)
    monkeypatch.setattr(parser, "parse_args", parse)
    code = cli.main(["diagnose", "--resource-arn", "arn:aws:s3:::b/k"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Unable to locate credentials" in err
    assert "--snapshot S.json to work offline" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["frobnicate"])
    assert stopped.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--profile", "prod"],
        ["--region", "eu-west-1", "demo"],
        ["demo", "--endpoint-url", "http://127.0.0.1:5000"],
    ],
)
def test_demo_refuses_the_aws_options_it_would_ignore(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(argv)

    flag = next(token for token in argv if token.startswith("--"))
    assert code == 2
    assert capsys.readouterr().err.startswith(f"s3doctor demo: {flag}: the demo runs on its own")


def test_demo_help_does_not_offer_the_aws_options_it_refuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.main(["demo", "--help"])

    shown = capsys.readouterr().out
    assert stopped.value.code == 0
    assert "--color" in shown
    for flag in ("--profile", "--region", "--endpoint-url"):
        assert flag not in shown


def test_an_error_line_shows_the_input_it_quotes_as_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file name (or a file's content) an error quotes cannot colour, move or reorder the
    terminal's text: its control and bidi characters are escaped."""
    hostile = tmp_path / "S\x1b[2J\u202e.json"
    code = cli.main(["diagnose", "--snapshot", str(hostile), "--request", str(hostile)])

    err = capsys.readouterr().err
    assert code == 2
    assert "\x1b" not in err and "\u202e" not in err
    assert "S\\x1b[2J\\u202e.json" in err
