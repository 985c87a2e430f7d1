"""The JFR byte encodings on bytes built by hand: varints of every width and all six string
encodings as `StringParser.java` reads them."""

from __future__ import annotations

import pytest

from bot.jvm.jfr.encoding import StringRef, read_int, read_long, read_string, read_varint
from bot.jvm.jfr.errors import FormatError


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"\x00", 0),
        (b"\x7f", 127),
        (b"\x80\x01", 128),
        (b"\xac\x02", 300),
        (b"\xff\xff\x03", 65535),
        (b"\x80\x80\x80\x80\x01", 1 << 28),
        (b"\xff\xff\xff\xff\xff\xff\xff\x7f", (1 << 56) - 1),
        # The 9th byte carries 8 bits, not 7: nine bytes hold all 64.
        (b"\x80\x80\x80\x80\x80\x80\x80\x80\x01", 1 << 56),
        (b"\xff" * 9, (1 << 64) - 1),
    ],
)
def test_varints_read_every_width_and_say_where_they_end(raw: bytes, value: int) -> None:
    assert read_varint(raw + b"\x2a", 0) == (value, len(raw))


def test_longs_and_ints_are_twos_complement_of_their_width() -> None:
    assert read_long(b"\xff" * 9, 0) == (-1, 9)
    assert read_int(b"\xff\xff\xff\xff\x0f", 0) == (-1, 5)
    # `(int) readLong()`: bits above 32 are dropped, as Java's cast drops them.
    assert read_int(b"\x81\x80\x80\x80\x10", 0) == (1, 5)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"\x00", None),
        (b"\x01", ""),
        (b"\x03\x07Gr\xc3\xbc\xc3\x9fe", "Grüße"),
        (b"\x05\x05Gr\xfc\xdfe", "Grüße"),
        # UTF-16 code units as varints: 牛 U+725B, then 🐄 as the pair D83D DC04.
        (b"\x04\x03\xdb\xe4\x01\xbd\xb0\x03\x84\xb8\x03", "牛🐄"),
    ],
)
def test_every_string_encoding_reads_to_its_text(raw: bytes, text: str | None) -> None:
    assert read_string(raw, 0) == (text, len(raw))


def test_a_string_longer_than_its_chunk_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="runs past the end of its chunk"):
        read_string(b"\x03\x10Gr\xc3\xbc", 0)


def test_a_constant_pool_string_is_its_key() -> None:
    value, end = read_string(b"\x02\x85\x01", 0)

    assert isinstance(value, StringRef)
    assert (int(value), end) == (133, 3)


def test_an_unknown_string_encoding_is_a_format_error() -> None:
    with pytest.raises(FormatError, match="unknown string encoding 9"):
        read_string(b"\x09\x00", 0)
