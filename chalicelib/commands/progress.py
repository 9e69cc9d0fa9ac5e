"""Progress of long commands on stderr, with tqdm: rate and ETA on a terminal, nothing on a pipe.

Every long command uses this module (`replay`, `diagnose --batch` with full findings, `collect`),
so they look and behave alike:

- `bar(total, desc=..., unit=...)`: a bar that counts items (`advance()` per item), with the
  rate and, when the total is known, the ETA. Redrawn at most ten times a second, never per item.
- `Progress.report(done, total)`: the same bar fed by a hook that says where it is (`collect`:
  `Boto3SnapshotSource(on_progress=...)` per read answered; the total grows as answers name
  more to read, so the ETA is that of the reads known so far).
- `waiting(desc)`: for one long call that cannot count its items (a collector without a
  progress hook): the elapsed time, ticking, until the call returns.

Both draw only when the stream (stderr by default) is a terminal: in a pipe, a CI log or a file
they write nothing at all, so the output of a command stays the same wherever it goes.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, BinaryIO, TextIO

REFRESH_SECONDS = 0.1
"""Shortest time between two redraws of a bar."""
TICK_SECONDS = 0.5
"""How often `waiting` redraws the elapsed time."""
FALLBACK_COLUMNS, FALLBACK_ROWS = 80, 24
"""Size of a terminal that does not say its own (a bare pty says 0x0: tqdm would hide the bar)."""


def on_terminal(stream: TextIO) -> bool:
    """Whether `stream` is a terminal (a closed or odd stream counts as not one)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _width(stream: TextIO) -> dict[str, Any]:
    """tqdm's size options: follow the terminal's size, or a fixed one when it reports none
    (tqdm would then draw nothing)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        size = os.terminal_size((0, 0))
    if size.columns > 0 and size.lines > 0:
        return {"dynamic_ncols": True}
    return {"ncols": FALLBACK_COLUMNS, "nrows": FALLBACK_ROWS}


class Progress:
    """Counts done items; draws a tqdm bar on a terminal, and is a no-op elsewhere."""

    def __init__(
        self,
        total: int | None,
        *,
        desc: str,
        unit: str = "item",
        stream: TextIO | None = None,
    ) -> None:
        stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._bar: Any = None
        if on_terminal(stream):
            # tqdm (80 ms to import) is loaded only where a bar is drawn
            from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

            self._bar = tqdm(
                total=total,
                desc=desc,
                unit=unit,
                file=stream,
                mininterval=REFRESH_SECONDS,
                leave=True,
                **_width(stream),
            )

    @property
    def drawing(self) -> bool:
        return self._bar is not None

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def report(self, done: int, total: int | None = None) -> None:
        """A progress hook: `done` items of `total` (None: unchanged) so far."""
        if self._bar is not None and total is not None and total != self._bar.total:
            self._bar.total = total
        self.advance(done - self.done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def bar(
    total: int | None, *, desc: str, unit: str = "item", stream: TextIO | None = None
) -> Progress:
    """A progress bar over `total` items (None: unknown, the rate alone)."""
    return Progress(total, desc=desc, unit=unit, stream=stream)


@contextmanager
def waiting(desc: str, *, stream: TextIO | None = None) -> Iterator[None]:
    """The elapsed time of one long call, redrawn every `TICK_SECONDS`, on a terminal only."""
    stream = stream if stream is not None else sys.stderr
    if not on_terminal(stream):
        yield
        return
    from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

    spinner = tqdm(
        total=None,
        desc=desc,
        file=stream,
        bar_format="{desc}: {elapsed}",
        mininterval=0,
        leave=True,
        **_width(stream),
    )
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_SECONDS):
            spinner.refresh()

    ticker = threading.Thread(target=tick, name="progress", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        stop.set()
        ticker.join()
        spinner.close()


def lines_bar(
    handle: BinaryIO,
    *,
    desc: str,
    unit: str = "line",
    stream: TextIO | None = None,
    enabled: bool = True,
) -> Progress:
    """A bar over the non-blank lines of a seekable file (counted, then rewound) — counted only
    when the bar will be drawn; `enabled=False` (a fast mode) gives a silent one."""
    stream = stream if stream is not None else sys.stderr
    if not enabled or not on_terminal(stream):
        return Progress(None, desc=desc, unit=unit, stream=_SILENT)
    total: int | None = None
    try:
        start = handle.tell()
        total = sum(1 for line in handle if line.strip())
        handle.seek(start)
    except (OSError, ValueError):  # not seekable (a pipe): the rate alone
        total = None
    return Progress(total, desc=desc, unit=unit, stream=stream)


class _Silent:
    """A stream that is never a terminal."""

    def isatty(self) -> bool:
        return False


_SILENT: Any = _Silent()
