"""`summarise_thread_dumps`: what on-call reads first from one or several parsed dumps.

Counts by state, deadlocks, threads queued behind a lock holder, identical stacks and, across
dumps, threads stuck in place and the ones burning CPU.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from bot.jvm.threaddump.lock_graph import BLOCKING_WAITS, deadlocks_in_lock_graph, lock_owners
from bot.jvm.threaddump.model import Deadlock, JavaThread, Lock, ThreadDump
from bot.jvm.threaddump.parse import parse_thread_dump
from bot.model.request import Options
from bot.model.results import Analysis

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
    owners = lock_owners(dump)
    waiters: dict[str, list[str]] = defaultdict(list)
    lock_at: dict[str, Lock] = {}
    for thread in dump.threads:
        wait = thread.waiting_for
        if (
            wait is None
            or wait.kind not in BLOCKING_WAITS
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
            else options.number("interval", 5) * (len(dumps) - 1)
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
    """Summarise `Thread.print -l` outputs taken in order (option `count` of them,
    `interval` seconds apart): the last dump's states, deadlocks from any dump, lock
    convoys and shared stacks, and with several dumps the stuck threads and CPU growth.
    """
    dumps = [parse_thread_dump(text) for text in texts]
    notes = list(_dump_notes(dumps))
    asked = options.number("count", len(texts))
    if asked > len(texts):
        notes.append(f"asked for {_plural(asked, 'dump')}, got {len(texts)}")
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
