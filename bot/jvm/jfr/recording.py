"""Read a whole recording: every chunk in turn, counts per event type, typed and generic events.

`read_recording` never raises on bad input: an empty, foreign, truncated or corrupt file gives
a `Recording` with what could be read and one-sentence `notes`. Only one chunk's bytes and
pools are held at a time; what stays are the events asked for, with interned stacks.
"""

from __future__ import annotations

import struct
from array import array
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from bot.jvm.jfr.chunks import HEADER_SIZE, Chunk, iter_chunks
from bot.jvm.jfr.constants import ChunkConstants, TimeConverter
from bot.jvm.jfr.decoding import Decoder, build_decoders
from bot.jvm.jfr.encoding import read_int, read_long, read_varint
from bot.jvm.jfr.errors import FormatError
from bot.jvm.jfr.events import (
    VIEW_BUILDERS,
    AllocationSample,
    ChunkViews,
    CPULoad,
    ExecutionSample,
    GarbageCollection,
    GCPhasePause,
    MonitorEnter,
    NativeMethodSample,
    ThreadPark,
    TlabAllocation,
)
from bot.jvm.jfr.metadata import CHECKPOINT_TYPE_ID, METADATA_TYPE_ID, Metadata, read_metadata

# What bad bytes can raise while decoding; anything else is a bug in the reader.
_DECODE_ERRORS = (FormatError, IndexError, struct.error, ValueError, OverflowError, RecursionError)
# `jfr summary` names the two system events by these names.
_SYSTEM_EVENT_NAMES = {METADATA_TYPE_ID: "jdk.Metadata", CHECKPOINT_TYPE_ID: "jdk.Checkpoint"}


@dataclass(frozen=True)
class ChunkInfo:
    index: int
    version: str
    start_ns: int
    duration_ns: int
    size: int
    complete: bool


@dataclass(frozen=True)
class Event:
    """A generically decoded event: fields resolved like `jfr print --json` shapes them,
    timestamps as ns since the epoch and timespans as ns."""

    type_name: str
    start_ns: int
    duration_ns: int | None
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Recording:
    """What a recording holds; each tuple is in file order, chunk by chunk."""

    chunks: tuple[ChunkInfo, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    execution_samples: tuple[ExecutionSample, ...] = ()
    native_samples: tuple[NativeMethodSample, ...] = ()
    allocation_samples: tuple[AllocationSample, ...] = ()
    tlab_allocations: tuple[TlabAllocation, ...] = ()
    monitor_enters: tuple[MonitorEnter, ...] = ()
    thread_parks: tuple[ThreadPark, ...] = ()
    garbage_collections: tuple[GarbageCollection, ...] = ()
    gc_phase_pauses: tuple[GCPhasePause, ...] = ()
    cpu_loads: tuple[CPULoad, ...] = ()
    events: Mapping[str, tuple[Event, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def start_ns(self) -> int | None:
        return min((c.start_ns for c in self.chunks), default=None)

    @property
    def duration_ns(self) -> int:
        if not self.chunks:
            return 0
        end = max(c.start_ns + c.duration_ns for c in self.chunks)
        return end - min(c.start_ns for c in self.chunks)


# Which Recording tuple each typed view goes into.
_TYPED_FIELDS = {
    "jdk.ExecutionSample": "execution_samples",
    "jdk.NativeMethodSample": "native_samples",
    "jdk.ObjectAllocationSample": "allocation_samples",
    "jdk.ObjectAllocationInNewTLAB": "tlab_allocations",
    "jdk.ObjectAllocationOutsideTLAB": "tlab_allocations",
    "jdk.JavaMonitorEnter": "monitor_enters",
    "jdk.ThreadPark": "thread_parks",
    "jdk.GarbageCollection": "garbage_collections",
    "jdk.GCPhasePause": "gc_phase_pauses",
    "jdk.CPULoad": "cpu_loads",
}


class _Collector:
    """Everything gathered so far, across chunks."""

    def __init__(self, generic: Collection[str]) -> None:
        self.generic = frozenset(generic)
        self.counts: Counter[str] = Counter()
        self.typed: dict[str, list[Any]] = {name: [] for name in set(_TYPED_FIELDS.values())}
        self.events: dict[str, list[Event]] = {name: [] for name in self.generic}
        self.chunks: list[ChunkInfo] = []
        self.notes: list[str] = []
        self.interned: dict[object, object] = {}
        self.metadata: dict[bytes, _Types] = {}
        # The last chunk's metadata id and clock, see `_time_converter`.
        self.previous: tuple[int, TimeConverter] | None = None

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def recording(self) -> Recording:
        typed = {name: tuple(items) for name, items in self.typed.items()}
        return Recording(
            chunks=tuple(self.chunks),
            counts=dict(self.counts),
            events={name: tuple(items) for name, items in self.events.items()},
            notes=tuple(self.notes),
            **typed,
        )


def read_recording(source: Path | str | BinaryIO, *, generic: Collection[str] = ()) -> Recording:
    """Read the recording at `source` (a path or a seekable binary file).

    The typed views are always read; `generic` names further event types (e.g. `jdk.CPULoad`
    or `jdk.ThreadSleep`) to decode generically into `Recording.events`.
    """
    collector = _Collector(generic)
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            with path.open("rb") as stream:
                _read_stream(stream, path.name, collector)
        except OSError as error:
            collector.note(f"cannot read {path}: {error.strerror or error}.")
    else:
        _read_stream(source, getattr(source, "name", "the recording"), collector)
    return collector.recording()


def _read_stream(stream: BinaryIO, name: str, collector: _Collector) -> None:
    read = 0
    try:
        for chunk in iter_chunks(stream):
            read += 1
            _read_chunk(chunk, collector)
    except FormatError as error:
        if read == 0:
            collector.note(f"{name} is not a JFR recording: {error}.")
        else:
            collector.note(f"{name} stops being JFR after chunk {read}: {error}.")
    if read == 0 and not collector.notes:
        collector.note(f"{name} is empty, not a JFR recording.")


def _read_chunk(chunk: Chunk, collector: _Collector) -> None:
    header, data = chunk.header, chunk.data
    number = chunk.index + 1
    collector.chunks.append(
        ChunkInfo(
            chunk.index,
            header.version,
            header.start_nanos,
            header.duration_nanos,
            header.size,
            chunk.complete,
        )
    )
    limit = min(len(data), header.size)
    if not chunk.complete:
        collector.note(
            f"chunk {number} is cut short at {len(data):,} of {header.size:,} bytes "
            "(the file was truncated); the events before the cut were read."
        )
    if not header.compressed_integers:
        collector.note(
            f"chunk {number} does not use compressed integers, a layout no JDK writes or "
            "reads; it was skipped."
        )
        return
    if header.compressed_ticks:
        # Flag bit 2 (ChunkHeader.MASK_COMPRESSED_TICKS): start times relative to a base
        # that TimeConverter.unpackStartTicks tracks. No JVM we could run writes it.
        collector.note(
            f"chunk {number} stores compressed ticks, which this reader does not unpack; "
            "its event times may be wrong."
        )
    types = _chunk_metadata(chunk, limit, collector.metadata)
    if types is None:
        collector.note(
            f"chunk {number} has no readable metadata, so its events could not be decoded."
        )
        _count_only(chunk, limit, collector)
        return
    metadata, decoders = types
    wanted = {
        cls.id: cls.name
        for cls in metadata.classes.values()
        if cls.is_event and (cls.name in VIEW_BUILDERS or cls.name in collector.generic)
    }
    checkpoints, positions, stopped = _scan(data, limit, metadata, wanted, collector.counts)
    if stopped and chunk.complete:
        collector.note(f"chunk {number} is corrupt at byte {stopped:,}; the rest was skipped.")
    time = _time_converter(chunk, metadata, collector)
    constants = ChunkConstants(metadata, decoders, time)
    for pos, end in checkpoints:
        try:
            constants.read_checkpoint(data, pos, end)
        except _DECODE_ERRORS as error:
            collector.note(
                f"a constant pool of chunk {number} could not be read ({error or 'cut short'}); "
                "some stacks and names are missing."
            )
    views = ChunkViews(constants, collector.interned)
    bad = 0
    for type_id, offsets in positions.items():
        cls = metadata.classes[type_id]
        decoder = decoders[type_id]
        builder = VIEW_BUILDERS.get(cls.name)
        build = builder(views, cls) if builder is not None else None
        typed = collector.typed[_TYPED_FIELDS[cls.name]] if builder else None
        generic = collector.events.get(cls.name)
        for pos in offsets:
            try:
                size, body = read_int(data, pos)
                _, body = read_long(data, body)
                raw, end = decoder(data, body)
                if end > pos + size or not isinstance(raw, tuple):
                    raise FormatError("an event runs past its own size")
                if build is not None and typed is not None:
                    typed.append(build(raw))
                if generic is not None:
                    generic.append(_generic_event(constants, cls.name, cls.fields, raw))
            except _DECODE_ERRORS:
                bad += 1
    if bad:
        collector.note(f"{bad:,} events of chunk {number} could not be decoded and were skipped.")
    if views.incomplete_stacks:
        collector.note(
            f"{views.incomplete_stacks:,} stacks of chunk {number} name methods its constant "
            "pools do not hold; those frames show as ?.?."
        )


def _time_converter(chunk: Chunk, metadata: Metadata, collector: _Collector) -> TimeConverter:
    """The chunk's own tick-to-ns anchor, unless it continues the previous chunk's clock.

    OpenJDK's `ChunkParser` keeps its parsers, and with them the first chunk's
    `TimeConverter`, while the metadata id does not change; later chunks' times then differ
    from their own anchor by the clocks' drift (hundreds of ns). Doing the same keeps our
    times equal to `jfr print`'s to the nanosecond. Files glued from different JVMs often
    share metadata id 1 too, so the old anchor is kept only if it places this chunk's start
    within a millisecond of where the chunk says it starts.
    """
    header = chunk.header
    time = TimeConverter(header.start_ticks, header.start_nanos, header.ticks_per_second)
    previous = collector.previous
    if (
        previous is not None
        and previous[0] == metadata.metadata_id
        and previous[1].divisor == time.divisor
        and abs(previous[1].timestamp(header.start_ticks) - header.start_nanos) < 1_000_000
    ):
        time = previous[1]
    collector.previous = (metadata.metadata_id, time)
    return time


_Types = tuple[Metadata, dict[int, Decoder]]
# Distinct metadata events kept per read: a file glued from a few recordings alternates
# between a few; one JVM's chunks repeat one.
_METADATA_KEPT = 8


def _chunk_metadata(chunk: Chunk, limit: int, cache: dict[bytes, _Types]) -> _Types | None:
    """The metadata the header points at (in a cut chunk, the last one before the cut) and
    its decoders; parsed once per distinct metadata event, as each chunk repeats it."""
    offset = chunk.header.metadata_offset
    if HEADER_SIZE <= offset < limit and (found := _metadata_at(chunk.data, offset, cache)):
        return found
    last = None
    pos = HEADER_SIZE
    try:
        while pos < limit:
            size, body = read_int(chunk.data, pos)
            if size <= 0 or pos + size > limit:
                break
            type_id, _ = read_long(chunk.data, body)
            if type_id == METADATA_TYPE_ID:
                last = pos
            pos += size
    except _DECODE_ERRORS:
        pass
    return None if last is None else _metadata_at(chunk.data, last, cache)


def _metadata_at(data: bytes, pos: int, cache: dict[bytes, _Types]) -> _Types | None:
    try:
        size, _ = read_int(data, pos)
        event = data[pos : pos + size]
        if event in cache:
            return cache[event]
        metadata = read_metadata(event, 0)
    except _DECODE_ERRORS:
        return None
    if len(cache) >= _METADATA_KEPT:
        cache.pop(next(iter(cache)))
    cache[event] = (metadata, build_decoders(metadata))
    return cache[event]


def _scan(
    data: bytes,
    limit: int,
    metadata: Metadata,
    wanted: Mapping[int, str],
    counts: Counter[str],
) -> tuple[list[tuple[int, int]], dict[int, array[int]], int]:
    """Walk the event headers: count every type, and note where checkpoints and the wanted
    events are. Returns those and the offset where the walk had to stop (0 at the end)."""
    per_type: dict[int, int] = {}
    checkpoints: list[tuple[int, int]] = []
    positions: dict[int, array[int]] = {type_id: array("q") for type_id in wanted}
    appenders = {type_id: found.append for type_id, found in positions.items()}
    pos = HEADER_SIZE
    stopped = 0
    # The hottest loop of the reader (one pass over every event): varints are read
    # directly, a one-byte type id inline; sizes are unsigned, so no sign handling.
    while pos < limit:
        try:
            size = data[pos]
            if size < 0x80:
                body = pos + 1
            elif data[pos + 1] >= 0x80 and data[pos + 2] >= 0x80 and data[pos + 3] < 0x80:
                # HotSpot pads event sizes to four varint bytes so it can patch them in place.
                size = (
                    (size & 0x7F)
                    | (data[pos + 1] & 0x7F) << 7
                    | (data[pos + 2] & 0x7F) << 14
                    | data[pos + 3] << 21
                )
                body = pos + 4
            else:
                size, body = read_varint(data, pos)
            type_id = data[body]
            if type_id >= 0x80:
                type_id, _ = read_varint(data, body)
        except _DECODE_ERRORS:
            stopped = pos
            break
        if size <= 0 or pos + size > limit:
            stopped = pos
            break
        per_type[type_id] = per_type.get(type_id, 0) + 1
        append = appenders.get(type_id)
        if append is not None:
            append(pos)
        elif type_id == CHECKPOINT_TYPE_ID:
            checkpoints.append((pos, pos + size))
        pos += size
    for type_id, count in per_type.items():
        counts[_type_name(metadata, type_id)] += count
    return checkpoints, positions, stopped


def _count_only(chunk: Chunk, limit: int, collector: _Collector) -> None:
    empty = Metadata(-1, {})
    _scan(chunk.data, limit, empty, {}, collector.counts)


def _type_name(metadata: Metadata, type_id: int) -> str:
    if type_id in _SYSTEM_EVENT_NAMES:
        return _SYSTEM_EVENT_NAMES[type_id]
    cls = metadata.classes.get(type_id)
    return cls.name if cls is not None else f"type {type_id}"


def _generic_event(
    constants: ChunkConstants, name: str, fields: tuple[Any, ...], raw: tuple[object, ...]
) -> Event:
    values = {f.name: constants.field_value(f, r) for f, r in zip(fields, raw, strict=False)}
    start = values.get("startTime")
    duration = values.get("duration")
    return Event(
        name,
        start if isinstance(start, int) else 0,
        duration if isinstance(duration, int) else None,
        values,
    )
