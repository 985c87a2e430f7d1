"""The values a parsed thread dump is made of: threads, the locks they hold or wait for, deadlocks.

Frozen dataclasses shared by the parser, the lock graph and the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WaitKind = Literal[
    "waiting to lock",
    "waiting to re-lock in wait()",
    "parking to wait for",
    "waiting on",
    "waiting on the class initialization monitor for",
]


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class LockWait:
    """What a thread waits for, as the first lock line of its stack says."""

    kind: WaitKind
    lock: Lock


@dataclass(frozen=True, slots=True)
class JavaThread:
    """One thread of a dump; `number` (`#N`) is None for VM-internal threads like "VM Thread".

    `virtual` threads come only from `Thread.dump_to_file -format=json` (JDK 21+):
    `Thread.print` shows a virtual thread only while a carrier has it mounted.
    """

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
    virtual: bool = False
    carrier: int | None = None  # a mounted virtual thread's carrier (`#N`), when the dump says

    @property
    def is_vm_internal(self) -> bool:
        return self.number is None

    @property
    def key(self) -> tuple[str, int | None]:
        """Identity across dumps of one JVM: `#N` is unique per JVM, the name guards reuse."""
        return (self.name, self.number)


@dataclass(frozen=True, slots=True)
class DeadlockLink:
    """One edge of a deadlock cycle: `thread` waits for `waits_for`, which `held_by` holds."""

    thread: str
    waits_for: Lock
    held_by: str


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


DumpFormat = Literal[
    "thread-print", "thread-dump-json", "actuator-json", "actuator-text", "not-a-dump"
]


@dataclass(frozen=True, slots=True)
class DumpFile:
    """What `read_dumps` made of one file: its dumps in the order taken, or, when it is not
    a dump jdebug reads, `unreadable`: one sentence saying what the file is and what to do.

    `format` is "thread-print" for jstack / `jcmd Thread.print` text (JDK 1.4 to 25, with or
    without `-l`), "thread-dump-json" for `jcmd Thread.dump_to_file -format=json`,
    "actuator-json" and "actuator-text" for Spring Boot's `/threaddump`.
    """

    name: str
    format: DumpFormat
    dumps: tuple[ThreadDump, ...] = ()
    unreadable: str | None = None
    notes: tuple[str, ...] = ()
