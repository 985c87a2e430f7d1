"""A chunk's constant pools (threads, classes, methods, stack traces, …) and value resolution.

Checkpoint events fill the pools (`ChunkParser.fillConstantPools` in OpenJDK); a flush writes
one checkpoint per segment, so a chunk may hold many and each adds keys. Events refer to pool
entries by key; `ChunkConstants.field_value` turns a raw field into Python values: structs
into dicts shaped like `jfr print --json`, simple types into their one value, ticks into ns.
"""

from __future__ import annotations

from typing import Any

from bot.jvm.jfr.decoding import Decoder
from bot.jvm.jfr.encoding import StringRef, read_int, read_long, read_varint
from bot.jvm.jfr.errors import FormatError
from bot.jvm.jfr.metadata import CHECKPOINT_TYPE_ID, FieldDescriptor, Metadata

_SPAN_NANOS = {"NANOSECONDS": 1, "MICROSECONDS": 1_000, "MILLISECONDS": 1_000_000, "SECONDS": 10**9}
_IN_PROGRESS = object()


class TimeConverter:
    """Ticks to nanoseconds as `TimeConverter.java` does, double arithmetic included."""

    def __init__(self, start_ticks: int, start_nanos: int, ticks_per_second: int) -> None:
        self.start_ticks = start_ticks
        self.start_nanos = start_nanos
        self.divisor = ticks_per_second / 1_000_000_000

    def timestamp(self, ticks: int) -> int:
        return self.start_nanos + int((ticks - self.start_ticks) / self.divisor)

    def timespan(self, ticks: int) -> int:
        return int(ticks / self.divisor)


class ChunkConstants:
    """The pools of one chunk, by type id and key, and the values resolved from them."""

    def __init__(
        self, metadata: Metadata, decoders: dict[int, Decoder], time: TimeConverter
    ) -> None:
        self.metadata = metadata
        self.decoders = decoders
        self.time = time
        self.pools: dict[int, dict[int, object]] = {}
        self._resolved: dict[tuple[int, int], Any] = {}
        string_class = metadata.by_name.get("java.lang.String")
        self._string_type_id = string_class.id if string_class else -1

    def read_checkpoint(self, buf: bytes, pos: int, end: int) -> None:
        """Add the entries of the checkpoint event at `pos` (its size field) to the pools."""
        _, pos = read_int(buf, pos)
        type_id, pos = read_long(buf, pos)
        if type_id != CHECKPOINT_TYPE_ID:
            raise FormatError(f"a checkpoint offset points at an event of type {type_id}")
        _, pos = read_long(buf, pos)  # start ticks
        _, pos = read_long(buf, pos)  # duration
        _, pos = read_long(buf, pos)  # delta to the previous checkpoint: we read them all
        _, pos = read_varint(buf, pos)  # flags: flush, chunk header, statics, threads
        pool_count, pos = read_int(buf, pos)
        for _ in range(pool_count):
            pool_type, pos = read_long(buf, pos)
            decoder = self.decoders.get(pool_type)
            if decoder is None:
                raise FormatError(f"a constant pool is of type {pool_type}, which is undefined")
            count, pos = read_int(buf, pos)
            if count < 0 or count > end - pos:
                raise FormatError(f"a constant pool claims {count} entries")
            pool = self.pools.setdefault(pool_type, {})
            for _ in range(count):
                key, pos = read_long(buf, pos)
                pool[key], pos = decoder(buf, pos)
            if pos > end:
                raise FormatError("a checkpoint event runs past its own size")

    def constant(self, type_id: int, key: int) -> Any:
        """The resolved pool entry, or None for a key the pools do not hold (JFR's null)."""
        cache_key = (type_id, key)
        found = self._resolved.get(cache_key)
        if found is not None:
            return None if found is _IN_PROGRESS else found
        raw = self.pools.get(type_id, {}).get(key)
        if raw is None:
            return None
        # A pool entry that (through others) contains itself would never end; JFR writes
        # none, so a cycle means corruption and resolves to None where it closes.
        self._resolved[cache_key] = _IN_PROGRESS
        value = self.value(type_id, raw)
        self._resolved[cache_key] = value
        return value

    def value(self, type_id: int, raw: object) -> Any:
        """A raw value of type `type_id` (not a pool key) as Python values."""
        if isinstance(raw, StringRef):
            return self.constant(self._string_type_id, int(raw))
        if not isinstance(raw, tuple):
            return raw
        cls = self.metadata.classes.get(type_id)
        if cls is None or not cls.fields:
            return raw
        if cls.simple_type and len(cls.fields) == 1:
            return self.field_value(cls.fields[0], raw[0])
        return {f.name: self.field_value(f, r) for f, r in zip(cls.fields, raw, strict=False)}

    def field_value(self, field: FieldDescriptor, raw: object) -> Any:
        """A raw field as Python values: pool keys resolved, times in nanoseconds."""
        if field.array and isinstance(raw, tuple):
            return [self._element(field, item) for item in raw]
        return self._element(field, raw)

    def _element(self, field: FieldDescriptor, raw: object) -> Any:
        if field.constant_pool and isinstance(raw, int):
            return self.constant(field.type_id, raw)
        value = self.value(field.type_id, raw)
        if isinstance(value, int) and not isinstance(value, bool):
            return self.nanos(field, value)
        return value

    def nanos(self, field: FieldDescriptor, value: int) -> int:
        """`value` in ns if the field is a timestamp (since the epoch) or a timespan."""
        span = field.timespan_unit
        if span is not None:
            return (
                self.time.timespan(value) if span == "TICKS" else value * _SPAN_NANOS.get(span, 1)
            )
        stamp = field.timestamp_unit
        if stamp == "TICKS":
            return self.time.timestamp(value)
        if stamp == "MILLISECONDS_SINCE_EPOCH":
            return value * 1_000_000
        return value
