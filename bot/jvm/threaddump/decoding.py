"""Bytes of a dump file from anywhere into text: UTF-8 or UTF-16 (with a BOM or told by its NUL
pattern), stray NULs dropped, decoded chunk by chunk so a big file is never in memory whole.

Windows tools (PowerShell's `>`, Notepad) write UTF-16, and chat clients or log shippers can
leave NULs behind; CRLF needs nothing here because the parsers strip line ends.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Protocol

_SAMPLE = 4096
# In UTF-16 text that is mostly ASCII every other byte is NUL; in UTF-8 text almost none is.
_NUL_SHARE = 0.3
_STRAY_NUL_SHARE = 0.05


class ByteSource(Protocol):
    """Anything bytes are read from: an open file, a socket's body, an unpacking stream."""

    def read(self, size: int = -1, /) -> bytes: ...


def sniff_encoding(head: bytes) -> str:
    """The codec to read a file whose first bytes are `head` with."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the BOM for the byte order and drops it
    sample = head[:_SAMPLE]
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        even_nuls, odd_nuls = even.count(0) / len(even), odd.count(0) / len(odd)
        if odd_nuls > _NUL_SHARE and even_nuls < _STRAY_NUL_SHARE:
            return "utf-16-le"
        if even_nuls > _NUL_SHARE and odd_nuls < _STRAY_NUL_SHARE:
            return "utf-16-be"
    return "utf-8"


def decoded_chunks(chunks: Iterable[bytes], encoding: str) -> Iterator[str]:
    """The text of `chunks`, one piece per chunk; bytes that do not decode become U+FFFD."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        yield text.replace("\x00", "") if "\x00" in text else text
    rest = decoder.decode(b"", final=True)
    if rest:
        yield rest.replace("\x00", "")


def text_lines(pieces: Iterable[str]) -> Iterator[str]:
    """Lines (without their `\\n`) of text arriving in pieces that may cut a line anywhere."""
    tail = ""
    for piece in pieces:
        lines = (tail + piece).split("\n")
        tail = lines.pop()
        yield from lines
    if tail:
        yield tail
