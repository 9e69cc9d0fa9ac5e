"""The `s3doctor` command: diagnose, collect, findings, replay, demo.

Exit status (DESIGN 3.4): 0 a diagnosis was made (whatever its decision), 2 bad input (one clear
line on stderr naming the field), 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from chalicelib.model import InputError

# Each module exposes `register(subparsers)`; its parser sets `func(args) -> int`.
COMMANDS = ("diagnose", "collect", "findings", "replay", "demo")
# What to do about the failures a new user meets first (by exception class name).
HINTS = {
    "NoCredentialsError": "configure AWS credentials, or pass --snapshot S.json to work offline",
    "NoRegionError": "set AWS_REGION (or AWS_DEFAULT_REGION), or pass --region",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3doctor",
        description="Explain S3 403 AccessDenied errors and say how to fix them.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"chalicelib.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except InputError as error:
        print(f"s3doctor {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        logging.getLogger(__name__).debug("failure", exc_info=True)
        hint = HINTS.get(type(error).__name__)
        suffix = f" ({hint})" if hint else ""
        print(f"s3doctor {args.command}: {type(error).__name__}: {error}{suffix}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
