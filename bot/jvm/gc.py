"""`gc`: GC pressure from two perf-counter samples taken `interval` apart, and its verdict.

Each sample is `task_perfdata.sh` output or `jcmd PID PerfCounter.print` text (see
`bot.jvm.perfcounters`); `bot.jvm.gcstate` says what each collector's counters mean. From
their difference: the share of time in GC, collections per minute, allocation and promotion
rates, the old generation's occupancy after GC and its trend. Without counters
(-XX:-UsePerfData) the answer is one sentence plus `GC.heap_info`'s summary, if given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.jvm.flags import parse_vm_flags
from bot.jvm.gcstate import CollectorName, GcState, Space, read_gc_state
from bot.jvm.heapinfo import summarise_heap_info
from bot.jvm.perfcounters import PerfCounters, Unavailable, parse_perfdata_sample
from bot.jvm.units import format_bytes
from bot.model.request import Options
from bot.model.results import Analysis

Generation = Literal["young", "old", "whole heap"]
ShareMeaning = Literal["pauses", "activity", "none"]

# The verdict's thresholds, in one place.
HIGH_SHARE = 0.20  # GC pauses above this take real throughput away
NOTABLE_SHARE = 0.05
FULL_AFTER_GC = 0.80  # old gen this full after GC: little room left
BACK_TO_BACK_PER_MIN = 60.0  # a concurrent collector starting a cycle every second
BUSY_ACTIVITY = 0.3  # Shenandoah's (nested) GC time per second of wall time
NOTABLE_ACTIVITY = 0.1  # a concurrent collector this busy takes CPU the app would use
STEADY = 0.01  # occupancy changes below 1% of the limit are no trend

# From this JDK on, Serial gives up a young collection that would fail before starting it
# and runs a full one in its place (serialHeap.cpp, collect_at_safepoint): measured as
# separate pauses on 25, as young-then-full in one pause on 11, 17 and 21; 22-24 untested.
_SERIAL_SEPARATE_PAUSES = 23
# A full collection starting this soon after a young one ended is the same pause: measured
# 16 us apart when chained; separate pauses need eden to fill again, over a millisecond
# even on a loaded machine.
_SAME_PAUSE_S = 0.0002
# ZGC counts pauses (zServiceability.cpp); a collection has this many of them.
_ZGC_PAUSES_PER_CYCLE = 3
_ZGC_PAUSES_PER_MAJOR = 5


@dataclass(frozen=True)
class Rate:
    """Collections of one kind per minute; `approximate` when derived from pause counts."""

    label: str
    generation: Generation
    per_minute: float
    approximate: bool = False


@dataclass(frozen=True)
class GcPressure:
    """The difference between two samples, in the terms an on-call engineer asks about.

    `time_share` is the fraction of wall time in GC pauses (`share_meaning` "pauses"), or
    for Shenandoah its GC activity, cycles and phases counted together ("activity").
    `occupancy` is the old generation (or whole heap) at the second sample, after the latest
    GC when `occupancy_after_gc`; `occupancy_before` the same at the first; `occupancy_limit`
    what it may grow to.
    """

    collector: CollectorName
    interval_s: float
    time_share: float | None
    share_meaning: ShareMeaning
    rates: tuple[Rate, ...]
    allocation_bytes_s: float | None
    promotion_bytes_s: float | None
    occupancy_label: str
    occupancy_after_gc: bool
    occupancy: int | None
    occupancy_before: int | None
    occupancy_limit: int | None
    max_heap: int | None
    young_max: int | None
    gc_cpu_cores: float | None
    stalls: bool
    notes: tuple[str, ...] = ()

    def per_minute(self, generation: Generation) -> float | None:
        rates = [r.per_minute for r in self.rates if r.generation == generation]
        return sum(rates) if rates else None

    @property
    def occupancy_share(self) -> float | None:
        if self.occupancy is None or not self.occupancy_limit:
            return None
        return self.occupancy / self.occupancy_limit


@dataclass(frozen=True)
class GcProblem:
    """Why no pressure could be computed: one sentence, and what kind of gap it is."""

    sentence: str
    unavailable: Unavailable | None = None


def _delta_count(first: GcState, second: GcState, index: int) -> int:
    a, b = first.collections.get(index), second.collections.get(index)
    return max(0, b.invocations - a.invocations) if a and b else 0


def _delta_seconds(first: GcState, second: GcState) -> float:
    total = 0.0
    for index, after in second.collections.items():
        before = first.collections.get(index)
        if before is not None:
            total += max(0.0, after.seconds - before.seconds)
    return total


def _rates(first: GcState, second: GcState, minutes: float) -> tuple[Rate, ...]:
    def per_min(index: int, divisor: int = 1) -> float:
        return _delta_count(first, second, index) / divisor / minutes

    if not second.collections:
        return ()  # JDK 11's ZGC and Epsilon count no collections
    match second.collector:
        case "Serial" | "Parallel":
            return (Rate("young", "young", per_min(0)), Rate("full", "old", per_min(1)))
        case "G1":
            return (
                Rate("young and mixed", "young", per_min(0)),
                Rate("concurrent marking cycles", "old", per_min(2, 2)),
                Rate("full", "old", per_min(1)),
            )
        case "ZGC":
            return (Rate("cycles", "whole heap", per_min(2, _ZGC_PAUSES_PER_CYCLE), True),)
        case "generational ZGC":
            return (
                Rate("minor", "young", per_min(0, _ZGC_PAUSES_PER_CYCLE), True),
                Rate("major", "old", per_min(2, _ZGC_PAUSES_PER_MAJOR), True),
            )
        case "unknown":
            return tuple(
                Rate(c.name, "whole heap", per_min(i)) for i, c in second.collections.items()
            )
    return ()


def _full_follows_young(state: GcState) -> bool:
    """Whether the latest full collection began as the latest young one ended: one pause
    in which a young collection gave way to a full one, counted in both counters."""
    young, full = state.collections.get(0), state.collections.get(1)
    if young is None or full is None or young.last_exit_s is None or full.last_entry_s is None:
        return False
    return 0 <= full.last_entry_s - young.last_exit_s < _SAME_PAUSE_S


def _allocation(first: GcState, second: GcState, seconds: float) -> float | None:
    """Bytes allocated per second, an estimate. Generational STW collectors empty eden at
    each young or full collection, so allocation is what eden gained plus one eden per
    collection; an eden is the larger of its average capacity and what threads allocated
    between GCs (`sun.gc.tlab.alloc`), and for G1, which resizes eden at every pause and
    collects before it fills under pressure, the latter.
    A heap that nothing collected between the samples gained exactly what was allocated."""
    if second.collector in ("Serial", "Parallel", "G1") and first.eden and second.eden:
        young, full = _delta_count(first, second, 0), _delta_count(first, second, 1)
        emptied = young + full
        if second.collector == "Serial" and (second.java_major or 0) < _SERIAL_SEPARATE_PAUSES:
            # Serial before its SerialHeap rewrite runs a young collection first in every
            # pause and a full one after it when the old gen is short: a full collection
            # seldom empties eden on its own.
            emptied = max(young, full)
        elif second.collector == "G1" and _full_follows_young(second):
            emptied = max(young, full)  # G1 upgraded a young pause to a full one
        eden_size = (first.eden.capacity + second.eden.capacity) / 2
        if first.tlab_epoch_bytes is not None and second.tlab_epoch_bytes is not None:
            epochs = (first.tlab_epoch_bytes + second.tlab_epoch_bytes) / 2
            # G1 resizes eden at every pause: what threads allocated between its latest GCs
            # is the better measure of one eden (measured up to 9x over with capacities).
            eden_size = epochs if second.collector == "G1" and epochs else max(eden_size, epochs)
        return max(0.0, second.eden.used - first.eden.used + emptied * eden_size) / seconds
    if not second.collections and second.collector != "Epsilon":
        return None
    if any(_delta_count(first, second, i) for i in second.collections):
        return None
    before, after = _heap_used(first), _heap_used(second)
    if before is None or after is None:
        return None
    return max(0, after - before) / seconds


def _heap_used(state: GcState) -> int | None:
    spaces = [s for s in (state.young, state.old) if s is not None]
    return sum(s.used for s in spaces) if spaces else None


def _promotion(first: GcState, second: GcState, seconds: float) -> float | None:
    """What the old generation gained, when nothing collected it in between."""
    if first.old is None or second.old is None:
        return None
    old_collections = {"Serial": (1,), "Parallel": (1,), "G1": (1, 2), "generational ZGC": (2,)}
    indexes = old_collections.get(second.collector)
    if indexes is None or any(_delta_count(first, second, i) for i in indexes):
        return None
    gained = second.old.used - first.old.used
    return gained / seconds if gained >= 0 else None


def _occupancy(state: GcState) -> tuple[str, bool, int | None, int | None]:
    """What the occupancy means for this collector: (label, whether it is "after GC",
    bytes, limit). Only the STW generational collectors change their old generation in
    collections alone; elsewhere the figure includes garbage not yet reclaimed."""
    old: Space | None = state.old
    if old is None:
        return ("old generation", False, None, None)
    match state.collector:
        case "Serial" | "Parallel":
            return ("old gen after GC", True, old.used, old.max_capacity)
        case "G1":
            return ("old gen after GC (share of the heap)", True, old.used, state.max_heap)
        case "generational ZGC":
            label = "old gen at the last pause (share of the heap)"
            return (label, False, old.used, state.max_heap)
        case "ZGC":
            return ("heap at the last pause", False, old.used, state.max_heap)
    return ("heap in use", False, old.used, state.max_heap)


def _clock_interval(first: PerfCounters, second: PerfCounters, asked_s: float) -> float:
    a, b = first.clock_s, second.clock_s
    if a is not None and b is not None and b > a:
        return b - a
    return asked_s


def analyse_gc(first_sample: str, second_sample: str, interval_s: float) -> GcPressure | GcProblem:
    """Compare two samples; a `GcProblem` when they hold no counters or do not fit."""
    first, second = parse_perfdata_sample(first_sample), parse_perfdata_sample(second_sample)
    for sample in (first, second):
        if sample.problem:
            return GcProblem(sample.problem, sample.unavailable)
    started = (first.number("sun.rt.createVmBeginTime"), second.number("sun.rt.createVmBeginTime"))
    if started[0] != started[1]:
        return GcProblem("The two samples come from different JVMs (it restarted in between).")
    seconds = _clock_interval(first, second, interval_s)
    minutes = seconds / 60
    a, b = read_gc_state(first), read_gc_state(second)
    notes = [*first.notes, *second.notes]
    if first.clock_s is None or second.clock_s is None:
        notes.append(f"The samples carry no clock; rates assume they were {interval_s:g} s apart.")

    share_meaning: ShareMeaning = "pauses"
    if b.collector == "Shenandoah":
        share_meaning = "activity"
    elif not b.collections:
        share_meaning = "none"
    time_share = _delta_seconds(a, b) / seconds if b.collections else None

    label, after_gc, occupancy, limit = _occupancy(b)
    if b.collector == "ZGC" and not b.collections:
        notes.append("JDK 11's ZGC publishes no collection counters: no pause share or rates.")
    gc_cpu = None
    if a.gc_cpu_s is not None and b.gc_cpu_s is not None:
        gc_cpu = max(0.0, b.gc_cpu_s - a.gc_cpu_s) / seconds
    causes = (a.cause, a.last_cause, b.cause, b.last_cause)
    return GcPressure(
        collector=b.collector,
        interval_s=seconds,
        time_share=time_share,
        share_meaning=share_meaning,
        rates=_rates(a, b, minutes),
        allocation_bytes_s=_allocation(a, b, seconds),
        promotion_bytes_s=_promotion(a, b, seconds),
        occupancy_label=label,
        occupancy=occupancy,
        occupancy_before=_occupancy(a)[2],
        occupancy_after_gc=after_gc,
        occupancy_limit=limit,
        max_heap=b.max_heap,
        young_max=b.young.max_capacity if b.young else None,
        gc_cpu_cores=gc_cpu,
        stalls=any(c == "Allocation Stall" for c in causes),
        notes=tuple(notes),
    )


def _percent(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.01 or share == 0 else f"{share * 100:.1f}%"


def _rate_text(bytes_s: float) -> str:
    return f"{format_bytes(round(bytes_s))}/s"


def _per_minute_text(rate: Rate) -> str:
    value = f"{rate.per_minute:.0f}" if rate.per_minute >= 10 else f"{rate.per_minute:.1f}"
    return f"{'about ' if rate.approximate else ''}{value} {rate.label}"


def _trend(p: GcPressure) -> str | None:
    if p.occupancy is None or p.occupancy_before is None or not p.occupancy_limit:
        return None
    change = p.occupancy - p.occupancy_before
    if abs(change) < STEADY * p.occupancy_limit:
        return "steady"
    per_minute = change / p.interval_s * 60
    direction = "rising" if change > 0 else "falling"
    return f"{direction} {format_bytes(round(abs(per_minute)))}/min"


def _share_phrase(p: GcPressure) -> str | None:
    if p.time_share is None:
        return None
    if p.share_meaning == "activity":
        return f"{p.collector} is at work {_percent(min(p.time_share, 1.0))} of the time"
    return f"GC pauses take {_percent(p.time_share)} of the time"


def _back_to_back(p: GcPressure) -> bool:
    if p.collector not in ("ZGC", "generational ZGC"):
        return False
    return sum(r.per_minute for r in p.rates) >= BACK_TO_BACK_PER_MIN


def verdict(p: GcPressure) -> str:
    """One line: what is wrong (the worst first) and what to run next, or that all is calm."""
    full = (
        p.occupancy_after_gc
        and p.occupancy_share is not None
        and p.occupancy_share >= FULL_AFTER_GC
    )
    occupancy = (
        f"{p.occupancy_label.split(' (')[0]} {_percent(p.occupancy_share)} full"
        if p.occupancy_share is not None
        else None
    )
    pressure: list[str] = []
    if p.share_meaning == "pauses" and p.time_share is not None and p.time_share >= HIGH_SHARE:
        pressure.append(_share_phrase(p) or "")
    if p.share_meaning == "activity" and p.time_share is not None and p.time_share >= BUSY_ACTIVITY:
        pressure.append(_share_phrase(p) or "")
    if _back_to_back(p):
        cycles = sum(r.per_minute for r in p.rates)
        pressure.append(
            f"{p.collector} runs back to back (about {cycles:.0f} collections a minute)"
        )
    if p.stalls:
        pressure.append("threads stall waiting for memory (Allocation Stall)")
    if full and occupancy:
        pressure.append(occupancy)
    if pressure:
        if full:
            advice = "the heap is too small or something is leaking; `histo` next"
        elif p.allocation_bytes_s:
            advice = (
                f"allocation ({_rate_text(p.allocation_bytes_s)}) outpaces the heap; a larger "
                "heap (or young generation) helps, and `histo` shows what is allocated"
            )
        else:
            advice = "a larger heap helps; `histo` shows what fills it"
        return "; ".join(pressure) + ": " + advice
    if p.share_meaning == "pauses" and p.time_share is not None and p.time_share >= NOTABLE_SHARE:
        detail = f"; {occupancy} after GC" if occupancy else ""
        return f"{_share_phrase(p)}: noticeable, not alarming{detail}"
    if (
        p.share_meaning == "activity"
        and p.time_share is not None
        and p.time_share >= NOTABLE_ACTIVITY
    ):
        detail = f"; {occupancy}" if occupancy else ""
        return f"{_share_phrase(p)}: noticeable, not alarming (its work is concurrent){detail}"
    collected = sum(r.per_minute for r in p.rates) > 0 or (p.time_share or 0) > 0
    calm = (
        f"GC is calm: {_share_phrase(p) or 'no collection counters'}"
        if collected
        else f"GC is calm: no collection in {p.interval_s:.1f} s"
    )
    if occupancy and not collected:
        occupancy = occupancy.replace(" after GC", "")
    return calm + (f"; {occupancy}" if occupancy else "")


def _findings(p: GcPressure) -> list[str]:
    findings: list[str] = []
    share = _share_phrase(p)
    if share:
        if p.share_meaning == "activity":
            share += " (Shenandoah's counters add up cycles and their phases, not pauses alone)"
        elif p.collector in ("ZGC", "generational ZGC"):
            share += " (ZGC's counters time its pauses only; its concurrent work is not in them)"
        findings.append(share)
    if p.rates:
        findings.append("Collections a minute: " + ", ".join(_per_minute_text(r) for r in p.rates))
    elif p.collector == "Shenandoah":
        findings.append("Collections a minute: not countable from Shenandoah's counters")
    if p.allocation_bytes_s is not None:
        findings.append(f"Allocation: about {_rate_text(p.allocation_bytes_s)}")
    elif p.collector != "unknown":
        findings.append(
            "Allocation: not measurable from the counters while a concurrent collector "
            "reclaims memory between the samples"
        )
    if p.promotion_bytes_s is not None:
        findings.append(f"Promotion to the old generation: {_rate_text(p.promotion_bytes_s)}")
    if p.occupancy is not None:
        label = p.occupancy_label[:1].upper() + p.occupancy_label[1:]
        line = f"{label}: {format_bytes(p.occupancy)}"
        if p.occupancy_limit:
            line += f" of {format_bytes(p.occupancy_limit)} ({_percent(p.occupancy_share or 0)})"
        trend = _trend(p)
        if trend:
            line += f", {trend}"
        findings.append(line)
    if p.max_heap:
        limits = f"Heap limit: {format_bytes(p.max_heap)}"
        if p.collector in ("Serial", "Parallel") and p.young_max and p.occupancy_limit:
            limits += (
                f" (young up to {format_bytes(p.young_max)}, "
                f"old up to {format_bytes(p.occupancy_limit)})"
            )
        findings.append(limits + f"; collector {p.collector}")
    if p.gc_cpu_cores is not None:
        findings.append(f"GC threads used {p.gc_cpu_cores:.2f} cores")
    return findings


def _unavailable_sentence(problem: GcProblem, flags_text: str | None) -> str:
    if problem.unavailable is not Unavailable.NO_COUNTERS:
        return problem.sentence
    flags = parse_vm_flags(flags_text or "")
    fallback = "GC.heap_info shows the heap as it is now, without rates"
    if flags.value("UsePerfData") is False:
        return f"The JVM runs with -XX:-UsePerfData, so it keeps no GC counters; {fallback}."
    if flags.value("PerfDisableSharedMem") is True:
        return (
            "The JVM runs with -XX:+PerfDisableSharedMem, so its GC counters cannot be read "
            f"from outside; {fallback}."
        )
    return (
        "The JVM publishes no GC counters (it runs with -XX:-UsePerfData or "
        f"-XX:+PerfDisableSharedMem); {fallback}."
    )


def summarise_gc(
    first_sample: str,
    second_sample: str,
    interval_s: float,
    flags_text: str | None = None,
    heap_info_text: str | None = None,
) -> Analysis:
    """Headline: the verdict; findings: share, rates, occupancy and limits. Without
    counters: one sentence, then `GC.heap_info`'s summary when its text is given."""
    result = analyse_gc(first_sample, second_sample, interval_s)
    if isinstance(result, GcProblem):
        sentence = _unavailable_sentence(result, flags_text)
        if heap_info_text is None:
            return Analysis(headline=sentence)
        heap = summarise_heap_info([heap_info_text], Options())
        return Analysis(
            headline=sentence, findings=(heap.headline, *heap.findings), notes=heap.notes
        )
    return Analysis(headline=verdict(result), findings=tuple(_findings(result)), notes=result.notes)
