"""Output too big to hold twice: bytes appended to an unlinked temporary file, then read
back as text by byte offsets, so a 50 MB thread dump exists in memory once, as its step's
text, and never also as the whole stream, a list of chunks, or bytes.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import Iterable, Iterator
from types import TracebackType

# Bytes read or decoded at a time: big enough to be fast, small next to a dump.
SLICE_BYTES = 1 << 20


class Spool:
    """A temporary file (gone from the directory at once) that grows by `write`.

    >>> with Spool() as spool:
    ...     spool.write(b"one\\n@@two\\n")
    ...     (list(spool.line_starts(b"@@")), spool.text([(4, 10)]))
    ([4], '@@two\\n')
    """

    def __init__(self, slice_bytes: int = SLICE_BYTES) -> None:
        self.slice_bytes = slice_bytes
        # Owned by the spool until `close`, which whoever holds the spool calls.
        self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115
        self._fd = self._file.fileno()
        self.size = 0

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, self.size)
            self.size += written
            view = view[written:]

    def read(self, start: int, stop: int) -> bytes:
        """The bytes in [start, stop), cut at the end of the file."""
        return os.pread(self._fd, max(0, min(stop, self.size) - start), start)

    def line_starts(self, prefix: bytes) -> Iterator[int]:
        """Offsets of the lines that begin with `prefix`, found a slice at a time."""
        if prefix and self.read(0, len(prefix)) == prefix:
            yield 0
        needle = b"\n" + prefix
        # Slices overlap by one needle less a byte, so a needle cut by a slice edge is found
        # in the next slice, and none is found twice.
        step = self.slice_bytes
        for offset in range(0, self.size, step):
            chunk = self.read(offset, offset + step + len(needle) - 1)
            found = chunk.find(needle)
            while found >= 0:
                yield offset + found + 1
                found = chunk.find(needle, found + 1)

    def line_at(self, start: int) -> bytes:
        """The line beginning at `start`, with its newline when it has one."""
        parts: list[bytes] = []
        for offset in range(start, self.size, 4096):
            chunk = self.read(offset, offset + 4096)
            end = chunk.find(b"\n")
            if end >= 0:
                parts.append(chunk[: end + 1])
                break
            parts.append(chunk)
        return b"".join(parts)

    def text(self, spans: Iterable[tuple[int, int]]) -> str:
        """The spans' bytes decoded as UTF-8 (bad bytes become U+FFFD) and joined.

        Each span must start and end at a line edge (or the file's), where decoding it
        alone gives what decoding the whole stream would. The text grows by `+=` on a
        local that nothing else references: CPython then resizes it in place (after the
        loop warms up), so the slices are never all held next to the result.
        """
        text, step = "", self.slice_bytes
        for start, stop in spans:
            decode = codecs.getincrementaldecoder("utf-8")("replace").decode
            for offset in range(start, stop, step):
                text += decode(self.read(offset, min(stop, offset + step)))
            text += decode(b"", True)
        return text
