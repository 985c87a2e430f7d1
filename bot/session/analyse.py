"""`analyse`: the summary of files people already have (a colleague's jstack, an actuator
download, a dump pasted into Slack, a .jfr), with the same analysers as a live request.

Nothing runs against a JVM. Thread dumps from several files are read as one sequence of
dumps, in the order given; each recording is summarised on its own. Files are read in
bounded memory and capped; anything that is not a dump or a recording gets one sentence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bot.jvm.recording import summarise_recording
from bot.jvm.threaddump import (
    DumpFile,
    read_dump_file,
    read_dump_stream,
    summarise_dump_files,
)
from bot.model.results import Analysis
from bot.session.run import default_redactor

MAX_BYTES = 64 * 1024 * 1024
JFR_MAGIC = b"FLR\0"


@dataclass(frozen=True)
class Named:
    """An analysis and the file(s) it is of."""

    name: str
    analysis: Analysis


def analyse_paths(paths: Sequence[Path], event: str = "cpu") -> list[Named]:
    """Every recording on its own, every other file into one thread-dump summary."""
    out: list[Named] = []
    dumps: list[DumpFile] = []
    for path in paths:
        try:
            with path.open("rb") as stream:
                head = stream.read(4)
                if head == JFR_MAGIC:
                    out.append(Named(path.name, _recording(stream, path.name, event)))
                    continue
        except OSError as error:
            out.append(Named(path.name, Analysis(f"{path} cannot be read: {error.strerror}.")))
            continue
        dumps.append(read_dump_file(path, MAX_BYTES))
    if dumps:
        names = ", ".join(d.name for d in dumps)
        out.insert(0, Named(names, summarise_dump_files(dumps)))
    return out


def analyse_stream(stream: BinaryIO, name: str, event: str = "cpu") -> Analysis:
    """One file as it arrives (a Slack download): a recording or thread dumps, redacted."""
    head = stream.read(4)
    if head == JFR_MAGIC:
        return redacted(_recording(stream, name, event, head))
    return redacted(
        summarise_dump_files([read_dump_stream(_prefixed(head, stream), name, MAX_BYTES)])
    )


def _recording(stream: BinaryIO, name: str, event: str, head: bytes = JFR_MAGIC) -> Analysis:
    data = head + stream.read(MAX_BYTES + 1 - len(head))
    if len(data) > MAX_BYTES:
        return Analysis(
            f"{name} is larger than the {MAX_BYTES >> 20} MB jdebug analyses; record a shorter "
            "profile or trim it with `jfr disassemble`."
        )
    return summarise_recording(data, event, name.removesuffix(".jfr"), attach_recording=False)


class _prefixed:
    """A stream with bytes already read put back in front of it."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size < 0:
            data, self._head = self._head + self._rest.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        if len(data) < size:
            data += self._rest.read(size - len(data))
        return data


def redacted(analysis: Analysis) -> Analysis:
    """The analysis with secret-looking values replaced, as any answer leaving the bot."""
    redactor = default_redactor()

    def clean(text: str) -> str:
        return redactor.redact(text)[0]

    return dataclasses.replace(
        analysis,
        headline=clean(analysis.headline),
        findings=tuple(clean(f) for f in analysis.findings),
        notes=tuple(clean(n) for n in analysis.notes),
    )
