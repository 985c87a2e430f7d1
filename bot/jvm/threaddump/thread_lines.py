"""Reading one thread's block of a dump: its header line, state, lock lines and synchronizers.

`start_thread` recognises a header; the `ThreadBuilder` it returns collects the lines that
follow and freezes into a `JavaThread`. Frames are appended by the parser itself (for speed).
"""

from __future__ import annotations

import re

from bot.jvm.threaddump.model import JavaThread, Lock, LockWait, WaitKind

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
_WAIT_KINDS: dict[str, WaitKind] = {
    "waiting to lock": "waiting to lock",
    "waiting to re-lock in wait()": "waiting to re-lock in wait()",
    "parking to wait for": "parking to wait for",
    "waiting on": "waiting on",
}


class ThreadBuilder:
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

    def indented_line(self, stripped: str) -> bool:
        """Read a space-indented line (state, section headings); False if it is not one."""
        if stripped.startswith("java.lang.Thread.State: "):
            state = stripped[len("java.lang.Thread.State: ") :]
            name, _, reason = state.partition(" ")
            self.state = name
            self.state_reason = reason.strip("()") or None
        elif stripped == "Locked ownable synchronizers:":
            self.in_ownable = True
            self.in_virtual = False
        elif stripped.startswith("Carrying virtual thread #"):
            number = stripped[len("Carrying virtual thread #") :]
            self.carrying = int(number) if number.isdigit() and len(number) < 19 else None
        elif stripped.startswith("Mounted virtual thread #"):
            self.in_virtual = True
            self.in_ownable = False
        elif not stripped.startswith(("No compile task", "Compiling:", "JavaThread state:")):
            return False
        return True

    def lock_line(self, line: str) -> bool:
        """Read a tab-indented line other than a frame; False if it is not one we know.

        A mounted virtual thread's lock lines belong to it, not to its carrier: skipped.
        """
        if self.in_ownable:
            return self._ownable_line(line)
        if self.in_virtual:
            return True
        match = _LOCK_LINE.match(line)
        if match is not None:
            kind = match.group("kind")
            lock = Lock(match.group("address"), match.group("cls"))
            if kind == "locked":
                self.held.append(lock)
            elif kind != "eliminated":
                self.waits.append(LockWait(_WAIT_KINDS[kind], lock))
        elif line.startswith(_CLASS_INIT):
            lock = Lock(None, line[len(_CLASS_INIT) :])
            self.waits.append(LockWait("waiting on the class initialization monitor for", lock))
        elif not line.startswith(_LOCK_LINES_WITHOUT_OBJECT):
            return False
        return True

    def _ownable_line(self, line: str) -> bool:
        if line == "\t- None":
            return True
        match = _OWNABLE_LINE.match(line)
        if match is None:
            return False
        self.ownable.append(Lock(match.group("address"), match.group("cls")))
        return True


def start_thread(line: str) -> ThreadBuilder | None:
    """The thread a `"name" #N ... tid=0x… nid=0x… state` header line starts, or None."""
    name_end = line.rfind('" ')
    match = _HEADER_FIELDS.fullmatch(line, name_end + 2) if name_end > 0 else None
    if match is None or not (match.group("tid") or match.group("os_prio") or match.group("number")):
        return None
    return ThreadBuilder(line[1:name_end], match)
