"""`parse_thread_dump`: `Thread.print -l` output (JDK 8 to 25) into a typed `ThreadDump`.

One pass over the lines with regexes compiled once, so a 10,000-thread dump parses in well
under a second. Unknown, truncated or garbage text never raises: it becomes `notes`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
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
    """The line-by-line state machine behind `parse_thread_dump` and `split_thread_dumps`.

    With `split`, a line that can only open another dump (a second `Full thread dump`, a
    timestamp or jcmd `<pid>:` line after threads, a thread already read) ends this one.
    """

    def __init__(self, split: bool = False) -> None:
        self.split = split
        self.timestamp: str | None = None
        self.vm: str | None = None
        self.jni: str | None = None
        self.threads: list[JavaThread] = []
        self.keys: set[tuple[str, int | None, str | None]] = set()
        self.current: ThreadBuilder | None = None
        self.mode = _THREADS
        self.cycles: list[list[DeadlockLink]] = []
        self.link_thread: str | None = None
        self.link_lock: Lock | None = None
        self.reported_deadlocks: int | None = None
        self.smr_length: int | None = None
        self.unrecognised = 0
        self.first_unrecognised: str | None = None
        self.preamble = 0
        self.first_preamble: str | None = None
        self.seen_content = False

    def run(self, lines: Iterator[str]) -> str | None:
        """Read lines until they end (None) or, when splitting, one opens the next dump."""
        handle = self.line
        for raw in lines:
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
            elif handle(line):
                return line
        return None

    def finish(self) -> ThreadDump:
        self.finish_thread()
        self.end_cycle()
        old_format = bool(self.threads) and all(
            t.number is None and t.state is None for t in self.threads
        )
        threads = _with_old_format_states(self.threads) if old_format else self.threads
        return ThreadDump(
            timestamp=self.timestamp,
            vm=self.vm,
            threads=tuple(threads),
            deadlocks=tuple(Deadlock(tuple(links)) for links in self.cycles if _closed(links)),
            jni_refs=self.jni,
            notes=tuple(self.notes(old_format)),
            java_thread_count=self.smr_length,
        )

    def opens_next_dump(self) -> bool:
        return self.split and (self.seen_content or self.current is not None)

    def line(self, line: str) -> bool:
        """Handle one non-frame line; True when it belongs to the next dump instead."""
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
        elif first == " " or first.isspace():
            return self.indented_line(line)
        elif first == '"':
            return self.quoted_line(line)
        elif line.startswith("os_prio="):
            # A VM-internal thread without a name (JDK 25 prints none for some).
            return self.quoted_line('"" ' + line)
        else:
            return self.top_level_line(line)
        return False

    def indented_line(self, line: str) -> bool:
        """State and section lines, and frames or lock lines indented with spaces instead of
        a tab (a dump copied through a terminal or a chat)."""
        stripped = line.strip()
        current = self.current
        if self.mode == _DEADLOCK_SUMMARY:
            self.deadlock_line(stripped)
        elif stripped.startswith('"'):
            return self.quoted_line(stripped)
        elif self.mode == _DEADLOCK_STACKS and stripped.startswith(("at ", "- ")):
            pass
        elif current is not None and self.mode == _THREADS:
            if stripped.startswith("at "):
                (current.virtual_frames if current.in_virtual else current.frames).append(
                    intern(stripped[3:])
                )
            elif stripped.startswith("- "):
                if not current.lock_line("\t" + stripped):
                    self.not_recognised(stripped)
            elif not current.indented_line(stripped):
                self.not_recognised(stripped)
        else:
            self.not_recognised(line)
        return False

    def quoted_line(self, line: str) -> bool:
        """A thread header, or a thread's name in the JVM's deadlock report."""
        mode = self.mode
        if line.endswith('":'):
            if mode == _DEADLOCK_SUMMARY:
                self.link_thread = line[1:-2]
                self.link_lock = None
            elif mode != _DEADLOCK_STACKS:
                self.not_recognised(line)
            return False
        started = start_thread(line)
        if started is None:
            self.not_recognised(line)
            return False
        key = (started.name, started.number, started.tid)
        if key in self.keys and self.split:
            return True  # the same thread again: a dump without its own header follows
        self.keys.add(key)
        self.finish_thread()
        self.mode = _THREADS
        self.current = started
        self.seen_content = True
        return False

    def top_level_line(self, line: str) -> bool:
        if self.mode == _SMR and line.startswith(("_", "0x", "}")):
            match = _SMR_LENGTH.match(line)
            if match:
                self.smr_length = int(match.group(1))
        elif line.startswith("Full thread dump "):
            if self.opens_next_dump() and (self.vm is not None or self.threads or self.current):
                return True
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
        elif _TIMESTAMP.match(line) or _JCMD_PID_LINE.match(line):
            if self.opens_next_dump():
                return True  # jstack's timestamp or jcmd's `<pid>:` opens the next dump
            if self.seen_content:
                self.not_recognised(line)
            elif _TIMESTAMP.match(line) and self.timestamp is None:
                self.timestamp = line
        else:
            self.not_recognised(line)
        return False

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
        if not self.seen_content and self.split:
            # Text before a dump (a tool's own header, a chat message): skipped, and said so.
            self.preamble += 1
            if self.first_preamble is None:
                self.first_preamble = line
            return
        self.unrecognised += 1
        if self.first_unrecognised is None:
            self.first_unrecognised = line

    def notes(self, old_format: bool) -> list[str]:
        notes: list[str] = []
        if not (self.seen_content or self.unrecognised or self.preamble or self.timestamp):
            return ["the output is empty"]
        if self.preamble:
            lines = "line" if self.preamble == 1 else "lines"
            notes.append(
                f"skipped {self.preamble} {lines} before the dump, "
                f"e.g. '{_excerpt(self.first_preamble or '')}'"
            )
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
        if self.threads and self.jni is None and not old_format:
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
    parser = _DumpParser()
    parser.run(_lines(text))
    return parser.finish()


def split_thread_dumps(lines: Iterable[str]) -> Iterator[ThreadDump]:
    """Each dump in lines holding one or several consecutive ones (jstack/jcmd output, kill -3
    logs, dumps pasted one after another), parsed on its own; always at least one.

    Text after the last dump that holds no thread is not a dump of its own: that dump's notes
    count it.
    """
    remaining = iter(lines)
    parser = _DumpParser(split=True)
    done: ThreadDump | None = None
    while (opener := parser.run(remaining)) is not None:
        if done is not None:
            yield done
        done = parser.finish()
        parser = _DumpParser(split=True)
        parser.run(iter((opener,)))
    if done is None or parser.seen_content or parser.current is not None:
        if done is not None:
            yield done
        yield parser.finish()
        return
    count = parser.unrecognised + parser.preamble
    if count:
        example = _excerpt(parser.first_preamble or parser.first_unrecognised or "")
        lines_word = "line" if count == 1 else "lines"
        note = f"{count} {lines_word} after the dump were not recognised, e.g. '{example}'"
        done = replace(done, notes=(*done.notes, note))
    yield done


def parse_thread_dumps(text: str) -> tuple[ThreadDump, ...]:
    """`split_thread_dumps` over one text: a file of three jstack dumps gives three dumps."""
    return tuple(split_thread_dumps(_lines(text)))


def _old_state(thread: JavaThread) -> str | None:
    """JDK 1.4 to 5 print no `java.lang.Thread.State:` line: the header's status says it."""
    status = thread.status
    if status.startswith("waiting for monitor entry"):
        return "BLOCKED"
    sleeping = bool(thread.frames) and thread.frames[0].startswith("java.lang.Thread.sleep(")
    if status.startswith(("sleeping", "waiting on condition")) and sleeping:
        return "TIMED_WAITING"
    if status.startswith(("in Object.wait()", "waiting on condition")):
        return "WAITING"
    if status.startswith("runnable"):
        return "RUNNABLE"
    return None


def _with_old_format_states(threads: Sequence[JavaThread]) -> list[JavaThread]:
    """States for a dump from before `#N` and state lines; HotSpot lists the Java threads
    first and the VM's own from "VM Thread" on, and those get none, as in newer dumps."""
    names = [t.name for t in threads]
    first_internal = names.index("VM Thread") if "VM Thread" in names else len(threads)
    return [
        replace(t, state=_old_state(t)) if i < first_internal else t for i, t in enumerate(threads)
    ]
