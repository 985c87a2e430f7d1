"""Parse `Thread.print -l` output (JDK 8 to 25) into typed threads, locks and deadlocks.

`summarise_thread_dumps` turns one or several dumps into what on-call reads first: counts by
state, deadlocks, threads queued behind a lock holder, identical stacks and, across dumps,
threads stuck in place and the ones burning CPU. One pass over the lines, regexes compiled
once, so a 10,000-thread dump parses in well under a second; bad text yields notes, not errors.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.request import Options
from bot.results import Analysis

WaitKind = Literal[
    "waiting to lock",
    "waiting to re-lock in wait()",
    "parking to wait for",
    "waiting on",
    "waiting on the class initialization monitor for",
]


@dataclass(frozen=True)
class Lock:
    """An object used as a lock, e.g. `<0x00000000fc0ece88> (a cowweb.Main$BarnDoor)`.

    `address` is None when the JVM printed none (class initialization monitors).
    """

    address: str | None
    class_name: str

    def describe(self) -> str:
        if self.address is None:
            return f"(a {self.class_name})"
        return f"<{self.address}> (a {self.class_name})"


@dataclass(frozen=True)
class LockWait:
    """What a thread waits for, as the first lock line of its stack says."""

    kind: WaitKind
    lock: Lock


@dataclass(frozen=True)
class JavaThread:
    """One thread of a dump; `number` (`#N`) is None for VM-internal threads like "VM Thread"."""

    name: str
    number: int | None
    os_thread_id: int | None
    daemon: bool
    priority: int | None
    os_priority: int | None
    cpu_ms: float | None
    elapsed_s: float | None
    tid: str | None
    status: str
    state: str | None
    state_reason: str | None
    frames: tuple[str, ...]
    locks_held: tuple[Lock, ...]
    waiting_for: LockWait | None
    ownable_synchronizers: tuple[Lock, ...]
    carrying_virtual_thread: int | None = None
    virtual_thread_frames: tuple[str, ...] = ()

    @property
    def is_vm_internal(self) -> bool:
        return self.number is None

    @property
    def key(self) -> tuple[str, int | None]:
        """Identity across dumps of one JVM: `#N` is unique per JVM, the name guards reuse."""
        return (self.name, self.number)


@dataclass(frozen=True)
class DeadlockLink:
    """One edge of a deadlock cycle: `thread` waits for `waits_for`, which `held_by` holds."""

    thread: str
    waits_for: Lock
    held_by: str


@dataclass(frozen=True)
class Deadlock:
    """A cycle of threads, each waiting for a lock the next one holds."""

    links: tuple[DeadlockLink, ...]

    @property
    def threads(self) -> tuple[str, ...]:
        return tuple(link.thread for link in self.links)

    def cycle(self) -> str:
        """`a ↔ b` for two threads, `a → b → c → a` for more."""
        names = self.threads
        if len(names) == 2:
            return f"{names[0]} ↔ {names[1]}"
        return " → ".join((*names, names[0])) if names else "?"

    def explain(self) -> str:
        return "; ".join(
            f"{link.thread} waits for {link.waits_for.describe()} held by {link.held_by}"
            for link in self.links
        )


@dataclass(frozen=True)
class ThreadDump:
    """One parsed `Thread.print` run; `deadlocks` are the ones the JVM itself reported."""

    timestamp: str | None
    vm: str | None
    threads: tuple[JavaThread, ...]
    deadlocks: tuple[Deadlock, ...]
    jni_refs: str | None
    notes: tuple[str, ...]
    java_thread_count: int | None = None

    def thread(self, name: str) -> JavaThread | None:
        """The first thread called `name`, or None."""
        return next((t for t in self.threads if t.name == name), None)


# --- parsing -------------------------------------------------------------------------------

# A thread's name may hold quotes and spaces, so it ends at the line's last `" ` (the fields
# after it never contain a quote). Numbers are length-bounded so int() never sees a
# 5,000-digit garbage run, which Python refuses.
_HEADER_FIELDS = re.compile(
    r"(?:#(?P<number>\d{1,19}) )?"
    r"(?:\[(?P<ostid>\d{1,19})\] )?"
    r"(?P<daemon>daemon )?"
    r"(?:prio=(?P<prio>-?\d{1,9}) )?"
    r"(?:os_prio=(?P<os_prio>-?\d{1,9}) )?"
    r"(?:cpu=(?P<cpu>\d{1,15}(?:\.\d{1,9})?)ms )?"
    r"(?:elapsed=(?P<elapsed>\d{1,15}(?:\.\d{1,9})?)s )?"
    r"(?:allocated=\S+ )?(?:defined_classes=\S+ )?"
    r"(?:tid=(?P<tid>0x[0-9a-fA-F]{1,16}) )?"
    r"(?:nid=(?P<nid>0x[0-9a-fA-F]{1,16}|\d{1,19}) )?"
    r"(?P<status>.*?)\s*(?:\[0x[0-9a-fA-F]+\])?"
)
_LOCK_LINE = re.compile(
    r"\t- (?P<kind>locked|waiting to lock|waiting on|waiting to re-lock in wait\(\)"
    r"|parking to wait for|eliminated) +<(?P<address>0x[0-9a-fA-F]+)> \(a (?P<cls>.*)\)$"
)
_OWNABLE_LINE = re.compile(r"\t- <(?P<address>0x[0-9a-fA-F]+)> \(a (?P<cls>.*)\)$")
_CLASS_INIT = "\t- waiting on the Class initialization monitor for "
# Lock lines that carry no object the rest of the analysis could use.
_LOCK_LINES_WITHOUT_OBJECT = (
    "\t- waiting on <no object reference available>",
    "\t- waiting to re-lock in wait() <no object reference available>",
    "\t- eliminated <owner is scalar replaced>",
)
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
_WAIT_KINDS: dict[str, WaitKind] = {
    "waiting to lock": "waiting to lock",
    "waiting to re-lock in wait()": "waiting to re-lock in wait()",
    "parking to wait for": "parking to wait for",
    "waiting on": "waiting on",
}


class _ThreadBuilder:
    """A thread while its lines are being read; frozen into `JavaThread` when it ends."""

    __slots__ = (
        "carrying",
        "cpu_ms",
        "daemon",
        "elapsed_s",
        "frames",
        "held",
        "in_ownable",
        "in_virtual",
        "name",
        "number",
        "os_priority",
        "os_thread_id",
        "ownable",
        "priority",
        "state",
        "state_reason",
        "status",
        "tid",
        "virtual_frames",
        "waits",
    )

    def __init__(self, name: str, match: re.Match[str]) -> None:
        g = match.group
        self.name = name
        number = g("number")
        self.number = int(number) if number else None
        ostid, nid = g("ostid"), g("nid")
        if ostid:
            self.os_thread_id: int | None = int(ostid)
        elif nid:
            self.os_thread_id = int(nid, 16) if nid.startswith("0x") else int(nid)
        else:
            self.os_thread_id = None
        self.daemon = g("daemon") is not None
        prio, os_prio = g("prio"), g("os_prio")
        self.priority = int(prio) if prio else None
        self.os_priority = int(os_prio) if os_prio else None
        cpu, elapsed = g("cpu"), g("elapsed")
        self.cpu_ms = float(cpu) if cpu else None
        self.elapsed_s = float(elapsed) if elapsed else None
        self.tid: str | None = g("tid")
        self.status: str = g("status")
        self.state: str | None = None
        self.state_reason: str | None = None
        self.frames: list[str] = []
        self.held: list[Lock] = []
        self.waits: list[LockWait] = []
        self.ownable: list[Lock] = []
        self.in_ownable = False
        self.carrying: int | None = None
        self.in_virtual = False
        self.virtual_frames: list[str] = []

    def freeze(self) -> JavaThread:
        waiting_for = self.waits[0] if self.waits else None
        held = self.held
        if waiting_for is not None and waiting_for.kind in (
            "waiting on",
            "waiting to re-lock in wait()",
        ):
            # Object.wait() released the monitor, yet the caller's frame still prints it
            # as `- locked`: counting it as held would invent an owner.
            released = waiting_for.lock.address
            held = [lock for lock in held if lock.address != released]
        return JavaThread(
            name=self.name,
            number=self.number,
            os_thread_id=self.os_thread_id,
            daemon=self.daemon,
            priority=self.priority,
            os_priority=self.os_priority,
            cpu_ms=self.cpu_ms,
            elapsed_s=self.elapsed_s,
            tid=self.tid,
            status=self.status,
            state=self.state,
            state_reason=self.state_reason,
            frames=tuple(self.frames),
            locks_held=tuple(held),
            waiting_for=waiting_for,
            ownable_synchronizers=tuple(self.ownable),
            carrying_virtual_thread=self.carrying,
            virtual_thread_frames=tuple(self.virtual_frames),
        )


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
        self.current: _ThreadBuilder | None = None
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
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line:
                if self.mode == _SMR:
                    self.mode = _THREADS
            elif line.startswith("\tat ") and self.current is not None and self.mode == _THREADS:
                # Frames are half of all lines: handled inline, without a call per line.
                current = self.current
                (current.virtual_frames if current.in_virtual else current.frames).append(line[4:])
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
                (current.virtual_frames if current.in_virtual else current.frames).append(line[4:])
            elif current.in_ownable:
                self.ownable_line(current, line)
            elif not current.in_virtual:
                self.lock_line(current, line)
        elif first == " ":
            if mode == _DEADLOCK_SUMMARY:
                self.deadlock_line(line.strip())
            elif current is not None and mode == _THREADS:
                self.indented_line(current, line.strip())
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
            name_end = line.rfind('" ')
            match = _HEADER_FIELDS.fullmatch(line, name_end + 2) if name_end > 0 else None
            if match is None or not (
                match.group("tid") or match.group("os_prio") or match.group("number")
            ):
                self.not_recognised(line)
                return
            self.finish_thread()
            self.mode = _THREADS
            self.current = _ThreadBuilder(line[1:name_end], match)
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

    def indented_line(self, current: _ThreadBuilder, stripped: str) -> None:
        if stripped.startswith("java.lang.Thread.State: "):
            state = stripped[len("java.lang.Thread.State: ") :]
            name, _, reason = state.partition(" ")
            current.state = name
            current.state_reason = reason.strip("()") or None
        elif stripped == "Locked ownable synchronizers:":
            current.in_ownable = True
            current.in_virtual = False
        elif stripped.startswith("Carrying virtual thread #"):
            number = stripped[len("Carrying virtual thread #") :]
            current.carrying = int(number) if number.isdigit() and len(number) < 19 else None
        elif stripped.startswith("Mounted virtual thread #"):
            current.in_virtual = True
            current.in_ownable = False
        elif not stripped.startswith(("No compile task", "Compiling:", "JavaThread state:")):
            self.not_recognised(stripped)

    def lock_line(self, current: _ThreadBuilder, line: str) -> None:
        match = _LOCK_LINE.match(line)
        if match is not None:
            kind = match.group("kind")
            lock = Lock(match.group("address"), match.group("cls"))
            if kind == "locked":
                current.held.append(lock)
            elif kind != "eliminated":
                current.waits.append(LockWait(_WAIT_KINDS[kind], lock))
        elif line.startswith(_CLASS_INIT):
            lock = Lock(None, line[len(_CLASS_INIT) :])
            current.waits.append(LockWait("waiting on the class initialization monitor for", lock))
        elif not line.startswith(_LOCK_LINES_WITHOUT_OBJECT):
            self.not_recognised(line)

    def ownable_line(self, current: _ThreadBuilder, line: str) -> None:
        if line == "\t- None":
            return
        match = _OWNABLE_LINE.match(line)
        if match is None:
            self.not_recognised(line)
        else:
            current.ownable.append(Lock(match.group("address"), match.group("cls")))

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
        if not text.strip():
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


# --- analysis ------------------------------------------------------------------------------

_BLOCKING_WAITS = frozenset(
    {"waiting to lock", "waiting to re-lock in wait()", "parking to wait for"}
)
_STATE_ORDER = ("BLOCKED", "WAITING", "TIMED_WAITING", "RUNNABLE", "NEW", "TERMINATED")
_JDK_PACKAGES = ("java.", "javax.", "jdk.", "sun.", "com.sun.")
_LAMBDA_CLASS = re.compile(r"\$\$Lambda(?:\$\d+)?/0x[0-9a-fA-F]+")
_TOP_FRAMES = 3
_NAMES_SHOWN = 5
_GROUPS_SHOWN = 3
_CPU_SHOWN = 5
_DEADLOCKS_IN_HEADLINE = 2
_DEADLOCKS_SHOWN = 5
_LOCKS_SHOWN = 5


def _owners(dump: ThreadDump) -> dict[str, JavaThread]:
    """Lock address → the thread holding it (monitors and j.u.c. ownable synchronizers)."""
    owners: dict[str, JavaThread] = {}
    for thread in dump.threads:
        for lock in (*thread.locks_held, *thread.ownable_synchronizers):
            if lock.address is not None:
                owners.setdefault(lock.address, thread)
    return owners


def _blocking_edges(
    dump: ThreadDump, owners: dict[str, JavaThread]
) -> dict[int, tuple[JavaThread, JavaThread, Lock]]:
    """Thread index → (thread, owner, lock) for every thread blocked on a lock someone holds."""
    edges: dict[int, tuple[JavaThread, JavaThread, Lock]] = {}
    for index, thread in enumerate(dump.threads):
        wait = thread.waiting_for
        if wait is None or wait.kind not in _BLOCKING_WAITS or wait.lock.address is None:
            continue
        owner = owners.get(wait.lock.address)
        if owner is not None and owner is not thread:
            edges[index] = (thread, owner, wait.lock)
    return edges


def deadlocks_in_lock_graph(dump: ThreadDump) -> tuple[Deadlock, ...]:
    """Cycles in the wait-for graph (blocked thread → lock owner), found without the JVM's report.

    Each thread waits for at most one lock and each lock has one owner, so every node has at
    most one outgoing edge and one walk per node finds every cycle in linear time.
    """
    owners = _owners(dump)
    edges = _blocking_edges(dump, owners)
    index_of = {id(t): i for i, t in enumerate(dump.threads)}
    colour: dict[int, int] = {}  # 1 = on the current walk, 2 = done
    cycles: list[Deadlock] = []
    for start in edges:
        walk: list[int] = []
        node: int | None = start
        while node is not None and node in edges and node not in colour:
            colour[node] = 1
            walk.append(node)
            node = index_of[id(edges[node][1])]
        if node is not None and colour.get(node) == 1:
            members = walk[walk.index(node) :]
            links = [DeadlockLink(edges[m][0].name, edges[m][2], edges[m][1].name) for m in members]
            first = min(range(len(links)), key=lambda i: links[i].thread)
            cycles.append(Deadlock(tuple(links[first:] + links[:first])))
        for visited in walk:
            colour[visited] = 2
    return tuple(cycles)


def _frame_key(frame: str) -> str:
    return _LAMBDA_CLASS.sub("$$Lambda", frame) if "$$Lambda" in frame else frame


def _where(frames: Sequence[str]) -> str:
    """The first application frame (what on-call recognises), else the top frame.

    Lambda classes are skipped: `Main$$Lambda/0x…run` names no line anyone wrote.
    """
    for frame in frames:
        if not frame.startswith(_JDK_PACKAGES) and "$$Lambda" not in frame:
            return frame
    return _frame_key(frames[0])


def _names(names: Sequence[str], shown: int = _NAMES_SHOWN) -> str:
    listed = ", ".join(names[:shown])
    return listed + (f" (+{len(names) - shown} more)" if len(names) > shown else "")


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _state_order(state: str) -> tuple[int, str]:
    return (_STATE_ORDER.index(state) if state in _STATE_ORDER else len(_STATE_ORDER), state)


def _state_counts(dump: ThreadDump) -> list[str]:
    counts = Counter(t.state for t in dump.threads if t.state is not None)
    return [f"{counts[s]:,} {s}" for s in sorted(counts, key=_state_order)]


def _merge_deadlocks(dumps: Sequence[ThreadDump]) -> list[tuple[Deadlock, list[str]]]:
    """Every distinct cycle, with where it was seen; the JVM's own wording wins."""
    merged: dict[frozenset[str], tuple[Deadlock, list[str]]] = {}
    for dump in dumps:
        for source, found in (
            ("JVM report", dump.deadlocks),
            ("lock graph", deadlocks_in_lock_graph(dump)),
        ):
            for deadlock in found:
                key = frozenset(deadlock.threads)
                if key not in merged:
                    merged[key] = (deadlock, [source])
                elif source not in merged[key][1]:
                    merged[key][1].append(source)
    return list(merged.values())


def _blocked_findings(dump: ThreadDump, deadlocked: set[str]) -> list[str]:
    """One line per contended lock, biggest queue first: who holds it and who waits."""
    owners = _owners(dump)
    waiters: dict[str, list[str]] = defaultdict(list)
    lock_at: dict[str, Lock] = {}
    for thread in dump.threads:
        wait = thread.waiting_for
        if (
            wait is None
            or wait.kind not in _BLOCKING_WAITS
            or wait.lock.address is None
            or thread.name in deadlocked
        ):
            continue
        if wait.lock.address not in owners and wait.kind == "parking to wait for":
            continue  # a Condition or Semaphore: nobody owns it, so nobody to blame
        waiters[wait.lock.address].append(thread.name)
        lock_at[wait.lock.address] = wait.lock
    findings = []
    for address, names in sorted(waiters.items(), key=lambda kv: -len(kv[1])):
        owner = owners.get(address)
        queue = _plural(len(names), "thread")
        lock = lock_at[address].describe()
        if owner is None:
            findings.append(
                f"{queue} waiting to lock {lock} whose holder is not in the dump: {_names(names)}"
            )
        else:
            findings.append(f"{queue} blocked behind {owner.name} holding {lock}: {_names(names)}")
    if len(findings) > _LOCKS_SHOWN:
        more = len(findings) - _LOCKS_SHOWN
        findings = [*findings[:_LOCKS_SHOWN], f"… and {_plural(more, 'more lock')} with waiters"]
    return findings


def _stack_group_findings(dump: ThreadDump) -> list[str]:
    groups: dict[tuple[str, ...], list[JavaThread]] = defaultdict(list)
    for thread in dump.threads:
        if thread.frames:
            groups[tuple(map(_frame_key, thread.frames))].append(thread)
    shared = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: -len(g))
    findings = []
    for group in shared[:_GROUPS_SHOWN]:
        states = Counter(t.state or "?" for t in group)
        state = "/".join(sorted(states, key=_state_order))
        findings.append(
            f"{len(group):,} threads share the stack at {_where(group[0].frames)} ({state}): "
            f"{_names([t.name for t in group])}"
        )
    return findings


def _stuck_finding(dumps: Sequence[ThreadDump]) -> str | None:
    """Threads whose state and top frames did not change in any dump."""
    first, *rest = dumps
    later = [{t.key: t for t in d.threads} for d in rest]
    by_state: dict[str, list[str]] = defaultdict(list)
    idle = 0
    for thread in first.threads:
        if not thread.frames:
            continue
        top = tuple(map(_frame_key, thread.frames[:_TOP_FRAMES]))
        same = True
        for threads in later:
            other = threads.get(thread.key)
            if (
                other is None
                or other.state != thread.state
                or tuple(map(_frame_key, other.frames[:_TOP_FRAMES])) != top
            ):
                same = False
                break
        if not same:
            continue
        if all(frame.startswith(_JDK_PACKAGES) for frame in thread.frames):
            idle += 1  # JDK housekeeping (Reference Handler, idle pool workers): expected to sit
        else:
            by_state[thread.state or "?"].append(thread.name)
    if not by_state:
        return None
    parts = [
        f"{state} {_names(by_state[state], 6)}" for state in sorted(by_state, key=_state_order)
    ]
    stuck = sum(len(v) for v in by_state.values())
    tail = f" (+{_plural(idle, 'JDK-only thread')})" if idle else ""
    return (
        f"{_plural(stuck, 'thread')} stuck (same state and top frames in all {len(dumps)} "
        f"dumps): {'; '.join(parts)}{tail}"
    )


def _duration(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def _cpu_finding(dumps: Sequence[ThreadDump], options: Options) -> str | None:
    """The threads whose `cpu=` grew most between the first and last dump."""
    first, last = dumps[0], dumps[-1]
    before = {t.key: t for t in first.threads if t.cpu_ms is not None}
    growth: list[tuple[float, JavaThread, JavaThread]] = []
    for thread in last.threads:
        old = before.get(thread.key)
        if old is not None and thread.cpu_ms is not None and thread.cpu_ms > (old.cpu_ms or 0.0):
            growth.append((thread.cpu_ms - (old.cpu_ms or 0.0), old, thread))
    if not growth:
        return None
    growth.sort(key=lambda g: -g[0])
    parts = []
    for delta, old, new in growth[:_CPU_SHOWN]:
        wall_s = (
            new.elapsed_s - old.elapsed_s
            if new.elapsed_s is not None and old.elapsed_s is not None
            else options.interval_s * (len(dumps) - 1)
        )
        share = f" ({delta / 10 / wall_s:.0f}% of a core)" if wall_s > 0 else ""
        parts.append(f"{new.name} +{_duration(delta)}{share}")
    return f"CPU used between dump 1 and {len(dumps)}: " + ", ".join(parts)


def _analyse(dumps: Sequence[ThreadDump], options: Options) -> tuple[str, list[str]]:
    last = dumps[-1]
    deadlocks = _merge_deadlocks(dumps)
    headline = [_plural(len(last.threads), "thread"), *_state_counts(last)]
    if len(dumps) > 1:
        headline.insert(0, f"{len(dumps)} dumps")
    if deadlocks:
        cycles = "; ".join(d.cycle() for d, _ in deadlocks[:_DEADLOCKS_IN_HEADLINE])
        if len(deadlocks) > _DEADLOCKS_IN_HEADLINE:
            cycles += f" (+{len(deadlocks) - _DEADLOCKS_IN_HEADLINE:,} more)"
        label = "deadlock" if len(deadlocks) == 1 else f"{len(deadlocks):,} deadlocks"
        headline.append(f"⚠ {label}: {cycles}")
    findings = [
        f"⚠ deadlock {d.cycle()}: {d.explain()} [{' + '.join(sources)}]"
        for d, sources in deadlocks[:_DEADLOCKS_SHOWN]
    ]
    if len(deadlocks) > _DEADLOCKS_SHOWN:
        findings.append(f"… and {_plural(len(deadlocks) - _DEADLOCKS_SHOWN, 'more deadlock')}")
    deadlocked = {name for d, _ in deadlocks for name in d.threads}
    findings += _blocked_findings(last, deadlocked)
    findings += _stack_group_findings(last)
    if len(dumps) > 1:
        findings += [f for f in (_stuck_finding(dumps), _cpu_finding(dumps, options)) if f]
    return " · ".join(headline), findings


def summarise_thread_dumps(texts: Sequence[str], options: Options) -> Analysis:
    """Summarise `Thread.print -l` outputs taken in order (`options.count` of them,
    `options.interval_s` apart): the last dump's states, deadlocks from any dump, lock
    convoys and shared stacks, and with several dumps the stuck threads and CPU growth.
    """
    dumps = [parse_thread_dump(text) for text in texts]
    notes = list(_dump_notes(dumps))
    if options.count > len(texts):
        notes.append(f"asked for {_plural(options.count, 'dump')}, got {len(texts)}")
    usable = [d for d in dumps if d.threads]
    if not usable:
        return Analysis(headline="no threads recognised in the thread dump", notes=tuple(notes))
    if len(usable) > 1 and not set(t.key for t in usable[0].threads) & set(
        t.key for t in usable[-1].threads
    ):
        notes.append("the first and last dumps share no thread: did the JVM restart?")
    headline, findings = _analyse(usable, options)
    return Analysis(headline=headline, findings=tuple(findings), notes=tuple(notes))


def _dump_notes(dumps: Sequence[ThreadDump]) -> Iterable[str]:
    for number, dump in enumerate(dumps, start=1):
        prefix = f"dump {number}: " if len(dumps) > 1 else ""
        for note in dump.notes:
            yield prefix + note
