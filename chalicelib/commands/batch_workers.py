"""`diagnose --batch --jobs N` and `replay --jobs N`: the lines of a batch (the records of a
replay) answered by N worker processes, in order: a batch from a pipe, or on a system without
fork (a regular file on Linux is read by its workers themselves: `forked_lines`), and a replay.

Each answer is a function of its line and the batch's snapshot files alone, so any process may
answer any line: the lines go to the workers in chunks, and the answers come back in the order
of the lines, whatever order the chunks end in. Each worker answers its chunks with the very
generator that answers a batch in one process (`answer_lines`), kept alive across its chunks,
so its snapshots, compiled policies and caches stay loaded as they would in one process.

At most `WINDOW` chunks per worker are read ahead of the answers written: a batch of any size
is read as it is answered. A worker that dies (killed, out of memory) stops the batch with an
error, never a wait: what was written is the answers of the first lines, in order (the pool may
lose the answers its workers had sent but it had not yet taken); Ctrl-C stops the workers with
the batch.
On Linux the workers are forked (they start with the modules already loaded); elsewhere they
are spawned, and each imports the package first.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..model import InputError

if TYPE_CHECKING:
    from concurrent.futures import Future

Line = TypeVar("Line")  # a batch's (number, bytes), a replay's (number, record)
Answer = TypeVar("Answer")

WINDOW: Final = 4
"""Chunks per worker sent ahead of the answers written."""
FULL_CHUNK: Final = 16
"""Lines per chunk of full findings (a few milliseconds of work each)."""
DECISION_CHUNK: Final = 256
"""Lines per chunk of decisions (tens of microseconds each)."""
START_METHOD = "fork" if sys.platform == "linux" else "spawn"
"""How the workers start: forked on Linux (the modules already loaded), spawned elsewhere."""


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def jobs_wanted(value: int | None) -> int:
    """The worker processes `--jobs` asks for: 1 when not given, every CPU for 0; more than
    `PER_CPU` a CPU is refused (each worker holds the snapshot and its caches, for no speed)."""
    if value is None:
        return 1
    if value < 0:
        raise InputError("--jobs", f"expected 0 (one per CPU) or a positive count, got {value}")
    cpus = cpu_count()
    if value > PER_CPU * cpus:
        raise InputError(
            "--jobs", f"at most {PER_CPU * cpus} here ({cpus} CPUs), got {value}; 0 is one per CPU"
        )
    return value or cpus


PER_CPU: Final = 4
"""Most workers a CPU that `--jobs` takes."""

AUTO_MAX: Final = 4
"""Most workers a command starts unasked (`unasked_jobs`): each holds the snapshot and what it
remembers."""


WORKER_BYTES: Final = 64 << 20
"""Memory a worker takes before it loads a snapshot (the interpreter and the package)."""
LOADED_PER_BYTE: Final = 10
"""Memory a worker takes for each byte of its snapshot file: the snapshot loaded and what its
diagnoses remember (a 7.3 MB file: 41 MB loaded, 73 MB after 300 findings)."""
MEMINFO = Path("/proc/meminfo")


def unasked_jobs(snapshot: Path | None = None) -> int:
    """The workers of a command that spreads its work without `--jobs`: one per CPU, at most
    `AUTO_MAX`, and no more than half the memory available holds, each with its own copy of
    `snapshot` loaded (a large organization's snapshot is diagnosed by fewer workers, or in
    one process)."""
    jobs = min(cpu_count(), AUTO_MAX)
    if jobs == 1 or snapshot is None:
        return jobs
    available = available_memory()
    try:
        size = snapshot.stat().st_size
    except OSError:
        return jobs  # loading it says why
    if available is None:
        return jobs
    return max(1, min(jobs, available // 2 // (WORKER_BYTES + LOADED_PER_BYTE * size)))


def available_memory() -> int | None:
    """The memory available to new processes without swapping (`MemAvailable`, Linux); None
    where it is not known."""
    try:
        with MEMINFO.open(encoding="ascii") as meminfo:
            for line in meminfo:
                name, _, value = line.partition(":")
                if name == "MemAvailable":
                    number, unit = value.split()
                    return int(number) * (1024 if unit == "kB" else 1)
    except (OSError, ValueError):
        return None
    return None


def answers_in_parallel(
    lines: Iterator[Line],
    args: argparse.Namespace,
    jobs: int,
    answer_lines: Callable[[Iterator[Line], argparse.Namespace], Iterator[Answer]],
    *,
    chunk: int | None = None,
) -> Generator[Answer, None, None]:
    """The answers of `answer_lines(lines, args)`, in order, made by `jobs` processes, the
    lines sent `chunk` at a time (by default as many as a full finding or a decision is
    worth)."""
    import multiprocessing  # here: every `diagnose` would pay for it at start-up (25 ms)
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    size = chunk or (DECISION_CHUNK if getattr(args, "detail", None) == "decision" else FULL_CHUNK)
    pool = ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context(START_METHOD),
        initializer=_start,
        initargs=(args, answer_lines),
    )
    pending: deque[Future[list[Answer]]] = deque()
    try:
        for part in _chunks(lines, size):
            pending.append(pool.submit(_answer, part))
            if len(pending) >= WINDOW * jobs:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    except BrokenProcessPool:
        raise WorkerDied(died("stopped without answering (killed, or out of memory)")) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class WorkerDied(RuntimeError):
    """A worker process ended without answering its lines."""


def died(what: str) -> str:
    """The message of a batch that a worker stopped: what the worker did, what was written."""
    return (
        f"a worker process of --jobs {what}: the answers written are those of the first "
        "lines, in order; run the batch again, or with fewer --jobs"
    )


def _chunks(lines: Iterable[Line], size: int) -> Iterator[list[Line]]:
    it = iter(lines)
    while chunk := list(islice(it, size)):
        yield chunk


# ----------------------------------------------------------------------------- in a worker


class Feed:
    """The lines of the chunk at hand, for a generator that lives across chunks: it takes one
    line per answer it gives, so it never asks past the chunk's last line."""

    def __init__(self) -> None:
        self.lines: Iterator[Any] = iter(())

    def __iter__(self) -> Feed:
        return self

    def __next__(self) -> Any:
        return next(self.lines)


_feed = Feed()
_answers: Iterator[Any] = iter(())


def _start(
    args: argparse.Namespace, answer_lines: Callable[[Iterator[Any], argparse.Namespace], Any]
) -> None:
    global _answers
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
    _answers = answer_lines(_feed, args)


def _answer(chunk: list[Any]) -> list[Any]:
    _feed.lines = iter(chunk)
    return [next(_answers) for _ in chunk]
