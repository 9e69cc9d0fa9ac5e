"""`diagnose --batch FILE --jobs N` on Linux: the lines of a regular file answered by N forked
workers that read the file themselves, and written in the order of the lines.

The lines after the first are cut into chunks; the i-th chunk is worker `i % N`'s. Each worker
reads the whole file, answers its own chunks with the generator that answers a batch in one
process, and sends their text back through its own pipe; this process reads the pipes in the
order of the chunks and writes what they hold. It neither hands lines to the workers nor takes
their answers apart, as `batch_workers`' pool does (kept for a pipe, which cannot be read twice,
and for systems without fork): that pool's hand-offs cost this process 27 µs of CPU a line of
full findings, beside the workers on the same CPUs, and left its workers waiting for a third
of their time (docs/benchmarks.md, twentieth round).

This process answers the first line itself before it forks: each worker starts with the
modules, the snapshot and its compiled policies loaded (a copy of them), and with what the
first diagnosis remembered, rather than loading them again; all of it frozen out of the
collector's walks first (`gc.freeze`), so that no collection here or in a worker walks it.

A worker that dies (killed, out of memory) or fails stops the batch with `WorkerDied` once the
answers of the chunks before its own are written; Ctrl-C stops the workers with the batch. A
worker waits when its pipe is full (`PIPE_BYTES`, a few chunks of findings): memory stays
bounded when one worker is ahead of the others.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import struct
from collections.abc import Callable, Generator, Iterator
from itertools import count, islice
from pathlib import Path
from typing import BinaryIO, Final, NoReturn

from .batch_workers import Feed, WorkerDied, died

Line = tuple[int, bytes]

PIPE_BYTES: Final = 1 << 20
"""The capacity asked of each worker's pipe (Linux allows an unprivileged process 1 MiB)."""

_HEADER: Final = struct.Struct("<cII")  # kind, answers, bytes
_ANSWERS: Final = b"A"  # a chunk's answers, each followed by a newline
_END: Final = b"E"  # no chunk left
_FAILED: Final = b"X"  # the worker failed: the error's text


def answer_blocks(
    path: Path,
    args: argparse.Namespace,
    jobs: int,
    answer_lines: Callable[[Iterator[Line], argparse.Namespace], Iterator[str]],
    read: Callable[[BinaryIO], Iterator[Line]],
    *,
    chunk: int,
) -> Generator[tuple[int, str], None, None]:
    """(n, the text of n answers, each followed by a newline) in the order of the lines of
    `path` (`read(handle)` gives them), answered by `answer_lines` in `jobs` forked workers,
    the first line here."""
    feed = Feed()
    answers = answer_lines(feed, args)
    with path.open("rb") as handle:
        first = list(islice(read(handle), 1))
    if not first:
        return
    feed.lines = iter(first)
    yield 1, next(answers) + "\n"
    # What the first line loaded lives to the end: out of the collector's walks, here (whose
    # exit would walk it) and in the workers (as the batch would after its next line).
    gc.freeze()
    workers = _Workers(path, read, feed, answers, chunk, jobs)
    try:
        for worker in range(jobs):
            workers.fork(worker)
        for index in count():
            pipe = workers.pipes[index % jobs]
            header = pipe.read(_HEADER.size)
            kind, answered, size = (
                _HEADER.unpack(header) if len(header) == _HEADER.size else (b"", 0, 0)
            )
            payload = pipe.read(size)
            if kind == _END:
                return
            if kind == _FAILED:
                raise WorkerDied(died(f"failed ({payload.decode('utf-8', 'replace')})"))
            if kind != _ANSWERS or len(payload) != size:
                raise WorkerDied(died("stopped without answering (killed, or out of memory)"))
            yield answered, payload.decode("utf-8", "surrogatepass")
    finally:
        workers.stop()


class _Workers:
    """The forked workers of a batch, and the read ends of their pipes."""

    def __init__(
        self,
        path: Path,
        read: Callable[[BinaryIO], Iterator[Line]],
        feed: Feed,
        answers: Iterator[str],
        chunk: int,
        jobs: int,
    ) -> None:
        self.path, self.read, self.feed, self.answers = path, read, feed, answers
        self.chunk, self.jobs = chunk, jobs
        self.pids: list[int] = []
        self.pipes: list[BinaryIO] = []

    def fork(self, worker: int) -> None:
        """Start worker `worker` (0, 1, ...: which chunks are its own)."""
        out, into = os.pipe()
        try:
            import fcntl  # here: not on Windows, where this module is never run

            fcntl.fcntl(into, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:  # a lower limit (/proc/sys/fs/pipe-max-size): the default 64 KiB
            pass
        try:
            pid = os.fork()
        except OSError:  # no process to be had: the batch stops, saying why
            os.close(out)
            os.close(into)
            raise
        if pid == 0:  # the worker: never returns to the batch's code
            try:
                os.close(out)
                for other in self.pipes:
                    other.close()
                self._work(worker, into)
            finally:
                os._exit(1)
        os.close(into)
        self.pids.append(pid)
        self.pipes.append(os.fdopen(out, "rb"))

    def _work(self, worker: int, into: int) -> NoReturn:
        """Answer the chunks of `worker` into its pipe, then end the process (its parent's
        buffers, handlers and `finally` blocks are not its own)."""
        code = 0
        with os.fdopen(into, "wb") as pipe:
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
                with self.path.open("rb") as handle:
                    lines = self.read(handle)
                    next(lines, None)  # the first line, answered before the fork
                    chunks = iter(lambda: list(islice(lines, self.chunk)), [])
                    for index, part in enumerate(chunks):
                        if index % self.jobs == worker:
                            self._answer(part, pipe)
                pipe.write(_HEADER.pack(_END, 0, 0))
                pipe.flush()
            except BaseException as error:  # told to the batch, then the process ends
                code = 1
                reason = f"{type(error).__name__}: {error}".encode("utf-8", "replace")
                try:
                    pipe.write(_HEADER.pack(_FAILED, 0, len(reason)) + reason)
                    pipe.flush()
                except OSError:  # the batch stopped reading
                    pass
            finally:
                os._exit(code)

    def _answer(self, part: list[Line], pipe: BinaryIO) -> None:
        self.feed.lines = iter(part)
        answers = self.answers
        data = "".join(next(answers) + "\n" for _ in part).encode("utf-8", "surrogatepass")
        pipe.write(_HEADER.pack(_ANSWERS, len(part), len(data)))
        pipe.write(data)
        pipe.flush()

    def stop(self) -> None:
        """Close the pipes, stop the workers still running (one blocked on a full pipe, or
        answering a batch that stopped) and wait for them."""
        for pipe in self.pipes:
            pipe.close()
        for pid in self.pids:
            os.kill(pid, signal.SIGTERM)  # not yet waited for: never an error
        for pid in self.pids:
            os.waitpid(pid, 0)
