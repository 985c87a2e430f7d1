"""What a file is, told from its first bytes: one of the dump formats jdebug reads, or the one
sentence a user gets for anything else (a JFR recording, an IBM javacore, binary data...).

Sentences name the file's format and say what to do instead, because the person who sent it
usually had a colleague's file and no idea which tool made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.jvm.threaddump.model import DumpFormat

GZIP_MAGIC = b"\x1f\x8b"
_JFR_MAGIC = b"FLR\x00"  # jdk.jfr.internal.consumer.ChunkHeader reads these 4 bytes first
_HPROF_MAGIC = b"JAVA PROFILE "
_ZIP_MAGIC = b"PK\x03\x04"
# Control characters other than tab, LF, CR, FF, and undecodable bytes (U+FFFD).
_BINARY = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_BINARY_SHARE = 0.05
_HTTP_STATUS = re.compile(r"HTTP/\d(?:\.\d)? \d{3}")
_ACTUATOR_TEXT_HEADER = re.compile(r'^"[^"\n]*" - Thread t@\d+\s*$', re.M)
_DUMP_TO_FILE_TEXT = re.compile(r'^#\d+ "[^"\n]*"', re.M)
_JAVACORE = re.compile(r"^(?:0SECTION|NULL {11})", re.M)
_JDK_JSON = re.compile(r'\{\s*"threadDump"\s*:')
_ACTUATOR_JSON = re.compile(r'\{\s*"threads"\s*:\s*\[')
_HOTSPOT_HEADER = re.compile(r"^Full thread dump ", re.M)

EXPECTED = (
    "jstack or jcmd Thread.print output, jcmd Thread.dump_to_file -format=json, "
    "or Spring Boot's /threaddump"
)
EMPTY = f"The file is empty: send the thread dump itself ({EXPECTED})."
NO_THREADS = f"No thread was found in this text: it is not a thread dump jdebug reads ({EXPECTED})."


def too_big(limit_bytes: int) -> str:
    return (
        f"The file is over the {limit_bytes / 2**20:g} MB limit: send only the dumps you need "
        "(split the file, or take fewer dumps) and try again."
    )


@dataclass(frozen=True)
class FileKind:
    """A readable `format` (with `body_at`, where the dump starts after an HTTP response's
    headers), or `unreadable`, the sentence for a file jdebug does not read."""

    format: DumpFormat
    body_at: int = 0
    unreadable: str | None = None


def _not_read(sentence: str) -> FileKind:
    return FileKind("not-a-dump", unreadable=sentence)


def kind_of_bytes(head: bytes) -> FileKind | None:
    """Formats told by magic bytes alone; None when the bytes may be text."""
    if not head:
        return _not_read(EMPTY)
    if head.startswith(_JFR_MAGIC):
        return _not_read(
            "This is a JFR recording, not a thread dump: analyse it with profile/analyse "
            "once that lands."
        )
    if head.startswith(_HPROF_MAGIC):
        return _not_read(
            "This is an HPROF heap dump, not a thread dump: open it in a heap analyser "
            "such as Eclipse MAT (jdebug's histo gives the live-object summary)."
        )
    if head.startswith(_ZIP_MAGIC):
        return _not_read("This is a zip archive: unzip it and send the thread dump inside.")
    if head.startswith(GZIP_MAGIC):
        return _not_read(
            "This gzip file does not unpack to a thread dump: check that it is one, "
            "or send it unpacked."
        )
    return None


def _body_start(text: str) -> int:
    """Where the body starts when the text is an HTTP response saved with its headers
    (`curl -i .../actuator/threaddump`), else 0."""
    if not _HTTP_STATUS.match(text):
        return 0
    for separator in ("\r\n\r\n", "\n\n"):
        end = text.find(separator)
        if end >= 0:
            return end + len(separator)
    return 0


def kind_of_text(head: str, whole: bool = True) -> FileKind:
    """The format of a file whose first characters are `head` (decoded); `whole` when the
    head is the whole file (so blank means empty, not "the text starts further on")."""
    if not head.strip():
        return _not_read(EMPTY) if whole else FileKind("thread-print")
    if len(_BINARY.findall(head)) > _BINARY_SHARE * len(head):
        return _not_read(f"This is binary data, not a text thread dump: send {EXPECTED}.")
    body_at = _body_start(head)
    body = head[body_at:].lstrip()
    if body.startswith("{"):
        if _JDK_JSON.match(body):
            return FileKind("thread-dump-json", body_at)
        if _ACTUATOR_JSON.match(body):
            return FileKind("actuator-json", body_at)
        return _not_read(
            "This is JSON but not a thread dump: jdebug reads jcmd Thread.dump_to_file "
            "-format=json and Spring Boot's /threaddump."
        )
    hotspot = _HOTSPOT_HEADER.search(body) is not None
    if _JAVACORE.search(body) and not hotspot:
        return _not_read(
            "This is an IBM J9/OpenJ9 javacore, which jdebug does not read: open it in IBM's "
            "Thread and Monitor Dump Analyzer, or take a HotSpot dump with jstack."
        )
    if "===== FULL THREAD DUMP" in body or ("JRockit" in body and not hotspot):
        return _not_read(
            "This is a JRockit thread dump, which jdebug does not read: take one from a "
            "HotSpot JVM (JDK 8 or later) with jstack or jcmd Thread.print."
        )
    if _ACTUATOR_TEXT_HEADER.search(body):
        return FileKind("actuator-text", body_at)
    if _DUMP_TO_FILE_TEXT.search(body) and '" #' not in body and "\tat " not in body:
        return _not_read(
            "This is jcmd Thread.dump_to_file's plain text, which jdebug does not read: "
            "take it again with -format=json."
        )
    return FileKind("thread-print", body_at)
