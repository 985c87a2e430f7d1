"""`summarise_thread_dumps`: what on-call reads first from one or several parsed dumps.

Counts by state, deadlocks, threads queued behind a lock holder, identical stacks and, across
dumps, threads stuck in place and the ones burning CPU.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from bot.jvm.threaddump.lock_graph import BLOCKING_WAITS, deadlocks_in_lock_graph, lock_owners
from bot.jvm.threaddump.model import Deadlock, JavaThread, Lock, ThreadDump
from bot.jvm.threaddump.parse import parse_thread_dumps
from bot.jvm.threaddump.wording import (
    JDK_PACKAGES,
    frame_key,
    names,
    plural,
    state_order,
    where,
)
from bot.model.request import Options
from bot.model.results import Analysis

_TOP_FRAMES = 3
_GROUPS_SHOWN = 3
_CPU_SHOWN = 5
_CPU_WORTH_NAMING = 10.0  # ms of CPU per second: 1% of a core
_DEADLOCKS_IN_HEADLINE = 2
_DEADLOCKS_SHOWN = 5
_LOCKS_SHOWN = 5
# `pool-4-thread-3`, `http-nio-8080-exec-12`: a pool's workers share the name before the number.
_POOL_WORKER = re.compile(r"(?P<pool>.*\D)\d{1,6}$")
_POOL_RUN = "ThreadPoolExecutor$Worker.run("
_POOL_IDLE = "ThreadPoolExecutor.getTask("


def _state_counts(dump: ThreadDump) -> list[str]:
    counts = Counter(t.state for t in dump.threads if t.state is not None and not t.virtual)
    return [f"{counts[s]:,} {s}" for s in sorted(counts, key=state_order)]


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
    for address, queued in sorted(waiters.items(), key=lambda kv: -len(kv[1])):
        owner = owners.get(address)
        queue = plural(len(queued), "thread")
        lock = lock_at[address].describe()
        if owner is None:
            findings.append(
                f"{queue} waiting to lock {lock} whose holder is not in the dump: {names(queued)}"
            )
        else:
            findings.append(f"{queue} blocked behind {owner.name} holding {lock}: {names(queued)}")
    if len(findings) > _LOCKS_SHOWN:
        more = len(findings) - _LOCKS_SHOWN
        findings = [*findings[:_LOCKS_SHOWN], f"… and {plural(more, 'more lock')} with waiters"]
    return findings


def _stack_group_findings(dump: ThreadDump) -> list[str]:
    groups: dict[tuple[str, ...], list[JavaThread]] = defaultdict(list)
    for thread in dump.threads:
        if thread.frames and not thread.virtual:  # virtual threads get their own summary
            groups[tuple(map(frame_key, thread.frames))].append(thread)
    shared = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: -len(g))
    findings = []
    for group in shared[:_GROUPS_SHOWN]:
        states = Counter(t.state or "?" for t in group)
        state = "/".join(sorted(states, key=state_order))
        findings.append(
            f"{len(group):,} threads share the stack at {where(group[0].frames)} ({state}): "
            f"{names([t.name for t in group])}"
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
        top = tuple(map(frame_key, thread.frames[:_TOP_FRAMES]))
        same = True
        for threads in later:
            other = threads.get(thread.key)
            if (
                other is None
                or other.state != thread.state
                or tuple(map(frame_key, other.frames[:_TOP_FRAMES])) != top
            ):
                same = False
                break
        if not same:
            continue
        if all(frame.startswith(JDK_PACKAGES) for frame in thread.frames):
            idle += 1  # JDK housekeeping (Reference Handler, idle pool workers): expected to sit
        else:
            by_state[thread.state or "?"].append(thread.name)
    if not by_state:
        return None
    parts = [f"{state} {names(by_state[state], 6)}" for state in sorted(by_state, key=state_order)]
    stuck = sum(len(v) for v in by_state.values())
    tail = f" (+{plural(idle, 'JDK-only thread')})" if idle else ""
    return (
        f"{plural(stuck, 'thread')} stuck (same state and top frames in all {len(dumps)} "
        f"dumps): {'; '.join(parts)}{tail}"
    )


def _duration(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"


def _wall_s(old: JavaThread, new: JavaThread, between: float) -> float:
    """Wall time between two sightings of a thread: its own `elapsed=`, else `between`."""
    if old.elapsed_s is not None and new.elapsed_s is not None and new.elapsed_s > old.elapsed_s:
        return new.elapsed_s - old.elapsed_s
    return between


def _seconds_between(first: ThreadDump, last: ThreadDump) -> float | None:
    """From the dumps' own timestamp lines (`2021-10-11 21:11:00`), when both parse."""
    try:
        start = datetime.fromisoformat(first.timestamp or "")
        end = datetime.fromisoformat(last.timestamp or "")
    except ValueError:
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds > 0 else None


def _cpu_finding(dumps: Sequence[ThreadDump], options: Options) -> str | None:
    """The threads whose `cpu=` grows fastest: ms of CPU per second of wall time between the
    first and last dump each thread appears in (a pool that ended before the last dump still
    counts)."""
    first: dict[tuple[str, int | None], tuple[int, JavaThread]] = {}
    last: dict[tuple[str, int | None], tuple[int, JavaThread]] = {}
    for index, dump in enumerate(dumps):
        for thread in dump.threads:
            if thread.cpu_ms is not None:
                first.setdefault(thread.key, (index, thread))
                last[thread.key] = (index, thread)
    rates: list[tuple[float, float, float, JavaThread]] = []
    for key, (end, new) in last.items():
        start, old = first[key]
        delta = (new.cpu_ms or 0.0) - (old.cpu_ms or 0.0)
        if end == start or delta <= 0:
            continue
        between = _seconds_between(dumps[start], dumps[end]) or options.number("interval", 5) * (
            end - start
        )
        wall = _wall_s(old, new, between)
        if wall > 0:
            rates.append((delta / wall, delta, wall, new))
    if not rates:
        return None
    rates.sort(key=lambda r: -r[0])
    busy = [r for r in rates if r[0] >= _CPU_WORTH_NAMING]
    if not busy:
        return "CPU between dumps: no thread used 1% of a core or more"
    rates = busy
    parts = [
        f"{thread.name} {rate:,.0f} ms/s ({rate / 10:.0f}% of a core; +{_duration(delta)} "
        f"in {wall:.1f} s)"
        for rate, delta, wall, thread in rates[:_CPU_SHOWN]
    ]
    return "CPU per second of wall time between dumps: " + ", ".join(parts)


def _pool_of(name: str) -> str | None:
    match = _POOL_WORKER.match(name)
    return match.group("pool") if match else None


def _pool_finding(dumps: Sequence[ThreadDump]) -> str | None:
    """Thread pools (ThreadPoolExecutor, Tomcat's) whose every worker is busy, none waiting
    in `getTask` for the next task: what is submitted now waits in the queue."""
    busy_in: Counter[str] = Counter()
    shown_in: Counter[str] = Counter()
    latest: dict[str, list[JavaThread]] = {}
    for dump in dumps:
        workers: dict[str, list[JavaThread]] = defaultdict(list)
        for thread in dump.threads:
            if not thread.virtual and any(_POOL_RUN in frame for frame in thread.frames):
                pool = _pool_of(thread.name)
                if pool is not None:
                    workers[pool].append(thread)
        for pool, threads in workers.items():
            if len(threads) < 2:
                continue
            shown_in[pool] += 1
            if not any(_POOL_IDLE in f for t in threads for f in t.frames):
                busy_in[pool] += 1
                latest[pool] = threads
    lines = []
    for pool in sorted(busy_in, key=lambda p: -len(latest[p])):
        threads = latest[pool]
        at = Counter(where(t.frames) for t in threads).most_common(1)[0][0]
        states = Counter(t.state or "?" for t in threads)
        state = "/".join(sorted(states, key=state_order))
        seen = ""
        if len(dumps) > 1:
            of = "all" if busy_in[pool] == shown_in[pool] else f"{busy_in[pool]} of the"
            seen = f" in {of} {shown_in[pool]} dumps that show it"
        lines.append(
            f"pool {pool}…: all {len(threads)} workers busy ({state}), none waiting for a "
            f"task{seen}: new tasks queue; they are at {at}"
        )
    return "; ".join(lines) if lines else None


def _analyse(dumps: Sequence[ThreadDump], options: Options) -> tuple[str, list[str]]:
    last = dumps[-1]
    deadlocks = _merge_deadlocks(dumps)
    platform = sum(1 for t in last.threads if not t.virtual)
    headline = [plural(platform, "thread"), *_state_counts(last)]
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
        findings.append(f"… and {plural(len(deadlocks) - _DEADLOCKS_SHOWN, 'more deadlock')}")
    deadlocked = {name for d, _ in deadlocks for name in d.threads}
    findings += _blocked_findings(last, deadlocked)
    findings += _stack_group_findings(last)
    if len(dumps) > 1:
        findings += [f for f in (_stuck_finding(dumps), _cpu_finding(dumps, options)) if f]
    pools = _pool_finding(dumps)
    if pools:
        findings.append(pools)
    return " · ".join(headline), findings


def _invisible_virtual_threads(dump: ThreadDump) -> bool:
    """Whether a `Thread.print` dump shows signs of virtual threads it cannot show."""
    return any(
        t.carrying_virtual_thread is not None
        or t.name in ("VirtualThread-unparker", "VirtualThread-unblocker")
        for t in dump.threads
    )


def summarise_parsed_dumps(dumps: Sequence[ThreadDump], options: Options) -> Analysis:
    """The summary of dumps already parsed, taken in order: the last dump's states, deadlocks
    from any dump, lock convoys, shared stacks and busy pools, and with several dumps the
    stuck threads and CPU growth."""
    notes = list(_dump_notes(dumps))
    usable = [d for d in dumps if d.threads]
    if not usable:
        return Analysis(headline="no threads recognised in the thread dump", notes=tuple(notes))
    if len(usable) > 1 and not set(t.key for t in usable[0].threads) & set(
        t.key for t in usable[-1].threads
    ):
        notes.append("the first and last dumps share no thread: did the JVM restart?")
    if not any(t.virtual for t in usable[-1].threads) and _invisible_virtual_threads(usable[-1]):
        notes.append(
            "this JVM runs virtual threads, which Thread.print shows only while mounted: "
            "take jcmd <pid> Thread.dump_to_file -format=json <file> to see them all"
        )
    headline, findings = _analyse(usable, options)
    return Analysis(headline=headline, findings=tuple(findings), notes=tuple(notes))


def summarise_thread_dumps(texts: Sequence[str], options: Options) -> Analysis:
    """Summarise `Thread.print -l` outputs taken in order (option `count` of them,
    `interval` seconds apart); a text holding several dumps counts as several.
    """
    dumps = [dump for text in texts for dump in parse_thread_dumps(text)]
    analysis = summarise_parsed_dumps(dumps, options)
    asked = options.number("count", len(texts))
    if asked > len(texts):
        more = f"asked for {plural(asked, 'dump')}, got {len(texts)}"
        return replace(analysis, notes=(*analysis.notes, more))
    return analysis


def _dump_notes(dumps: Sequence[ThreadDump]) -> Iterable[str]:
    for number, dump in enumerate(dumps, start=1):
        prefix = f"dump {number}: " if len(dumps) > 1 else ""
        for note in dump.notes:
            yield prefix + note
