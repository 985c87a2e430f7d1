"""`jcmd <pid> Thread.dump_to_file -format=json <file>` (JDK 21+) read into a `ThreadDump` that
holds the virtual threads `Thread.print` does not show.

The shape comes from OpenJDK's jdk.internal.vm.ThreadDumper
(src/java.base/share/classes/jdk/internal/vm/ThreadDumper.java) and from real JVMs:
- JDK 21: `threadDump` {processId, time, runtimeVersion, threadContainers: [{container, parent,
  owner, threads: [{tid, name, stack}], threadCount}]}. No state, no locks, no carrier and no
  `virtual` flag: a virtual thread is told by its bottom frame, `java.lang.VirtualThread.run`.
- JDK 25 adds per thread `time`, `virtual: true`, `state`, `parkBlocker` {object, owner},
  `blockedOn`, `waitingOn`, `monitorsOwned` [{depth, locks}] and, when mounted, `carrier` (the
  carrier's tid). Objects are `Objects.toIdentityString` (`java.lang.Object@15a71a22`).
Read with ijson one thread at a time: 100,000 virtual threads never become one object tree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

import ijson  # type: ignore[import-untyped]

from bot.jvm.threaddump.decoding import ByteSource
from bot.jvm.threaddump.frames import frame_of_element
from bot.jvm.threaddump.java_threads import lock_of_identity, thread_from_java
from bot.jvm.threaddump.model import JavaThread, Lock, LockWait, ThreadDump

_THREAD = "threadDump.threadContainers.item.threads.item"
_VIRTUAL_BOTTOM = "java.lang.VirtualThread.run("


def _number(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _held(value: object) -> list[Lock]:
    if not isinstance(value, list):
        return []
    return [
        lock_of_identity(lock)
        for entry in value
        if isinstance(entry, dict) and isinstance(entry.get("locks"), list)
        for lock in entry["locks"]
        if isinstance(lock, str)
    ]


def _waits(info: Mapping[str, object]) -> LockWait | None:
    blocked, waiting, parked = info.get("blockedOn"), info.get("waitingOn"), info.get("parkBlocker")
    if isinstance(blocked, str):
        return LockWait("waiting to lock", lock_of_identity(blocked))
    if isinstance(waiting, str):
        return LockWait("waiting on", lock_of_identity(waiting))
    if isinstance(parked, dict) and isinstance(parked.get("object"), str):
        return LockWait("parking to wait for", lock_of_identity(parked["object"]))
    return None


def _thread(info: Mapping[str, object]) -> JavaThread | None:
    number, name, stack = _number(info.get("tid")), info.get("name"), info.get("stack")
    if number is None or not isinstance(name, str):
        return None
    lines = stack if isinstance(stack, list) else []
    frames = [frame_of_element(f) for f in lines if isinstance(f, str)]
    state = info.get("state")
    virtual = info.get("virtual") is True or (
        bool(frames) and frames[-1].startswith(_VIRTUAL_BOTTOM)
    )
    return thread_from_java(
        name=name,
        number=number,
        state=state if isinstance(state, str) else None,
        frames=frames,
        held=_held(info.get("monitorsOwned")),
        waits=_waits(info),
        virtual=virtual,
        carrier=_number(info.get("carrier")),
    )


def _with_park_owners(
    threads: list[JavaThread], owned: Mapping[int | None, list[Lock]]
) -> list[JavaThread]:
    """A `parkBlocker` with an `owner` (a ReentrantLock's holder) is that owner's ownable
    synchronizer, as `Thread.print -l` would list it, so the lock graph sees who holds it."""
    if not owned:
        return threads
    return [
        replace(t, ownable_synchronizers=(*t.ownable_synchronizers, *owned[t.number]))
        if t.number in owned
        else t
        for t in threads
    ]


def read_thread_dump_json(body: ByteSource) -> ThreadDump:
    """The JSON thread dump in `body`; never raises: bad or cut JSON keeps the threads read
    before it and says where it stopped."""
    threads: list[JavaThread] = []
    owned: dict[int | None, list[Lock]] = defaultdict(list)
    header: dict[str, str] = {}
    notes: list[str] = []
    skipped = 0
    builder: ijson.ObjectBuilder | None = None
    try:
        for prefix, event, value in ijson.parse(body):
            if builder is not None:
                builder.event(event, value)
                if prefix == _THREAD and event == "end_map":
                    info = builder.value
                    builder = None
                    thread = _thread(info) if isinstance(info, dict) else None
                    if thread is None:
                        skipped += 1
                        continue
                    threads.append(thread)
                    blocker = info.get("parkBlocker")
                    owner = _number(blocker.get("owner")) if isinstance(blocker, dict) else None
                    if owner is not None and thread.waiting_for is not None:
                        owned[owner].append(thread.waiting_for.lock)
            elif prefix == _THREAD and event == "start_map":
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
            elif prefix in ("threadDump.time", "threadDump.runtimeVersion") and event == "string":
                header[prefix] = value
    except ijson.JSONError as error:
        notes.append(f"the JSON stops being valid after {len(threads):,} threads ({error})")
    if skipped:
        notes.append(f"{skipped:,} thread entries without a tid and name were skipped")
    if not threads and not header:
        notes.append("no threadDump.threadContainers in this JSON")
    return ThreadDump(
        timestamp=header.get("threadDump.time"),
        vm=header.get("threadDump.runtimeVersion"),
        threads=tuple(_with_park_owners(threads, owned)),
        deadlocks=(),
        jni_refs=None,
        notes=tuple(notes),
    )
