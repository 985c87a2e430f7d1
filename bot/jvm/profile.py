"""The summary of a JFR recording for one question: where the CPU goes, what allocates, or
which locks threads wait for; GC pauses and CPU load always.

`summarise_profile` is a pure function of a `Recording` (see `bot/jvm/jfr`), so Slack, the
terminal and `jdebug analyse FILE.jfr` give the same answer. Its `stacks` are what the flame
graph (`bot/report/flamegraph.py`) draws.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.jvm.jfr import Frame, JavaThread, Recording, StackTrace
from bot.jvm.units import format_bytes, format_duration
from bot.model.results import Analysis

ProfileEvent = Literal["cpu", "alloc", "lock"]
PROFILE_EVENTS: tuple[ProfileEvent, ...] = ("cpu", "alloc", "lock")
TOP = 10
_WAITERS_SHOWN = 3
_JDK_PACKAGES = ("java.", "javax.", "jdk.", "sun.", "com.sun.")


@dataclass(frozen=True)
class MethodSamples:
    """A method's CPU samples: `self` with it on top, `total` with it anywhere on the stack."""

    method: str
    self_samples: int
    total_samples: int


@dataclass(frozen=True)
class Weighted:
    """A name (allocation site, class or thread) and its weight (bytes, or ns waited)."""

    name: str
    weight: int


@dataclass(frozen=True)
class LockWaits:
    """Time threads spent waiting for one lock class: a `synchronized` monitor
    (jdk.JavaMonitorEnter) or a `java.util.concurrent` lock they parked on (jdk.ThreadPark)."""

    lock: str
    kind: Literal["monitor", "park"]
    events: int
    wait_ns: int
    waiters: tuple[Weighted, ...]
    where: str | None


@dataclass(frozen=True)
class GcPauses:
    collections: int
    total_pause_ns: int
    longest_pause_ns: int
    collectors: tuple[str, ...] = ()


@dataclass(frozen=True)
class CpuLoadSummary:
    """jdk.CPULoad over the recording, as fractions of the whole machine (0..1)."""

    samples: int
    jvm_mean: float
    jvm_max: float
    machine_mean: float
    machine_max: float


@dataclass(frozen=True)
class WeightedStack:
    """One distinct stack (top frame first, as JFR records it) and its summed weight."""

    frames: tuple[Frame, ...]
    weight: int


@dataclass(frozen=True)
class ProfileSummary:
    """Frontend-neutral values of one profile, plus the `Analysis` users read.

    `unit` says what the weights of `stacks` count: CPU samples, bytes allocated, or
    nanoseconds waited.
    """

    event: ProfileEvent
    duration_ns: int
    events: int
    unit: Literal["samples", "bytes", "ns"]
    total_weight: int
    stacks: tuple[WeightedStack, ...]
    gc: GcPauses
    cpu_load: CpuLoadSummary | None
    analysis: Analysis
    methods: tuple[MethodSamples, ...] = ()
    allocation_sites: tuple[Weighted, ...] = ()
    allocated_classes: tuple[Weighted, ...] = ()
    locks: tuple[LockWaits, ...] = field(default=())


@dataclass(frozen=True)
class _Part:
    """What one event mode adds to the summary; GC and CPU load are the same for all."""

    events: int
    unit: Literal["samples", "bytes", "ns"]
    total_weight: int
    stacks: tuple[WeightedStack, ...]
    headline: str
    findings: tuple[str, ...]
    methods: tuple[MethodSamples, ...] = ()
    allocation_sites: tuple[Weighted, ...] = ()
    allocated_classes: tuple[Weighted, ...] = ()
    locks: tuple[LockWaits, ...] = ()


def summarise_profile(recording: Recording, event: ProfileEvent = "cpu") -> ProfileSummary:
    """Summarise `recording` for `event`: `cpu`, `alloc` or `lock`."""
    gc = _gc_pauses(recording)
    cpu_load = _cpu_load(recording)
    notes = list(recording.notes)
    mode = {"alloc": _alloc_part, "lock": _lock_part}.get(event, _cpu_part)
    part = mode(recording, notes)
    always = (_gc_finding(gc, recording.duration_ns), _cpu_finding(cpu_load))
    return ProfileSummary(
        event=event,
        duration_ns=recording.duration_ns,
        events=part.events,
        unit=part.unit,
        total_weight=part.total_weight,
        stacks=part.stacks,
        gc=gc,
        cpu_load=cpu_load,
        analysis=Analysis(part.headline, part.findings + always, tuple(notes)),
        methods=part.methods,
        allocation_sites=part.allocation_sites,
        allocated_classes=part.allocated_classes,
        locks=part.locks,
    )


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def _by_stack(
    weighted: Iterable[tuple[StackTrace | None, int]],
) -> list[tuple[StackTrace | None, int]]:
    """Weights summed per stack object: the reader interns stacks, so grouping by identity
    costs one dict step per event instead of hashing every frame of every sample."""
    sums: dict[int, list[Any]] = {}
    for stack, weight in weighted:
        entry = sums.get(id(stack))
        if entry is None:
            sums[id(stack)] = [stack, weight]
        else:
            entry[1] += weight
    return [(stack, weight) for stack, weight in sums.values()]


def _stacks(weighted: Iterable[tuple[StackTrace | None, int]]) -> tuple[WeightedStack, ...]:
    sums: Counter[tuple[Frame, ...]] = Counter()
    for stack, weight in _by_stack(weighted):
        sums[stack.frames if stack is not None else ()] += weight
    ordered = sorted(sums.items(), key=lambda item: -item[1])
    return tuple(WeightedStack(frames, weight) for frames, weight in ordered)


def _top(counter: Counter[str], count: int = TOP) -> tuple[Weighted, ...]:
    ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return tuple(Weighted(name, weight) for name, weight in ordered[:count])


def _where(stack: StackTrace | None) -> str | None:
    """The first frame someone wrote (not the JDK's, not JVM-generated), else the top one."""
    if stack is None or not stack.frames:
        return None
    for frame in stack.frames:
        if not frame.class_name.startswith(_JDK_PACKAGES) and not frame.hidden:
            return frame.signature
    return stack.frames[0].signature


def _span(recording: Recording) -> str:
    return format_duration(recording.duration_ns)


def _cpu_part(recording: Recording, notes: list[str]) -> _Part:
    samples = recording.execution_samples
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    for stack, count in _by_stack((s.stack, 1) for s in samples):
        if stack is None or not stack.frames:
            continue
        self_counts[stack.frames[0].signature] += count
        # A recursive method is on the stack once per sample however deep it recurses.
        for signature in {frame.signature for frame in stack.frames}:
            total_counts[signature] += count
    ranked = sorted(self_counts.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    methods = tuple(MethodSamples(name, n, total_counts[name]) for name, n in ranked)
    count = len(samples)
    findings = [
        f"{i}. {m.method}: self {m.self_samples:,} ({_percent(m.self_samples, count)}), "
        f"total {m.total_samples:,} ({_percent(m.total_samples, count)})"
        for i, m in enumerate(methods, 1)
    ]
    if recording.native_samples:
        findings.append(
            f"{len(recording.native_samples):,} samples caught threads in native code "
            "(jdk.NativeMethodSample, mostly waiting on I/O); they are not counted above."
        )
    if methods:
        top = methods[0]
        headline = (
            f"{count:,} CPU samples in {_span(recording)}; hottest method "
            f"{top.method} ({_percent(top.self_samples, count)} of samples)"
        )
    else:
        headline = f"No CPU samples in {_span(recording)} of recording"
        if not recording.notes:
            notes.append(
                "The recording has no jdk.ExecutionSample events: start it with "
                "settings=profile, and check that threads were running Java code."
            )
    stacks = _stacks((s.stack, 1) for s in samples)
    return _Part(count, "samples", count, stacks, headline, tuple(findings), methods=methods)


def _alloc_part(recording: Recording, notes: list[str]) -> _Part:
    weighted: list[tuple[StackTrace | None, str | None, int]] = [
        (s.stack, s.object_class, s.weight) for s in recording.allocation_samples
    ]
    source = "jdk.ObjectAllocationSample"
    if not weighted and recording.tlab_allocations:
        # JDK 11–15 have no allocation sampler; JMC's estimate: an allocation that opened a
        # new TLAB stands for the whole TLAB, one outside a TLAB for itself.
        weighted = [
            (a.stack, a.object_class, a.tlab_size or a.allocation_size)
            for a in recording.tlab_allocations
        ]
        source = "TLAB allocation events"
        notes.append(
            "This JVM records no jdk.ObjectAllocationSample (JDK 16 and later); sizes are "
            "estimated from jdk.ObjectAllocationInNewTLAB/OutsideTLAB."
        )
    sites: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    for stack, object_class, weight in weighted:
        top = stack.top if stack is not None else None
        sites[top.signature if top is not None else "(no stack)"] += weight
        classes[object_class or "(unknown class)"] += weight
    total = sum(w for _, _, w in weighted)
    top_sites, top_classes = _top(sites), _top(classes)
    findings = ["Top allocation sites:"] if top_sites else []
    findings += [
        f"{i}. {s.name}: {format_bytes(s.weight)} ({_percent(s.weight, total)})"
        for i, s in enumerate(top_sites, 1)
    ]
    if top_classes:
        findings.append("Top allocated classes:")
        findings += [
            f"{i}. {c.name}: {format_bytes(c.weight)} ({_percent(c.weight, total)})"
            for i, c in enumerate(top_classes, 1)
        ]
    if top_sites:
        headline = (
            f"{format_bytes(total)} allocated in {_span(recording)} (from {source}); "
            f"top site {top_sites[0].name} ({_percent(top_sites[0].weight, total)}), "
            f"top class {top_classes[0].name}"
        )
    else:
        headline = f"No allocation samples in {_span(recording)} of recording"
        if not recording.notes:
            notes.append("The recording has no allocation events: start it with settings=profile.")
    stacks = _stacks((stack, weight) for stack, _, weight in weighted)
    return _Part(
        len(weighted),
        "bytes",
        total,
        stacks,
        headline,
        tuple(findings),
        allocation_sites=top_sites,
        allocated_classes=top_classes,
    )


def is_lock_park(parked_class: str | None) -> bool:
    """Whether a park waited for a lock (an AQS `Sync` such as `ReentrantLock$NonfairSync`,
    or a `StampedLock`) rather than for work or a signal (conditions, queues, futures)."""
    if parked_class is None:
        return False
    return parked_class.endswith("Sync") or "StampedLock" in parked_class


@dataclass
class _LockTally:
    kind: Literal["monitor", "park"]
    events: int = 0
    wait_ns: int = 0
    waiters: Counter[str] = field(default_factory=Counter)
    places: Counter[str] = field(default_factory=Counter)

    def add(self, thread: JavaThread | None, stack: StackTrace | None, wait_ns: int) -> None:
        self.events += 1
        self.wait_ns += wait_ns
        self.waiters[thread.name if thread is not None else "?"] += wait_ns
        where = _where(stack)
        if where is not None:
            self.places[where] += wait_ns


def _lock_part(recording: Recording, notes: list[str]) -> _Part:
    tallies: dict[tuple[str, str], _LockTally] = {}
    weighted: list[tuple[StackTrace | None, int]] = []
    for enter in recording.monitor_enters:
        key = (enter.monitor_class or "(unknown class)", "monitor")
        tallies.setdefault(key, _LockTally("monitor")).add(
            enter.thread, enter.stack, enter.duration_ns
        )
        weighted.append((enter.stack, enter.duration_ns))
    other_parks = 0
    for park in recording.thread_parks:
        if not is_lock_park(park.parked_class):
            other_parks += 1
            continue
        key = (park.parked_class or "?", "park")
        tallies.setdefault(key, _LockTally("park")).add(park.thread, park.stack, park.duration_ns)
        weighted.append((park.stack, park.duration_ns))
    locks = tuple(
        LockWaits(
            lock=name,
            kind=tally.kind,
            events=tally.events,
            wait_ns=tally.wait_ns,
            waiters=_top(tally.waiters, _WAITERS_SHOWN),
            where=_top(tally.places, 1)[0].name if tally.places else None,
        )
        for (name, _), tally in sorted(
            tallies.items(), key=lambda item: (-item[1].wait_ns, item[0])
        )[:TOP]
    )
    total = sum(w for _, w in weighted)
    findings = [_lock_finding(i, lock, total) for i, lock in enumerate(locks, 1)]
    if other_parks:
        findings.append(
            f"{other_parks:,} parks on conditions, queues or futures (threads waiting for "
            "work or a signal, not for a lock) are left out."
        )
    if locks:
        top = locks[0]
        headline = (
            f"Threads waited {format_duration(total)} in all for locks during "
            f"{_span(recording)} ({len(weighted):,} waits); most on {top.lock} "
            f"({'monitor' if top.kind == 'monitor' else 'parked'}, {_percent(top.wait_ns, total)})"
        )
    else:
        headline = f"No lock contention recorded in {_span(recording)}"
        if not recording.notes:
            notes.append(
                "jdk.JavaMonitorEnter and jdk.ThreadPark record waits of 10 ms or more with "
                "settings=profile (20 ms with the default settings); none were that long."
            )
    return _Part(
        len(weighted), "ns", total, _stacks(weighted), headline, tuple(findings), locks=locks
    )


def _lock_finding(rank: int, lock: LockWaits, total: int) -> str:
    kind = "monitor" if lock.kind == "monitor" else "parked on"
    waiters = ", ".join(f"{w.name} {format_duration(w.weight)}" for w in lock.waiters)
    where = f", at {lock.where}" if lock.where else ""
    return (
        f"{rank}. {kind} {lock.lock}: {format_duration(lock.wait_ns)} "
        f"({_percent(lock.wait_ns, total)}) over {lock.events:,} waits; "
        f"waiting: {waiters}{where}"
    )


def _gc_pauses(recording: Recording) -> GcPauses:
    collections = recording.garbage_collections
    names: list[str] = []
    for gc in collections:
        if gc.name and gc.name not in names:
            names.append(gc.name)
    return GcPauses(
        collections=len(collections),
        total_pause_ns=sum(gc.sum_of_pauses_ns for gc in collections),
        longest_pause_ns=max((gc.longest_pause_ns for gc in collections), default=0),
        collectors=tuple(names),
    )


def _gc_finding(gc: GcPauses, duration_ns: int) -> str:
    if not gc.collections:
        return "GC: no collections during the recording."
    share = f" ({_percent(gc.total_pause_ns, duration_ns)} of the time)" if duration_ns else ""
    return (
        f"GC: {gc.collections:,} collections ({', '.join(gc.collectors)}), "
        f"{format_duration(gc.total_pause_ns)} paused in total{share}, "
        f"longest pause {format_duration(gc.longest_pause_ns)}."
    )


def _cpu_load(recording: Recording) -> CpuLoadSummary | None:
    loads = recording.cpu_loads
    if not loads:
        return None
    jvm = [load.jvm_user + load.jvm_system for load in loads]
    machine = [load.machine_total for load in loads]
    return CpuLoadSummary(len(loads), _mean(jvm), max(jvm), _mean(machine), max(machine))


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _cpu_finding(load: CpuLoadSummary | None) -> str:
    if load is None:
        return "CPU: the recording has no jdk.CPULoad events."
    return (
        f"CPU: the JVM used {load.jvm_mean:.0%} of the machine on average "
        f"(peak {load.jvm_max:.0%}); the machine was {load.machine_mean:.0%} busy "
        f"(peak {load.machine_max:.0%})."
    )


__all__ = [
    "PROFILE_EVENTS",
    "CpuLoadSummary",
    "GcPauses",
    "LockWaits",
    "MethodSamples",
    "ProfileEvent",
    "ProfileSummary",
    "Weighted",
    "WeightedStack",
    "is_lock_park",
    "summarise_profile",
]
