"""The `s3doctor` command: diagnose, collect, findings, replay, demo, completion.

Exit status: 0 a diagnosis was made (whatever its decision), 2 bad input (one clear line on
stderr naming the field; also a command that needs the `aws` extra when boto3 is not
installed), 1 anything else.

The global options (`-v`, `--color`, `--profile`, `--region`, `--endpoint-url`) are accepted
before and after the subcommand, as in the AWS CLI; after wins. `--output` is accepted before
the subcommand too, for the subcommands that have it and with their values (anything else is
refused: exit 2, one line naming the values the subcommand allows). Only the commands that
call AWS import boto3, so `--help`, `--version`, `completion` and offline `diagnose --snapshot`
work with the core dependencies alone.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .commands.options import (
    AWS_EXTRA_HINT,
    HelpFormatter,
    MissingAwsExtra,
    add_global_options,
    add_output_before,
    apply_output_before,
    aws_environment,
    is_missing_aws_module,
    output_defaults,
)
from .model import InputError

# Each module exposes `register(subparsers)`; its parser sets `func(args) -> int`.
COMMANDS = ("diagnose", "collect", "findings", "replay", "demo")
SHELLS = ("bash", "zsh", "tcsh")
# What to do about the failures a new user meets first (by exception class name).
HINTS = {
    "NoCredentialsError": "configure AWS credentials, or pass --snapshot S.json to work offline",
    "NoRegionError": "set AWS_REGION (or AWS_DEFAULT_REGION), or pass --region",
    "ProfileNotFound": "check --profile (or AWS_PROFILE) against `aws configure list-profiles`",
}


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("s3-403-doctor")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any, **__: Any) -> None:
        from .engine import ENGINE_VERSION

        print(f"s3doctor {package_version()} (engine {ENGINE_VERSION})")
        parser.exit()


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only`, the other subcommands are placeholders (their
    modules, some of which import boto3, are not loaded: `main` then parses again in full if
    the line names another one)."""
    parser = argparse.ArgumentParser(
        prog="s3doctor",
        description="Explain S3 403 AccessDenied errors and say how to fix them.",
        epilog="Examples:\n"
        "  s3doctor diagnose --snapshot S.json --event E.json\n"
        "  s3doctor --profile audit collect --bucket my-bucket --out S.json\n"
        "  s3doctor findings list --since 24h --stack s3-403-doctor-prod\n"
        "  s3doctor completion bash > ~/.local/share/bash-completion/completions/s3doctor",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the version of s3doctor and of its evaluation engine, and exit",
    )
    add_global_options(parser, suppress=False)
    add_output_before(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        if only is not None and name != only:
            _register_placeholder(subparsers, name)
            continue
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as error:
            if not is_missing_aws_module(error):
                raise
            _register_unavailable(subparsers, name, error.name or "boto3")
            continue
        module.register(subparsers)
    _register_completion(subparsers)
    for sub in _subcommand_parsers(parser):
        if sub.prefix_chars != TAKES_ANYTHING:  # not a placeholder nor an unavailable command
            add_global_options(sub, suppress=True)
            sub.set_defaults(**output_defaults(sub))  # the subcommand's --output, if any
    return parser


TAKES_ANYTHING = "\0"  # the prefix_chars of a parser that takes every argument as is


def _register_placeholder(subparsers: Any, name: str) -> None:
    """A subcommand not loaded: it takes any arguments, so that `main` can tell it was named."""
    parser = subparsers.add_parser(name, prefix_chars=TAKES_ANYTHING, add_help=False)
    parser.add_argument("arguments", nargs=argparse.REMAINDER)


def _named_command(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` seems to name (its first token that is one), unless a help option
    comes before it (the top-level help lists every subcommand)."""
    for token in argv:
        if token in COMMANDS or token == "completion":
            return token
        if token.startswith(("-h", "--h")):
            return None
    return None


def _register_unavailable(subparsers: Any, name: str, module: str) -> None:
    """A command whose module needs boto3: it says which extra to install."""
    # every argument is taken as is (no option parsing), so that the hint is what is printed
    parser = subparsers.add_parser(
        name,
        help=f"(needs the aws extra: {AWS_EXTRA_HINT})",
        prefix_chars=TAKES_ANYTHING,
        add_help=False,
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def unavailable(args: argparse.Namespace) -> int:
        raise MissingAwsExtra(module)

    parser.set_defaults(func=unavailable)


def _register_completion(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print the completion script for bash, zsh or tcsh.",
        epilog="Examples:\n"
        "  s3doctor completion bash > ~/.local/share/bash-completion/completions/s3doctor\n"
        '  s3doctor completion zsh > "${fpath[1]}/_s3doctor"',
        formatter_class=HelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in, e.g. bash")
    parser.set_defaults(func=_completion)


def _completion(args: argparse.Namespace) -> int:
    import shtab

    script: str = shtab.complete(build_parser(), shell=args.shell)
    sys.stdout.write(script if script.endswith("\n") else script + "\n")
    return 0


def _subcommand_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield sub
                yield from _subcommand_parsers(sub)


@contextlib.contextmanager
def _environment(changes: Mapping[str, str | None]) -> Iterator[None]:
    """The process environment with `changes` (None: removed), restored afterwards."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    named = _named_command(argv)  # start-up: load the modules of that subcommand alone
    args = build_parser(only=named).parse_args(argv)
    if named is not None and args.command != named:
        args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        apply_output_before(args)
        with _environment(aws_environment(args)):
            code: int = args.func(args)
    except (InputError, MissingAwsExtra) as error:
        print(f"s3doctor {args.command}: {_shown(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # what reads the output went away (`| head`): stop, quietly
        _quiet_stdout()
        return 1
    except Exception as error:
        if is_missing_aws_module(error):
            missing = MissingAwsExtra(getattr(error, "name", None) or "boto3")
            print(f"s3doctor {args.command}: {missing}", file=sys.stderr)
            return 2
        logging.getLogger(__name__).debug("failure", exc_info=True)
        hint = HINTS.get(type(error).__name__)
        suffix = f" ({hint})" if hint else ""
        shown = _shown(f"{type(error).__name__}: {error}")
        print(f"s3doctor {args.command}: {shown}{suffix}", file=sys.stderr)
        return 1
    return code


def _quiet_stdout() -> None:
    """Point stdout at the null device: what is left in its buffer would fail again, with a
    traceback, when Python flushes it on the way out."""
    with contextlib.suppress(OSError, ValueError):  # no file descriptor (a test's stream)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def _shown(error: object) -> str:
    """An error's text on stderr: it may quote input (a key, a file's content), so controls and
    bidi characters are escaped (`untrusted.message`; imported here, on the error path alone,
    not to load the diagnosis at start-up)."""
    from .diagnose.untrusted import message

    return message(error)


if __name__ == "__main__":
    raise SystemExit(main())
