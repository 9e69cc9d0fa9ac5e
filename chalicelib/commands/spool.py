"""Texts kept for later in a bounded memory: what a long command collects before it writes.

`Spool` holds texts in the order added, in memory up to `MEMORY` bytes and past that in a
temporary file (in `$TMPDIR`), each as its length and its UTF-8 bytes: a replay of a million
denials keeps its records (`trail.TrailSpool`) and the findings its JSON output shows without
holding them as Python objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, ClassVar


class SpoolError(Exception):
    """A spool could not write its temporary file (no room, no folder)."""


class Spool:
    """Texts in the order added. Iterate it once at a time: its iterators share one file
    position."""

    MEMORY: ClassVar[int] = 8 << 20

    def __init__(self) -> None:
        import tempfile  # here: every command's start-up would import it

        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=self.MEMORY)  # noqa: SIM115
        self._count = 0

    def add(self, text: str) -> None:
        """Keep `text`; `SpoolError` when the temporary file cannot take it."""
        data = text.encode("utf-8", "surrogatepass")
        try:
            self._file.write(b"%d\n" % len(data) + data)
        except OSError as error:
            raise SpoolError(
                f"cannot keep what the run collects in a temporary file ({error}); "
                "set TMPDIR to a folder with room"
            ) from None
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        file = self._file
        file.seek(0)
        for _ in range(self._count):
            yield file.read(int(file.readline())).decode("utf-8", "surrogatepass")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
