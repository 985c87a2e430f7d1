"""`read_dumps`: any file a person already has (a colleague's jstack output, an actuator
download, a pasted dump, the JSON jdebug itself posted) into a `DumpFile`; never raises.

The file is read in chunks up to a size cap and parsed as it arrives, so a 200 MB upload costs
one sentence, not 200 MB of memory. Gzip is unpacked on the way (jdebug posts large JSON
gzipped); what is not a dump jdebug reads gets one sentence saying what it is.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot.jvm.threaddump.actuator import read_actuator_json, split_actuator_text
from bot.jvm.threaddump.decoding import ByteSource, decoded_chunks, sniff_encoding, text_lines
from bot.jvm.threaddump.file_kinds import (
    GZIP_MAGIC,
    NO_THREADS,
    FileKind,
    kind_of_bytes,
    kind_of_text,
    too_big,
)
from bot.jvm.threaddump.jdk_json import read_thread_dump_json
from bot.jvm.threaddump.model import DumpFile, ThreadDump
from bot.jvm.threaddump.parse import split_thread_dumps

DEFAULT_MAX_BYTES = 64 * 2**20
_HEAD = 64 * 1024
_CHUNK = 1 << 20


class _Gunzipped:
    """A gzip stream unpacked as it is read; a damaged one ends early and says why."""

    def __init__(self, packed: ByteSource) -> None:
        self.packed = packed
        self.inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self.damage: str | None = None

    def read(self, size: int = -1) -> bytes:
        wanted = _CHUNK if size is None or size < 0 else size
        out: list[bytes] = []
        got = 0
        while got < wanted and not self.inflater.eof and self.damage is None:
            data = self.inflater.unconsumed_tail or self.packed.read(_CHUNK)
            if not data:
                break
            try:
                # max_length bounds what one call unpacks: a gzip bomb cannot fill memory.
                piece = self.inflater.decompress(data, wanted - got)
            except zlib.error as error:
                self.damage = str(error)
                break
            out.append(piece)
            got += len(piece)
        return b"".join(out)


class _Budget:
    """Counts the bytes read against the cap; `over` once the file turned out bigger."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.used = 0
        self.over = False

    def chunks(self, first: bytes, rest: ByteSource) -> Iterator[bytes]:
        chunk = first
        while chunk:
            self.used += len(chunk)
            if self.used > self.max_bytes:
                self.over = True
                return
            yield chunk
            chunk = rest.read(_CHUNK)


class _Utf8Body:
    """Decoded text pieces as UTF-8 bytes again, for ijson, whatever the file's encoding."""

    def __init__(self, pieces: Iterable[str]) -> None:
        self.pieces = iter(pieces)
        self.buffer = b""

    def read(self, size: int = -1) -> bytes:
        wanted = _CHUNK if size is None or size < 0 else size
        while len(self.buffer) < wanted:
            piece = next(self.pieces, None)
            if piece is None:
                break
            self.buffer += piece.encode("utf-8", "replace")
        out, self.buffer = self.buffer[:wanted], self.buffer[wanted:]
        return out


def _after(pieces: Iterable[str], skip: int) -> Iterator[str]:
    """The text without its first `skip` characters (an HTTP response's headers)."""
    for piece in pieces:
        if skip >= len(piece):
            skip -= len(piece)
            continue
        yield piece[skip:]
        skip = 0


def _parse(kind: FileKind, pieces: Iterator[str]) -> tuple[ThreadDump, ...]:
    body = _after(pieces, kind.body_at)
    if kind.format == "thread-print":
        return tuple(split_thread_dumps(text_lines(body)))
    if kind.format == "actuator-text":
        return tuple(split_actuator_text(text_lines(body)))
    if kind.format == "actuator-json":
        return (read_actuator_json(_Utf8Body(body)),)
    return (read_thread_dump_json(_Utf8Body(body)),)


def _unreadable(name: str, sentence: str, notes: tuple[str, ...] = ()) -> DumpFile:
    return DumpFile(name, "not-a-dump", unreadable=sentence, notes=notes)


def read_dump_stream(
    stream: ByteSource, name: str = "", max_bytes: int = DEFAULT_MAX_BYTES
) -> DumpFile:
    """Read the dump file in `stream` (binary), at most `max_bytes` of it (unpacked)."""
    head = stream.read(_HEAD)
    encoding = "utf-8"
    source: ByteSource = stream
    gunzipped: _Gunzipped | None = None
    if head.startswith(GZIP_MAGIC):
        gunzipped = _Gunzipped(_Prepended(head, stream))
        source, head = gunzipped, gunzipped.read(_HEAD)
        if gunzipped.damage is not None and not head:
            return _unreadable(
                name, f"This gzip file is damaged ({gunzipped.damage}): send it again."
            )
    kind = kind_of_bytes(head)
    if kind is None:
        encoding = sniff_encoding(head)
        text = head.decode(encoding, "replace").replace("\x00", "")
        kind = kind_of_text(text, whole=len(head) < _HEAD)
    if kind.unreadable is not None:
        return _unreadable(name, kind.unreadable)
    budget = _Budget(max_bytes)
    dumps = _parse(kind, decoded_chunks(budget.chunks(head, source), encoding))
    if budget.over:
        return _unreadable(name, too_big(max_bytes))
    notes: tuple[str, ...] = ()
    if gunzipped is not None and gunzipped.damage is not None:
        notes = (f"the gzip data is damaged after {budget.used:,} bytes: read up to there",)
    if not any(dump.threads for dump in dumps):
        dump_notes = tuple(note for dump in dumps for note in dump.notes)
        return _unreadable(name, NO_THREADS, (*notes, *dump_notes))
    return DumpFile(name, kind.format, dumps, notes=notes)


class _Prepended:
    """`first`, then the rest of `rest`: the gzip magic already read belongs to the stream."""

    def __init__(self, first: bytes, rest: ByteSource) -> None:
        self.first = first
        self.rest = rest

    def read(self, size: int = -1, /) -> bytes:
        if not self.first:
            return self.rest.read(size)
        first, self.first = self.first, b""
        return first


def read_dumps(data: bytes, name: str = "", max_bytes: int = DEFAULT_MAX_BYTES) -> DumpFile:
    """The dumps in `data` (a whole file already in memory; see `read_dump_file` for paths).

    `read_dumps(open("jstack.txt", "rb").read()).dumps` holds one `ThreadDump` per dump.
    """
    if len(data) > max_bytes:
        return _unreadable(name, too_big(max_bytes))
    return read_dump_stream(io.BytesIO(data), name, max_bytes)


def read_dump_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> DumpFile:
    """The dumps in the file at `path`, read in chunks; a file over `max_bytes` is not read."""
    try:
        if path.stat().st_size > max_bytes:
            return _unreadable(path.name, too_big(max_bytes))
        with path.open("rb") as stream:
            return read_dump_stream(stream, path.name, max_bytes)
    except OSError as error:
        return _unreadable(path.name, f"Cannot read {path.name}: {error.strerror or error}.")
