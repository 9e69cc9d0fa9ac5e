"""The embedded default (`s3doctor demo`, DESIGN 3.6): the whole flow on a local moto server."""

from .run import run_demo

__all__ = ["run_demo"]
