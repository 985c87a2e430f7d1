"""The virtual-thread summary (JDK 21+): how many there are, grouped by what they do and where,
and the carriers a virtual thread pins, from `jcmd Thread.dump_to_file -format=json`.

A pinned carrier runs no other virtual thread. On JDK 21 a virtual thread pins when it blocks
inside `synchronized`; JDK 24+ unmounts it there (JEP 491), but a class initializer or a
native frame still pins. JDK 25's JSON names a mounted thread's carrier; JDK 21's does not,
so there `Thread.print`'s "Carrying virtual thread #N" lines name it.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Mapping, Sequence

from bot.jvm.threaddump.jdk_json import read_thread_dump_json
from bot.jvm.threaddump.lock_graph import deadlocks_in_lock_graph
from bot.jvm.threaddump.model import JavaThread, ThreadDump
from bot.jvm.threaddump.parse import parse_thread_dump
from bot.jvm.threaddump.wording import method_of, names, plural, where
from bot.model.results import Analysis

_PARK_ON_CARRIER = "java.lang.VirtualThread.parkOnCarrierThread("
_PARKS = ("java.lang.VirtualThread.park(", "java.lang.VirtualThread.parkNanos(", _PARK_ON_CARRIER)
_WAITS = ("WAITING", "TIMED_WAITING", "BLOCKED")
_GROUPS_IN_HEADLINE = 3
_GROUPS_SHOWN = 6
_PINNED_SHOWN = 5


def _has(frames: Sequence[str], prefixes: tuple[str, ...] | str) -> bool:
    return any(frame.startswith(prefixes) for frame in frames)


def _waiting(frames: Sequence[str]) -> str:
    if _has(frames, "java.lang.Thread.sleep("):
        return "sleeping"
    if _has(frames, "java.lang.Object.wait("):
        return "waiting"
    return "parked"


def _activity(thread: JavaThread, mounted: bool) -> str:
    """What a virtual thread does, in one word or two, from its state (JDK 25) or, where the
    JSON has none (JDK 21), from its frames."""
    frames, state = thread.frames, thread.state
    if state is None:
        if not frames:
            return "not started"
        if _has(frames, ("java.lang.Thread.sleep(", "java.lang.Object.wait(", *_PARKS)):
            return _waiting(frames)
        return "on a carrier" if mounted else "not parked"
    if state == "NEW":
        return "not started"
    if state == "TERMINATED":
        return "finished"
    if state == "RUNNABLE":
        return "running" if mounted else "waiting for a carrier"
    if state == "BLOCKED":
        return "blocked"
    return _waiting(frames)


def _label(thread: JavaThread) -> str:
    return thread.name or f"#{thread.number}"


def carriers_in_thread_print(text: str) -> dict[int, str]:
    """Virtual thread `#N` → the name of the carrier `Thread.print` shows carrying it."""
    return {
        t.carrying_virtual_thread: t.name
        for t in parse_thread_dump(text).threads
        if t.carrying_virtual_thread is not None
    }


def _pinned_line(pinned: Sequence[tuple[JavaThread, str | None, str]]) -> str:
    parts = []
    for thread, carrier, doing in pinned[:_PINNED_SHOWN]:
        why = ""
        if any(".<clinit>(" in frame for frame in thread.frames):
            why = ", inside a class initializer"
        elif thread.locks_held:
            why = ", holding a monitor (synchronized)"
        on = carrier if carrier is not None else "an unnamed carrier"
        parts.append(
            f"{on} by {_label(thread)} ({doing} in {method_of(where(thread.frames))}{why})"
        )
    more = f" (+{len(pinned) - _PINNED_SHOWN} more)" if len(pinned) > _PINNED_SHOWN else ""
    count = plural(len(pinned), "carrier")
    return f"⚠ {count} pinned by a virtual thread, so running no other: " + "; ".join(parts) + more


def virtual_thread_summary(
    dump: ThreadDump, carried: Mapping[int, str] | None = None, deadlocks: bool = True
) -> Analysis:
    """The virtual threads of a JSON thread dump; `carried` (from `carriers_in_thread_print`)
    names carriers the JSON does not, and `deadlocks` adds the cycles with a virtual thread
    in them (leave it off when the platform summary of the same dump already has them)."""
    carried = carried or {}
    virtual = [t for t in dump.threads if t.virtual]
    platform_names = {t.number: t.name for t in dump.threads if not t.virtual}
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    pinned: list[tuple[JavaThread, str | None, str]] = []
    for thread in virtual:
        carrier = (
            platform_names.get(thread.carrier, f"#{thread.carrier}")
            if thread.carrier is not None
            else carried.get(thread.number)
            if thread.number is not None
            else None
        )
        mounted = carrier is not None or _has(thread.frames, _PARK_ON_CARRIER)
        doing = _activity(thread, mounted)
        groups[(doing, method_of(where(thread.frames)) if thread.frames else "")].append(
            _label(thread)
        )
        if mounted and (_has(thread.frames, _PARK_ON_CARRIER) or thread.state in _WAITS):
            pinned.append((thread, carrier, doing))
    ranked = sorted(groups.items(), key=lambda g: (-len(g[1]), g[0]))
    said = [
        f"{len(members):,} {doing}" + (f" in {at}" if at else "") for (doing, at), members in ranked
    ]
    headline = f"{plural(len(virtual), 'virtual thread')}"
    if said:
        headline += ": " + ", ".join(said[:_GROUPS_IN_HEADLINE])
        if len(said) > _GROUPS_IN_HEADLINE:
            headline += f" (+{plural(len(said) - _GROUPS_IN_HEADLINE, 'more group')})"
    findings = [_pinned_line(pinned)] if pinned else []
    if deadlocks:
        virtual_names = {t.name for t in virtual}
        findings += [
            f"⚠ deadlock {d.cycle()}: {d.explain()} [lock graph]"
            for d in deadlocks_in_lock_graph(dump)
            if virtual_names & set(d.threads)
        ]
    findings += [
        f"{plural(len(members), 'virtual thread')} {doing}"
        + (f" in {at}" if at else "")
        + f": {names(members)}"
        for (doing, at), members in ranked[:_GROUPS_SHOWN]
    ]
    notes = list(dump.notes)
    if any(t.state is None for t in virtual):
        notes.append(
            "this JSON has no thread states (JDK 21): they are read from the frames, and "
            "'on a carrier' may be running or blocked entering a monitor"
        )
    if any(carrier is None for _, carrier, _ in pinned):
        notes.append("pass Thread.print taken at the same time to name the pinned carriers")
    return Analysis(headline=headline, findings=tuple(findings), notes=tuple(notes))


def summarise_virtual_threads(json_text: str, thread_print: str | None = None) -> Analysis:
    """Summarise `Thread.dump_to_file -format=json` output; `thread_print`, a `Thread.print`
    taken with it, names the carriers on JDK 21.

    e.g. "1,800 virtual threads: 1,750 parked in OrderService.awaitStock, 50 running".
    """
    dump = read_thread_dump_json(io.BytesIO(json_text.encode("utf-8", "replace")))
    carried = carriers_in_thread_print(thread_print) if thread_print else {}
    return virtual_thread_summary(dump, carried)


def merge_analyses(platform: Analysis, virtual: Analysis) -> Analysis:
    """One summary of a JVM from its platform-thread and virtual-thread summaries; warnings
    (⚠) from either come first."""
    findings = (*platform.findings, *virtual.findings)
    warned = [f for f in findings if f.startswith("⚠")]
    return Analysis(
        headline=f"{platform.headline} · {virtual.headline}",
        findings=(*warned, *(f for f in findings if not f.startswith("⚠"))),
        notes=(*platform.notes, *virtual.notes),
    )
