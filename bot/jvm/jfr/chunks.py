"""A recording file as a sequence of chunks: each chunk's 68-byte header and its bytes.

A file holds one or more chunks back to back (`jfr assemble` just concatenates them), and each
is self-contained, so reading one chunk at a time bounds memory by the largest chunk. Header
layout as HotSpot writes it (`jfr/recorder/repository/jfrChunkWriter.cpp`, `jfrChunk.cpp`) and
OpenJDK reads it (`jdk/jfr/internal/consumer/ChunkHeader.java`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from bot.jvm.jfr.encoding import read_i64, read_u16
from bot.jvm.jfr.errors import FormatError

MAGIC = b"FLR\0"
HEADER_SIZE = 68
# Byte 64 is the chunk's generation (JDK 14+) or the high byte of a u4 "features" word (JDK 11,
# always 0 there): 0 means the chunk is finished, 255 that the JVM is rewriting the header.
_STATE_OFFSET = 64
_FLAGS_OFFSET = 66
_FLAG_COMPRESSED_INTEGERS = 1 << 0
_FLAG_FINAL_CHUNK = 1 << 1
_FLAG_COMPRESSED_TICKS = 1 << 2
_UPDATING = 255


@dataclass(frozen=True)
class ChunkHeader:
    """What a chunk says about itself; offsets are from the chunk's first byte."""

    file_offset: int
    major: int
    minor: int
    size: int
    constant_pool_offset: int
    metadata_offset: int
    start_nanos: int
    duration_nanos: int
    start_ticks: int
    ticks_per_second: int
    finished: bool
    final: bool
    compressed_integers: bool
    compressed_ticks: bool

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class Chunk:
    """One chunk's header and bytes (header included); `data` is short if the file ends early."""

    index: int
    header: ChunkHeader
    data: bytes

    @property
    def complete(self) -> bool:
        return len(self.data) >= self.header.size


def parse_chunk_header(raw: bytes, file_offset: int) -> ChunkHeader:
    """The header at the start of `raw`; `FormatError` if it is not a JFR 2.x chunk header."""
    if raw[:4] != MAGIC:
        raise FormatError("it does not start with the JFR magic bytes FLR\\0")
    if len(raw) < HEADER_SIZE:
        raise FormatError(f"its chunk header is cut short at {len(raw)} of {HEADER_SIZE} bytes")
    major, minor = read_u16(raw, 4), read_u16(raw, 6)
    if major != 2:
        raise FormatError(
            f"it is JFR format {major}.{minor}; only 2.x (JDK 11 and later) can be read"
        )
    flags = read_u16(raw, _FLAGS_OFFSET)
    state = raw[_STATE_OFFSET]
    header = ChunkHeader(
        file_offset=file_offset,
        major=major,
        minor=minor,
        size=read_i64(raw, 8),
        constant_pool_offset=read_i64(raw, 16),
        metadata_offset=read_i64(raw, 24),
        start_nanos=read_i64(raw, 32),
        duration_nanos=read_i64(raw, 40),
        start_ticks=read_i64(raw, 48),
        ticks_per_second=read_i64(raw, 56),
        finished=state == 0,
        final=bool(flags & _FLAG_FINAL_CHUNK),
        compressed_integers=bool(flags & _FLAG_COMPRESSED_INTEGERS),
        compressed_ticks=bool(flags & _FLAG_COMPRESSED_TICKS),
    )
    if state == _UPDATING:
        raise FormatError("its chunk header was being rewritten by the JVM when it was copied")
    if header.size < HEADER_SIZE:
        raise FormatError(f"its chunk header gives an impossible size of {header.size} bytes")
    if header.ticks_per_second <= 0:
        raise FormatError("its chunk header gives no tick frequency")
    return header


def iter_chunks(stream: BinaryIO) -> Iterator[Chunk]:
    """Each chunk of the file in turn, holding only one chunk's bytes at a time.

    Raises `FormatError` where the file stops being JFR; chunks before that were yielded.
    The last chunk's `data` is shorter than its header says if the file was cut.
    """
    end = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    offset = 0
    index = 0
    while offset < end:
        head = stream.read(HEADER_SIZE)
        header = parse_chunk_header(head, offset)
        # Never ask for more than the file holds: a corrupt size must not allocate it.
        wanted = min(header.size, end - offset) - HEADER_SIZE
        yield Chunk(index, header, head + stream.read(wanted))
        if not header.finished:
            # A chunk still being written is the file's last; what follows its flushed size
            # is not yet a chunk (ChunkHeader.isLastChunk: "streaming files only have one").
            return
        offset += header.size
        stream.seek(offset)
        index += 1
