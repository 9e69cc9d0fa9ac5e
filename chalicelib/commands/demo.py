"""`s3doctor demo`: the whole flow on a local moto server, no AWS account, no network."""

from __future__ import annotations

import argparse

from ..model import InputError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo` to the `s3doctor` parser."""
    parser = subparsers.add_parser(
        "demo",
        help="run the whole flow on a local moto server (no AWS account needed)",
        description=__doc__,
    )
    for flag in _AWS_FLAGS:  # the global ones, left out of the demo's --help: it refuses them
        parser.add_argument(flag, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(func=_run)


_AWS_FLAGS = ("--profile", "--region", "--endpoint-url")


def _run(args: argparse.Namespace) -> int:
    for flag in _AWS_FLAGS:
        if getattr(args, flag[2:].replace("-", "_"), None) is not None:
            raise InputError(
                flag, "the demo runs on its own local moto server, with no AWS account or region"
            )
    from ..demo import run_demo  # moto and chalice load only when the demo runs

    return run_demo()
