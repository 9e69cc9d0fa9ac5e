"""What every `s3doctor` command shares: the AWS CLI's global options, colour, `--output` and
`--query`, and the one-line hint when the `aws` extra (boto3) is not installed.

No boto3 here: the commands that call AWS import it when they run.
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
from pathlib import Path
from typing import Any, Final, TextIO

from ..model import InputError

AWS_EXTRA_HINT = "pip install 's3-403-doctor[aws]'"
AWS_MODULES = frozenset({"boto3", "botocore", "chalice", "aws_lambda_powertools", "s3transfer"})


class MissingAwsExtra(Exception):
    """A command needs AWS and boto3 is not installed."""

    def __init__(self, module: str) -> None:
        super().__init__(
            f"this command calls AWS and needs {module}, which is not installed: {AWS_EXTRA_HINT}"
        )


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's help, wrapped at spaces only: URLs, ARNs and names stay whole to copy."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(
            " ".join(text.split()), width, break_on_hyphens=False, break_long_words=False
        )


def is_missing_aws_module(error: BaseException) -> bool:
    return (
        isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in AWS_MODULES
    )


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options accepted before and after the subcommand (`suppress`: on a subcommand, an
    option not given leaves the value given before the subcommand in place)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    own = parser._option_string_actions
    options: list[tuple[tuple[str, ...], dict[str, Any]]] = [
        (
            ("-v", "--verbose"),
            {"action": "store_true", "help": "log progress to stderr"},
        ),
        (
            ("--color",),
            {
                "choices": ("auto", "always", "never"),
                "help": "colour the text output: auto (a terminal, unless NO_COLOR is set), "
                "always or never (default: auto)",
            },
        ),
        (
            ("--profile",),
            {
                "metavar": "NAME",
                "help": "AWS profile of ~/.aws/config, as in the AWS CLI (default: $AWS_PROFILE "
                "or the default credential chain), e.g. --profile audit",
            },
        ),
        (
            ("--region",),
            {
                "metavar": "REGION",
                "help": "AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION or the profile's), "
                "e.g. --region eu-west-1",
            },
        ),
        (
            ("--endpoint-url",),
            {
                "metavar": "URL",
                "help": "send every AWS call to this endpoint (default: $AWS_ENDPOINT_URL), e.g. "
                "a moto server or LocalStack: --endpoint-url http://127.0.0.1:5000",
            },
        ),
    ]
    for names, kwargs in options:
        if any(name in own for name in names):
            continue
        store_true = kwargs.get("action") == "store_true"
        parser.add_argument(*names, default=default(False if store_true else None), **kwargs)


def add_output_before(parser: argparse.ArgumentParser) -> None:
    """`--output` before the subcommand (`s3doctor --output json findings list`): checked and
    applied by `apply_output_before` once the subcommand is known."""
    parser.add_argument(
        "--output",
        dest="output_before",
        metavar="FORMAT",
        help="output format of the subcommand, as its own --output (which wins when both are "
        "given): json or yaml for scripts, text, table or markdown for people, as the "
        "subcommand offers (see its --help), e.g. --output json findings list",
    )


def output_defaults(parser: argparse.ArgumentParser) -> dict[str, Any]:
    """What `apply_output_before` needs to know of a subcommand's parser: its `--output`
    choices (empty: it has no --output) and its name."""
    choices: tuple[str, ...] = ()
    for action in parser._actions:
        if "--output" in action.option_strings:
            choices = tuple(action.choices or ())
    return {"output_choices": choices, "output_command": parser.prog.removeprefix("s3doctor ")}


def apply_output_before(args: argparse.Namespace) -> None:
    """`--output` given before the subcommand becomes the subcommand's, unless the subcommand's
    own `--output` was given (after wins); `InputError` (exit 2) naming the allowed values when
    the subcommand has no such format, or no `--output` at all."""
    before: str | None = getattr(args, "output_before", None)
    choices: tuple[str, ...] | None = getattr(args, "output_choices", None)
    if before is None or choices is None:  # not given, or a command that cannot load
        return
    command = getattr(args, "output_command", None) or "this command"
    if not choices:
        raise InputError("--output", f"`{command}` has no --output: drop it (given before it)")
    if before not in choices:
        raise InputError(
            "--output", f"`{command}` allows {', '.join(choices)}; not {before!r} (given before it)"
        )
    if getattr(args, "output", None) is None:
        args.output = before


def add_query_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--query",
        metavar="JMESPATH",
        help="JMESPath query applied to the JSON output, as in the AWS CLI; implies --output "
        "json unless yaml is asked for, e.g. --query 'causes[0].code'",
    )


def aws_environment(args: argparse.Namespace) -> dict[str, str | None]:
    """The environment the global AWS options stand for (None: remove the variable).

    An explicit `--profile` wins over credentials in the environment, as in the AWS CLI."""
    changes: dict[str, str | None] = {}
    profile = getattr(args, "profile", None)
    if profile:
        changes["AWS_PROFILE"] = profile
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            changes[name] = None
    region = getattr(args, "region", None)
    if region:
        changes["AWS_REGION"] = changes["AWS_DEFAULT_REGION"] = region
    endpoint = getattr(args, "endpoint_url", None)
    if endpoint:
        changes["AWS_ENDPOINT_URL"] = endpoint
    return changes


def use_color(args: argparse.Namespace, stream: TextIO) -> bool:
    """`--color always|never`, or `auto`: a terminal, unless NO_COLOR is set (no-color.org)."""
    choice = getattr(args, "color", None) or "auto"
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    return os.environ.get("TERM") != "dumb" and stream.isatty()


def output_format(
    args: argparse.Namespace, *, default: str, structured: tuple[str, ...] = ("json", "yaml")
) -> str:
    """The `--output` asked for; `--query` without `--output` means json; `--query` with a
    format that is not JSON-shaped is refused (exit 2)."""
    chosen: str | None = getattr(args, "output", None)
    query = getattr(args, "query", None)
    if query is not None:
        if chosen is None:
            return "json"
        if chosen not in structured:
            raise InputError("--query", f"applies to JSON output: use --output json, not {chosen}")
    if chosen == "yaml":
        _yaml()
    return chosen or default


def structured(document: Any, args: argparse.Namespace, output: str) -> str:
    """`document` filtered by `--query`, as JSON (AWS CLI style: indented) or YAML."""
    query = getattr(args, "query", None)
    if query is not None:
        import jmespath  # only with --query: a run without it does not load it
        from jmespath.exceptions import JMESPathError

        try:
            document = jmespath.search(query, document)
        except JMESPathError as error:
            raise InputError("--query", query_error(error)) from None
    if output == "yaml":
        dumped: str = _yaml().safe_dump(document, sort_keys=True, allow_unicode=True)
        return dumped
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _yaml() -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ModuleNotFoundError:
        raise InputError(
            "--output",
            "yaml needs PyYAML, which is not installed: pip install 's3-403-doctor[yaml]'",
        ) from None
    return yaml


def query_error(error: BaseException) -> str:
    """A JMESPath parse error in one line: jmespath's message ends with the expression and a
    caret on lines of their own, which the first line alone cut off ("Incomplete expression:")."""
    text = first_line(error).rstrip(": ")
    position = getattr(error, "lex_position", None)
    where = f" at character {position + 1}" if isinstance(position, int) else ""
    return f"not a JMESPath expression: {text}{where}"


_GZIP: Final = b"\x1f\x8b"


def file_text(path: Path) -> str:
    """A file's UTF-8 text, gunzipped first when it is gzip (CloudTrail log files as S3 stores
    them). Raises OSError, EOFError or UnicodeDecodeError: the caller names its option."""
    raw = path.read_bytes()
    if raw[:2] == _GZIP:
        import gzip  # here: the other files, most, need not load it (1 ms of every start)

        raw = gzip.decompress(raw)
    return raw.decode("utf-8")


def first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
