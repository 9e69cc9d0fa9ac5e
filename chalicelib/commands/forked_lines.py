"""`diagnose --batch FILE --jobs N` on Linux: the lines of a regular file answered by N forked
workers that read the file themselves, and written in the order of the lines.

The lines after the first are cut into chunks, numbered from 0. Worker `i` answers chunk `i`
first; then each worker takes the number of its next chunk from a queue the workers share (a
pipe of tickets this process writes, in increasing order), so a worker on a faster CPU, or one
whose chunks cost less, answers more of them: the batch ends with both workers, not when the
slower one of a fixed share does (one of two ended 16-32% after the other in seven runs of ten,
docs/benchmarks.md, twenty-first round). Each worker reads the whole file, skips to the chunks
it takes (its numbers only increase), answers them with the generator that answers a batch in
one process, and sends their text back through its own pipe; this process reads whichever pipe
has a message, keeps a chunk that came early, and writes the chunks in order. It neither hands
lines to the workers nor takes their answers apart, as `batch_workers`' pool does (kept for a
pipe, which cannot be read twice, and for systems without fork): that pool's hand-offs cost
this process 27 µs of CPU a line of full findings, beside the workers on the same CPUs, and
left its workers waiting for a third of their time (docs/benchmarks.md, twentieth round).

This process answers the first line itself before it forks: each worker starts with the
modules, the snapshot and its compiled policies loaded (a copy of them), and with what the
first diagnosis remembered, rather than loading them again; all of it frozen out of the
collector's walks first (`gc.freeze`), so that no collection here or in a worker walks it.

Tickets go out at most `WINDOW` chunks a worker ahead of the chunk written next: memory stays
bounded whatever the batch's size, and when one worker is slow. A worker that dies (killed, out
of memory) or fails stops the batch with `WorkerDied`, after the answers of the first lines,
in order; Ctrl-C stops the workers with the batch.
"""

from __future__ import annotations

import argparse
import gc
import os
import selectors
import signal
import struct
from collections import deque
from collections.abc import Callable, Generator, Iterator
from itertools import count, islice
from pathlib import Path
from typing import BinaryIO, Final, NoReturn

from .batch_workers import WINDOW, Feed, WorkerDied, died

Line = tuple[int, bytes]

PIPE_BYTES: Final = 1 << 20
"""The capacity asked of each worker's pipe (Linux allows an unprivileged process 1 MiB)."""

_HEADER: Final = struct.Struct("<cIII")  # kind, chunk, answers, bytes
_ANSWERS: Final = b"A"  # a chunk's answers, each followed by a newline
_END: Final = b"E"  # the chunk is past the file's end
_FAILED: Final = b"X"  # the worker failed: the error's text
_TICKET: Final = struct.Struct("<I")  # the number of a chunk to answer
# A ticket is written whole and read whole: a pipe's writes and reads of a few bytes are.


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
        yield from workers.blocks()
    finally:
        workers.stop()


class _Workers:
    """The forked workers of a batch, the read ends of their pipes, and the queue of tickets
    they take their chunks from."""

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
        # The queue: tickets go in here and come out in the workers. Its end they read stays
        # open here too, so that a ticket written after every worker ended is no error (EPIPE).
        self.tickets_out, self.tickets_in = os.pipe()

    def fork(self, worker: int) -> None:
        """Start worker `worker` (0, 1, ...: its first chunk)."""
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
                os.close(self.tickets_in)  # the batch alone writes tickets: its close ends them
                for other in self.pipes:
                    other.close()
                self._work(worker, into)
            finally:
                os._exit(1)
        os.close(into)
        self.pids.append(pid)
        self.pipes.append(os.fdopen(out, "rb", buffering=0))

    def blocks(self) -> Iterator[tuple[int, str]]:
        """(n, text) of each chunk's answers in the order of the chunks, whichever worker
        answered it, until the file's end; tickets handed out `WINDOW` chunks a worker ahead."""
        ahead = WINDOW * self.jobs
        for number in range(self.jobs, ahead):  # each worker's first chunk is its own
            self._hand(number)
        early: dict[int, tuple[int, bytes]] = {}
        ended: int | None = None  # the number of chunks, once a worker reached the end
        with selectors.DefaultSelector() as selector:
            for worker, pipe in enumerate(self.pipes):
                selector.register(pipe, selectors.EVENT_READ, worker)
            for number in count():
                while number not in early:
                    if ended is not None and number >= ended:
                        return
                    if not selector.get_map():  # every worker said it reached the end
                        raise WorkerDied(died("stopped without answering its chunks"))
                    for key, _ in selector.select():
                        kind, chunk, answered, payload = _message(self.pipes[key.data])
                        if kind == _ANSWERS:
                            early[chunk] = (answered, payload)
                        elif kind == _FAILED:
                            reason = payload.decode("utf-8", "replace")
                            raise WorkerDied(died(f"failed ({reason})"))
                        else:  # _END: it said all it will
                            ended = chunk if ended is None else min(ended, chunk)
                            selector.unregister(key.fileobj)
                answered, payload = early.pop(number)
                if ended is None:
                    self._hand(number + ahead)
                yield answered, payload.decode("utf-8", "surrogatepass")

    def _hand(self, number: int) -> None:
        os.write(self.tickets_in, _TICKET.pack(number))

    def _work(self, worker: int, into: int) -> NoReturn:
        """Answer chunk `worker`, then those of the tickets it takes, into its pipe, until the
        file's end or the queue's; then end the process (its parent's buffers, handlers and
        `finally` blocks are not its own)."""
        code = 0
        with os.fdopen(into, "wb") as pipe:
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the batch's to handle
                with self.path.open("rb") as handle:
                    lines = self.read(handle)
                    next(lines, None)  # the first line, answered before the fork
                    at = 0  # the chunk `lines` goes on with
                    number: int | None = worker
                    while number is not None:
                        deque(islice(lines, (number - at) * self.chunk), maxlen=0)  # others'
                        part = list(islice(lines, self.chunk))
                        at = number + 1
                        if not part:
                            pipe.write(_HEADER.pack(_END, number, 0, 0))
                            break
                        self._answer(number, part, pipe)
                        number = self._ticket()
                pipe.flush()
            except BaseException as error:  # told to the batch, then the process ends
                code = 1
                reason = f"{type(error).__name__}: {error}".encode("utf-8", "replace")
                try:
                    pipe.write(_HEADER.pack(_FAILED, 0, 0, len(reason)) + reason)
                    pipe.flush()
                except OSError:  # the batch stopped reading
                    pass
            finally:
                os._exit(code)

    def _ticket(self) -> int | None:
        """The number of the next chunk to answer; None once the batch closed the queue."""
        data = os.read(self.tickets_out, _TICKET.size)
        return _TICKET.unpack(data)[0] if len(data) == _TICKET.size else None

    def _answer(self, number: int, part: list[Line], pipe: BinaryIO) -> None:
        self.feed.lines = iter(part)
        answers = self.answers
        data = "".join(next(answers) + "\n" for _ in part).encode("utf-8", "surrogatepass")
        pipe.write(_HEADER.pack(_ANSWERS, number, len(part), len(data)))
        pipe.write(data)
        pipe.flush()

    def stop(self) -> None:
        """Close the queue and the pipes, stop the workers still running (one blocked on a
        full pipe or on the queue, or answering a batch that stopped) and wait for them."""
        os.close(self.tickets_in)
        os.close(self.tickets_out)
        for pipe in self.pipes:
            pipe.close()
        for pid in self.pids:
            os.kill(pid, signal.SIGTERM)  # not yet waited for: never an error
        for pid in self.pids:
            os.waitpid(pid, 0)


def _message(pipe: BinaryIO) -> tuple[bytes, int, int, bytes]:
    """A worker's next message: (kind, chunk, answers, payload); its pipe's end before a whole
    one is the worker's end without a word (killed, out of memory)."""
    header = _exactly(pipe, _HEADER.size)
    kind, chunk, answered, size = _HEADER.unpack(header)
    payload = _exactly(pipe, size)
    if kind not in (_ANSWERS, _END, _FAILED):
        raise WorkerDied(died("stopped without answering (killed, or out of memory)"))
    return kind, chunk, answered, payload


def _exactly(pipe: BinaryIO, size: int) -> bytes:
    """`size` bytes of an unbuffered pipe (a read gives what the pipe holds, at most)."""
    parts = []
    while size:
        data = pipe.read(size)
        if not data:
            raise WorkerDied(died("stopped without answering (killed, or out of memory)"))
        parts.append(data)
        size -= len(data)
    return b"".join(parts)
