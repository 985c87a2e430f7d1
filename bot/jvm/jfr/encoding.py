"""The byte-level encodings of a JFR chunk: LEB128-style varints, big-endian fixed values, strings.

Every reader takes the chunk's bytes and a position and returns `(value, next position)`, so
decoders compose without an object per read. Formats as OpenJDK reads them:
`jdk/jfr/internal/consumer/RecordingInput.java` (varints of up to 9 bytes, the 9th carrying all
8 bits; floats raw big-endian) and `StringParser.java` (the six string encodings).
"""

from __future__ import annotations

import struct

from bot.jvm.jfr.errors import FormatError

_DOUBLE = struct.Struct(">d")
_FLOAT = struct.Struct(">f")
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


class StringRef(int):
    """A string stored in the chunk's `java.lang.String` constant pool, by its key."""

    __slots__ = ()


# StringParser.Encoding: how a string value is laid out after its first byte.
STRING_NULL = 0
STRING_EMPTY = 1
STRING_CONSTANT_POOL = 2
STRING_UTF8 = 3
STRING_CHAR_ARRAY = 4
STRING_LATIN1 = 5


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 value as HotSpot writes `u8`: 7 bits a byte, the 9th byte all 8.

    Unrolled for the common widths (tick counts take 5 bytes): a loop costs a third more.
    """
    b = buf[pos]
    if b < 0x80:
        return b, pos + 1
    result = b & 0x7F
    b = buf[pos + 1]
    if b < 0x80:
        return result | (b << 7), pos + 2
    result |= (b & 0x7F) << 7
    b = buf[pos + 2]
    if b < 0x80:
        return result | (b << 14), pos + 3
    result |= (b & 0x7F) << 14
    b = buf[pos + 3]
    if b < 0x80:
        return result | (b << 21), pos + 4
    result |= (b & 0x7F) << 21
    b = buf[pos + 4]
    if b < 0x80:
        return result | (b << 28), pos + 5
    result |= (b & 0x7F) << 28
    pos += 5
    shift = 35
    while shift < 56:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    return result | (buf[pos] << 56), pos + 1


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """A Java `long`: the varint's 64 bits, two's complement."""
    value = buf[pos]
    if value < 0x80:  # most keys and sizes: one byte, no call
        return value, pos + 1
    value, pos = read_varint(buf, pos)
    return (value - (1 << 64) if value >= 1 << 63 else value), pos


def read_int(buf: bytes, pos: int) -> tuple[int, int]:
    """A Java `int`: `(int) readLong()`, so the low 32 bits, signed."""
    value = buf[pos]
    if value < 0x80:
        return value, pos + 1
    value, pos = read_varint(buf, pos)
    value &= 0xFFFF_FFFF
    return (value - (1 << 32) if value >= 1 << 31 else value), pos


def read_short(buf: bytes, pos: int) -> tuple[int, int]:
    value, pos = read_varint(buf, pos)
    value &= 0xFFFF
    return (value - (1 << 16) if value >= 1 << 15 else value), pos


def read_char(buf: bytes, pos: int) -> tuple[str, int]:
    value, pos = read_varint(buf, pos)
    return chr(value & 0xFFFF), pos


def read_byte(buf: bytes, pos: int) -> tuple[int, int]:
    value = buf[pos]
    return (value - 256 if value >= 128 else value), pos + 1


def read_boolean(buf: bytes, pos: int) -> tuple[bool, int]:
    return buf[pos] != 0, pos + 1


def read_float(buf: bytes, pos: int) -> tuple[float, int]:
    return _FLOAT.unpack_from(buf, pos)[0], pos + 4


def read_double(buf: bytes, pos: int) -> tuple[float, int]:
    return _DOUBLE.unpack_from(buf, pos)[0], pos + 8


def read_string(buf: bytes, pos: int) -> tuple[str | StringRef | None, int]:
    """One string in any of its encodings; a constant-pool string comes back as `StringRef`."""
    encoding = buf[pos]
    pos += 1
    if encoding in (STRING_LATIN1, STRING_UTF8):
        size, pos = read_int(buf, pos)
        end = pos + size
        if size < 0 or end > len(buf):
            raise FormatError(f"a string of {size} bytes runs past the end of its chunk")
        raw = buf[pos:end]
        text = (
            raw.decode("latin-1") if encoding == STRING_LATIN1 else raw.decode("utf-8", "replace")
        )
        return text, end
    if encoding == STRING_CONSTANT_POOL:
        key, pos = read_long(buf, pos)
        return StringRef(key), pos
    if encoding == STRING_EMPTY:
        return "", pos
    if encoding == STRING_NULL:
        return None, pos
    if encoding == STRING_CHAR_ARRAY:
        size, pos = read_int(buf, pos)
        end = pos + size
        if size < 0 or end > len(buf):
            raise FormatError(f"a string of {size} chars runs past the end of its chunk")
        ascii_run = buf[pos:end]
        if ascii_run.isascii():
            # Every char below 128 is a one-byte varint: the bytes are the text (the JDK
            # writes its metadata's names this way, so this is most char-array strings).
            return ascii_run.decode("ascii"), end
        units = []
        for _ in range(size):
            unit, pos = read_varint(buf, pos)
            units.append(unit & 0xFFFF)
        # Java chars are UTF-16 code units; surrogate pairs join back into one character.
        raw = b"".join(u.to_bytes(2, "big") for u in units)
        return raw.decode("utf-16-be", "replace"), pos
    raise FormatError(f"unknown string encoding {encoding}")


def read_u16(buf: bytes, pos: int) -> int:
    return int(_U16.unpack_from(buf, pos)[0])


def read_u32(buf: bytes, pos: int) -> int:
    return int(_U32.unpack_from(buf, pos)[0])


def read_u64(buf: bytes, pos: int) -> int:
    return int(_U64.unpack_from(buf, pos)[0])


def read_i64(buf: bytes, pos: int) -> int:
    value = read_u64(buf, pos)
    return value - (1 << 64) if value >= 1 << 63 else value
