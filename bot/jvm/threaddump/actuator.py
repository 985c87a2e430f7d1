"""Spring Boot actuator's `/threaddump`, both of its formats, read into `ThreadDump`s.

The JSON answer is `{"threads": [ThreadInfo...]}` (Jackson's view of
`java.lang.management.ThreadInfo`); the text answer (`Accept: text/plain`) is written by
Spring Boot's `PlainTextThreadDumpFormatter`: `"name" - Thread t@N`, the state line, frames as
`StackTraceElement.toString()`, lock lines with identity hashes, and ownable synchronizers
(spring-boot-actuator, org/springframework/boot/actuate/management/).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

import ijson  # type: ignore[import-untyped]

from bot.jvm.threaddump.decoding import ByteSource
from bot.jvm.threaddump.frames import frame_of_element, frame_of_json_element
from bot.jvm.threaddump.java_threads import lock_of_hash, thread_from_java, waiting_for
from bot.jvm.threaddump.model import JavaThread, Lock, LockWait, ThreadDump

_HEADER = re.compile(r'"(?P<name>.*)"(?: - Thread t@(?P<id>\d{1,19}))?')
_LOCK_LINE = re.compile(
    r"- (?P<kind>locked|Locked|waiting on|waiting to lock|parking to wait for) "
    r"<(?P<hash>[0-9a-fA-F]{1,16})> \(a (?P<cls>[^)]*)\)(?: owned by .*)?"
)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _locks(value: object) -> list[Lock]:
    if not isinstance(value, list):
        return []
    return [
        lock_of_hash(item["identityHashCode"], str(item.get("className")))
        for item in value
        if isinstance(item, dict) and isinstance(item.get("identityHashCode"), int)
    ]


def _json_thread(info: Mapping[str, object]) -> JavaThread | None:
    name, number, state = info.get("threadName"), info.get("threadId"), info.get("threadState")
    if not isinstance(name, str) or not isinstance(number, int):
        return None
    stack = info.get("stackTrace")
    elements = stack if isinstance(stack, list) else []
    frames = [frame_of_json_element(e) for e in elements if isinstance(e, dict)]
    state_name = state if isinstance(state, str) else None
    waited = _locks([info.get("lockInfo")])
    priority = info.get("priority")
    return thread_from_java(
        name=name,
        number=number,
        state=state_name,
        frames=frames,
        daemon=info.get("daemon") is True,
        priority=priority if isinstance(priority, int) else None,
        held=_locks(info.get("lockedMonitors")),
        waits=waiting_for(state_name, frames, waited[0] if waited else None),
        ownable=_locks(info.get("lockedSynchronizers")),
    )


def read_actuator_json(body: ByteSource) -> ThreadDump:
    """The JSON `/threaddump` answer, read one thread at a time (ijson), so a big one never
    sits in memory as one object tree."""
    threads: list[JavaThread] = []
    skipped = 0
    notes: list[str] = []
    try:
        for info in ijson.items(body, "threads.item"):
            thread = _json_thread(info) if isinstance(info, dict) else None
            if thread is None:
                skipped += 1
            else:
                threads.append(thread)
    except ijson.JSONError as error:
        notes.append(f"the JSON stops being valid after {len(threads)} threads ({error})")
    if skipped:
        notes.append(f"{skipped} thread entries without a threadName and threadId were skipped")
    return ThreadDump(
        timestamp=None,
        vm=None,
        threads=tuple(threads),
        deadlocks=(),
        jni_refs=None,
        notes=tuple(notes),
    )


class _TextThread:
    """One thread of the text format while its lines are read."""

    def __init__(self, name: str, number: int | None) -> None:
        self.name = name
        self.number = number
        self.state: str | None = None
        self.frames: list[str] = []
        self.held: list[Lock] = []
        self.waits: LockWait | None = None
        self.ownable: list[Lock] = []
        self.in_ownable = False

    def lock_line(self, stripped: str) -> bool:
        match = _LOCK_LINE.fullmatch(stripped)
        if match is None:
            return stripped == "- None" and self.in_ownable
        kind, lock = match.group("kind"), lock_of_hash(match.group("hash"), match.group("cls"))
        if kind == "Locked" or self.in_ownable:
            self.ownable.append(lock)
        elif kind == "locked":
            self.held.append(lock)
        elif self.waits is None:
            self.waits = waiting_for(self.state, self.frames, lock)
        return True

    def freeze(self) -> JavaThread:
        return thread_from_java(
            name=self.name,
            number=self.number,
            state=self.state,
            frames=self.frames,
            held=self.held,
            waits=self.waits,
            ownable=self.ownable,
        )


class _TextDump:
    """One dump of the text format: the preamble lines, then threads."""

    def __init__(self) -> None:
        self.timestamp: str | None = None
        self.vm: str | None = None
        self.threads: list[JavaThread] = []
        self.current: _TextThread | None = None
        self.unrecognised = 0
        self.first_unrecognised = ""

    def finish(self) -> ThreadDump:
        if self.current is not None:
            self.threads.append(self.current.freeze())
            self.current = None
        notes: tuple[str, ...] = ()
        if self.unrecognised:
            excerpt = self.first_unrecognised.strip()[:60]
            lines = "line was" if self.unrecognised == 1 else "lines were"
            notes = (f"{self.unrecognised} {lines} not recognised, e.g. '{excerpt}'",)
        return ThreadDump(self.timestamp, self.vm, tuple(self.threads), (), None, notes)

    def line(self, line: str) -> bool:
        """Read one line; True when it opens the next dump."""
        stripped = line.strip()
        current = self.current
        if not stripped:
            return False
        if line.startswith('"') and (match := _HEADER.fullmatch(stripped)) is not None:
            if current is not None:
                self.threads.append(current.freeze())
            number = match.group("id")
            self.current = _TextThread(match.group("name"), int(number) if number else None)
        elif _TIMESTAMP.match(stripped) or stripped.startswith("Full thread dump "):
            if self.threads or current is not None:
                return True
            if stripped.startswith("Full thread dump "):
                self.vm = stripped[len("Full thread dump ") :].rstrip(":")
            else:
                self.timestamp = stripped
        elif current is None:
            self.not_recognised(line)
        elif stripped.startswith("at "):
            current.frames.append(frame_of_element(stripped[3:]))
        elif stripped.startswith("java.lang.Thread.State: "):
            current.state = stripped[len("java.lang.Thread.State: ") :].split(" ")[0]
        elif stripped == "Locked ownable synchronizers:":
            current.in_ownable = True
        elif not (stripped.startswith("- ") and current.lock_line(stripped)):
            self.not_recognised(line)
        return False

    def not_recognised(self, line: str) -> None:
        self.unrecognised += 1
        self.first_unrecognised = self.first_unrecognised or line


def split_actuator_text(lines: Iterable[str]) -> Iterator[ThreadDump]:
    """Each dump in the text format (several when answers were saved one after another)."""
    dump = _TextDump()
    for line in lines:
        if dump.line(line.rstrip()):
            yield dump.finish()
            dump = _TextDump()
            dump.line(line.rstrip())
    yield dump.finish()
