"""`parse_thread_dump`: `Thread.print -l` output (JDK 8 to 25) into a typed `ThreadDump`.

One pass over the lines with regexes compiled once, so a 10,000-thread dump parses in well
under a second. Unknown, truncated or garbage text never raises: it becomes `notes`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from sys import intern  # deep stacks repeat frames: one string each, not thousands

from bot.jvm.threaddump.model import Deadlock, DeadlockLink, JavaThread, Lock, ThreadDump
from bot.jvm.threaddump.thread_lines import ThreadBuilder, start_thread


def _lines(text: str) -> Iterator[str]:
    """Lines one at a time: a 50 MB dump is never held as a list of 650,000 strings."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            end = size
        yield text[start:end]
        start = end + 1


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
_SMR_LENGTH = re.compile(r"_java_thread_list=0x[0-9a-fA-F]+, length=(\d{1,9}),")
_DEADLOCK_COUNT = re.compile(r"Found (\d{1,9}) deadlocks?\.$")
_DL_MONITOR = re.compile(
    r"waiting to lock monitor (?P<monitor>0x[0-9a-fA-F]+) "
    r"\((?:object (?P<address>0x[0-9a-fA-F]+), a (?P<cls>.*?)|JVMTI raw monitor)\),?$"
)
_DL_SYNCHRONIZER = re.compile(
    r"waiting for ownable synchronizer (?P<address>0x[0-9a-fA-F]+), \(a (?P<cls>.*?)\),?$"
)
_DL_HELD_BY = re.compile(
    r'which is held by (?:"(?P<name>.*)"|(?P<unknown>UNKNOWN_owner_addr=\S+))$'
)
_JCMD_PID_LINE = re.compile(r"\d{1,10}:$")

_THREADS, _SMR, _DEADLOCK_SUMMARY, _DEADLOCK_STACKS = range(4)


def _excerpt(line: str, width: int = 60) -> str:
    return line.strip()[:width] + ("…" if len(line.strip()) > width else "")


def _closed(links: Sequence[DeadlockLink]) -> bool:
    """Whether the links form a whole cycle; a cut-short report leaves an open chain."""
    return bool(links) and all(
        link.held_by == links[(i + 1) % len(links)].thread for i, link in enumerate(links)
    )


class _DumpParser:
    """The line-by-line state machine behind `parse_thread_dump`."""

    def __init__(self) -> None:
        self.timestamp: str | None = None
        self.vm: str | None = None
        self.jni: str | None = None
        self.threads: list[JavaThread] = []
        self.current: ThreadBuilder | None = None
        self.mode = _THREADS
        self.cycles: list[list[DeadlockLink]] = []
        self.link_thread: str | None = None
        self.link_lock: Lock | None = None
        self.reported_deadlocks: int | None = None
        self.smr_length: int | None = None
        self.unrecognised = 0
        self.first_unrecognised: str | None = None
        self.seen_content = False

    def parse(self, text: str) -> ThreadDump:
        handle = self.line
        for raw in _lines(text):
            line = raw.rstrip()
            if not line:
                if self.mode == _SMR:
                    self.mode = _THREADS
            elif line.startswith("\tat ") and self.current is not None and self.mode == _THREADS:
                # Frames are half of all lines: handled inline, without a call per line.
                current = self.current
                (current.virtual_frames if current.in_virtual else current.frames).append(
                    intern(line[4:])
                )
            else:
                handle(line)
        self.finish_thread()
        self.end_cycle()
        return ThreadDump(
            timestamp=self.timestamp,
            vm=self.vm,
            threads=tuple(self.threads),
            deadlocks=tuple(Deadlock(tuple(links)) for links in self.cycles if _closed(links)),
            jni_refs=self.jni,
            notes=tuple(self.notes(text)),
            java_thread_count=self.smr_length,
        )

    def line(self, line: str) -> None:
        first = line[0]
        current = self.current
        mode = self.mode
        if first == "\t":
            if mode == _DEADLOCK_STACKS:
                # The JVM repeats the deadlocked threads' stacks here; they are already parsed.
                if not line.startswith(("\tat ", "\t- ")):
                    self.not_recognised(line)
            elif current is None or mode != _THREADS:
                self.not_recognised(line)
            elif line.startswith("\tat "):
                (current.virtual_frames if current.in_virtual else current.frames).append(
                    intern(line[4:])
                )
            elif not current.lock_line(line):
                self.not_recognised(line)
        elif first == " ":
            if mode == _DEADLOCK_SUMMARY:
                self.deadlock_line(line.strip())
            elif current is not None and mode == _THREADS:
                stripped = line.strip()
                if not current.indented_line(stripped):
                    self.not_recognised(stripped)
            else:
                self.not_recognised(line)
        elif first == '"':
            if line.endswith('":'):
                if mode == _DEADLOCK_SUMMARY:
                    self.link_thread = line[1:-2]
                    self.link_lock = None
                elif mode != _DEADLOCK_STACKS:
                    self.not_recognised(line)
                return
            started = start_thread(line)
            if started is None:
                self.not_recognised(line)
                return
            self.finish_thread()
            self.mode = _THREADS
            self.current = started
            self.seen_content = True
        else:
            self.top_level_line(line)

    def top_level_line(self, line: str) -> None:
        if self.mode == _SMR and line.startswith(("_", "0x", "}")):
            match = _SMR_LENGTH.match(line)
            if match:
                self.smr_length = int(match.group(1))
        elif line.startswith("Full thread dump "):
            self.vm = line[len("Full thread dump ") :].rstrip(":")
            self.seen_content = True
        elif line.startswith("JNI global "):
            self.finish_thread()
            self.jni = line
            self.mode = _THREADS
        elif line.startswith("Found one ") and line.endswith("deadlock:"):
            self.finish_thread()
            self.end_cycle()
            self.cycles.append([])
            self.mode = _DEADLOCK_SUMMARY
        elif line.startswith("Java stack information for the threads listed above"):
            self.end_cycle()
            self.mode = _DEADLOCK_STACKS
        elif line.startswith("====="):
            pass
        elif (match := _DEADLOCK_COUNT.match(line)) is not None:
            self.end_cycle()
            self.reported_deadlocks = int(match.group(1))
            self.mode = _THREADS
        elif line == "Threads class SMR info:":
            self.finish_thread()
            self.mode = _SMR
        elif self.timestamp is None and not self.seen_content and _TIMESTAMP.match(line):
            self.timestamp = line
        elif not self.seen_content and _JCMD_PID_LINE.match(line):
            pass  # jcmd's own `<pid>:` prefix line
        else:
            self.not_recognised(line)

    def deadlock_line(self, stripped: str) -> None:
        if (match := _DL_MONITOR.match(stripped)) is not None:
            address, cls = match.group("address"), match.group("cls")
            if address is None:
                self.link_lock = Lock(match.group("monitor"), "JVMTI raw monitor")
            else:
                self.link_lock = Lock(address, cls)
        elif (match := _DL_SYNCHRONIZER.match(stripped)) is not None:
            self.link_lock = Lock(match.group("address"), match.group("cls"))
        elif (match := _DL_HELD_BY.search(stripped)) is not None:
            if self.link_thread is None or self.link_lock is None or not self.cycles:
                self.not_recognised(stripped)
                return
            holder = match.group("name") or match.group("unknown")
            self.cycles[-1].append(DeadlockLink(self.link_thread, self.link_lock, holder))
            self.link_thread = self.link_lock = None
        else:
            self.not_recognised(stripped)

    def finish_thread(self) -> None:
        if self.current is not None:
            self.threads.append(self.current.freeze())
            self.current = None

    def end_cycle(self) -> None:
        self.link_thread = self.link_lock = None

    def not_recognised(self, line: str) -> None:
        self.unrecognised += 1
        if self.first_unrecognised is None:
            self.first_unrecognised = line

    def notes(self, text: str) -> list[str]:
        notes: list[str] = []
        if not text or text.isspace():  # what `not text.strip()` says, without a copy
            return ["the output is empty"]
        if self.vm is None:
            notes.append("no 'Full thread dump' line: this may not be Thread.print output")
        if self.unrecognised:
            lines = "line was" if self.unrecognised == 1 else "lines were"
            notes.append(
                f"{self.unrecognised} {lines} not recognised, "
                f"e.g. '{_excerpt(self.first_unrecognised or '')}'"
            )
        if self.vm is not None and not self.threads:
            notes.append("no thread follows the 'Full thread dump' line: it looks truncated")
        if self.threads and self.jni is None:
            last = self.threads[-1]
            notes.append(
                f'it looks truncated: it stops after thread "{last.name}" '
                "without the closing 'JNI global refs' line"
            )
        unfinished = [
            t.name
            for t in self.threads
            if not t.is_vm_internal and t.state is None and t.carrying_virtual_thread is None
        ]
        if unfinished:
            notes.append(
                f'no java.lang.Thread.State line for "{unfinished[0]}"'
                + (f" and {len(unfinished) - 1} more" if len(unfinished) > 1 else "")
            )
        if self.cycles and self.reported_deadlocks is None:
            notes.append("the JVM's deadlock report is cut short")
        elif self.reported_deadlocks is not None and self.reported_deadlocks != len(self.cycles):
            notes.append(
                f"the JVM reports {self.reported_deadlocks} deadlock(s) "
                f"but {len(self.cycles)} were read"
            )
        java_threads = sum(1 for t in self.threads if not t.is_vm_internal)
        if self.smr_length is not None and java_threads < self.smr_length:
            notes.append(f"the JVM listed {self.smr_length} Java threads, {java_threads} were read")
        return notes


def parse_thread_dump(text: str) -> ThreadDump:
    """Parse one `Thread.print [-l]` output; never raises, problems become `notes`.

    For cowweb, `parse_thread_dump(text).thread("cow-waiting-1").waiting_for` is
    `LockWait("waiting to lock", Lock("0x00000000fc0ece88", "cowweb.Main$BarnDoor"))`.
    """
    return _DumpParser().parse(text)
