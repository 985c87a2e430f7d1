"""Threads as Java code reports them (`ThreadInfo` behind Spring Boot's /threaddump, the JDK's
`Thread.dump_to_file`) built into the same `JavaThread` values `Thread.print` gives.

Java code knows objects by identity hash (`java.lang.Object@15a71a22`), not by address: the
hash stands in for the address, which is all the lock graph needs within one dump.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.jvm.threaddump.model import JavaThread, Lock, LockWait


def lock_of_hash(identity_hash: int | str, class_name: str) -> Lock:
    """`(1018014235, "java.lang.Object")` or `("3cadaa1b", ...)` → `<0x3cadaa1b> (a …)`."""
    hex_hash = f"{identity_hash:x}" if isinstance(identity_hash, int) else identity_hash
    return Lock("0x" + hex_hash.lower().removeprefix("0x"), class_name)


def lock_of_identity(identity: str) -> Lock:
    """`Objects.toIdentityString`'s `java.lang.Object@15a71a22` as a lock."""
    class_name, _, hex_hash = identity.rpartition("@")
    return lock_of_hash(hex_hash, class_name) if class_name else Lock(None, identity)


def waiting_for(state: str | None, frames: Sequence[str], lock: Lock | None) -> LockWait | None:
    """What a thread in `state` whose top frame is `frames[0]` waits for on `lock`, worded as
    `Thread.print` words it, so the lock graph treats all formats alike."""
    if lock is None:
        return None
    if state == "BLOCKED":
        return LockWait("waiting to lock", lock)
    if frames and frames[0].startswith("java.lang.Object.wait"):
        return LockWait("waiting on", lock)
    return LockWait("parking to wait for", lock)


def thread_from_java(
    *,
    name: str,
    number: int | None,
    state: str | None,
    frames: Sequence[str],
    daemon: bool = False,
    priority: int | None = None,
    held: Sequence[Lock] = (),
    waits: LockWait | None = None,
    ownable: Sequence[Lock] = (),
    virtual: bool = False,
    carrier: int | None = None,
) -> JavaThread:
    return JavaThread(
        name=name,
        number=number,
        os_thread_id=None,
        daemon=daemon,
        priority=priority,
        os_priority=None,
        cpu_ms=None,
        elapsed_s=None,
        tid=None,
        status="",
        state=state,
        state_reason=None,
        frames=tuple(frames),
        locks_held=tuple(held),
        waiting_for=waits,
        ownable_synchronizers=tuple(ownable),
        virtual=virtual,
        carrier=carrier,
    )
