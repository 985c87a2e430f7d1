"""What one perf-counter sample says about the collector and the heap, for every HotSpot GC.

Each collector fills the same `sun.gc.collector.N.*` / `sun.gc.generation.N.*` names with
different meanings (HotSpot's collectorCounters, generationCounters and hSpaceCounters,
set up per GC). What each index counts, read in the sources and checked on JDK 11-25:
- Serial, Parallel: 0 young collections, 1 full collections; both are pauses.
- G1 (g1MonitoringSupport.cpp): 0 young and mixed pauses, 1 full, 2 the remark and cleanup
  pauses of each concurrent marking cycle (two per cycle).
- ZGC (zServiceability.cpp) counts pauses, not cycles: non-generational ZGC (JDK 11-21)
  has only 2, its three pauses a cycle; generational ZGC (21+, the only one from 24) has 0
  for minor and 2 for major collections, three pauses per minor and at least five per
  major one.
- Shenandoah (shenandoahMonitoringSupport.cpp) puts everything in 1: every cycle and,
  nested inside it, each of its pauses and concurrent phases (the TraceCollectorStats in
  shenandoahConcurrentGC.cpp and its control thread), so neither a pause time nor a cycle
  count can be read from it; 0 stays empty.
- JDK 11's ZGC has no collector counters at all, only its one `old` generation.
- Epsilon has no collector counters and one `Heap` generation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.jvm.perfcounters import PerfCounters

CollectorName = Literal[
    "Serial", "Parallel", "G1", "ZGC", "generational ZGC", "Shenandoah", "Epsilon", "unknown"
]

_POLICIES: dict[str, CollectorName] = {
    "Copy:MSC": "Serial",
    "ParScav:MSC": "Parallel",
    "GarbageFirst": "G1",
}


@dataclass(frozen=True)
class Collections:
    """One `sun.gc.collector.N`: how often it ran, its total time so far, and when its
    latest run began and ended (seconds on the JVM's clock)."""

    name: str
    invocations: int
    seconds: float
    last_entry_s: float | None = None
    last_exit_s: float | None = None


@dataclass(frozen=True)
class Space:
    """Bytes used and committed now, and the most it may grow to."""

    used: int
    capacity: int
    max_capacity: int


@dataclass(frozen=True)
class GcState:
    """One sample: the collector, its counters by index, the generations and the heap limit.

    For single-space collectors (ZGC, Shenandoah, Epsilon) `old` is the whole heap; for
    generational ZGC it is the old generation, `young` the young one.
    """

    collector: CollectorName
    collections: dict[int, Collections]
    eden: Space | None
    young: Space | None
    old: Space | None
    max_heap: int | None
    cause: str | None
    last_cause: str | None
    gc_cpu_s: float | None
    clock_s: float | None
    tlab_epoch_bytes: int | None = None
    java_major: int | None = None


def _space(counters: PerfCounters, prefix: str) -> Space | None:
    used = counters.number(f"{prefix}.used")
    capacity = counters.number(f"{prefix}.capacity")
    maximum = counters.number(f"{prefix}.maxCapacity")
    if used is None or capacity is None:
        return None
    return Space(used, capacity, maximum if maximum is not None else capacity)


def _generation(counters: PerfCounters, index: int) -> Space | None:
    """A generation's use is the sum of its spaces'; capacities are the generation's own."""
    prefix = f"sun.gc.generation.{index}"
    spaces = counters.number(f"{prefix}.spaces") or 0
    used = [counters.number(f"{prefix}.space.{i}.used") for i in range(min(spaces, 8))]
    capacity = counters.number(f"{prefix}.capacity")
    maximum = counters.number(f"{prefix}.maxCapacity")
    if not used or None in used or capacity is None:
        return None
    total = sum(u for u in used if u is not None)
    return Space(total, capacity, maximum if maximum is not None else capacity)


def _collector(counters: PerfCounters, collections: dict[int, Collections]) -> CollectorName:
    policy = counters.text("sun.gc.policy.name")
    if policy in _POLICIES:
        return _POLICIES[policy]
    names = " ".join(c.name for c in collections.values())
    if "ZGC minor" in names or "ZGC major" in names:
        return "generational ZGC"
    if names.startswith("Z concurrent"):
        return "ZGC"
    if "Shenandoah" in names:
        return "Shenandoah"
    if not collections:
        old_name = counters.text("sun.gc.generation.1.name")
        if old_name == "Heap":
            return "Epsilon"
        if old_name == "old" and counters.text("sun.gc.generation.0.name") is None:
            return "ZGC"  # JDK 11

    return "unknown"


def read_gc_state(counters: PerfCounters) -> GcState:
    """The GC view of one counters sample; what is missing stays None."""
    collections: dict[int, Collections] = {}
    for index in range(4):
        prefix = f"sun.gc.collector.{index}"
        invocations, seconds = (
            counters.number(f"{prefix}.invocations"),
            counters.seconds(f"{prefix}.time"),
        )
        if invocations is not None and seconds is not None:
            collections[index] = Collections(
                counters.text(f"{prefix}.name") or f"collector {index}",
                invocations,
                seconds,
                counters.seconds(f"{prefix}.lastEntryTime"),
                counters.seconds(f"{prefix}.lastExitTime"),
            )
    collector = _collector(counters, collections)
    young = _generation(counters, 0)
    old = _generation(counters, 1)
    if collector in ("Serial", "Parallel"):
        # Their generations are disjoint, so the heap's limit is the sum of both.
        max_heap = (young.max_capacity + old.max_capacity) if young and old else None
    else:
        # G1, ZGC and Shenandoah report the whole heap's limit as the old generation's.
        max_heap = old.max_capacity if old else None
        if max_heap is not None and collector == "G1":
            # G1 before JDK 21 pads every capacity by 8 bytes (g1MonitoringSupport.cpp,
            # pad_capacity); its heap is whole regions of 1 MiB or more.
            max_heap -= max_heap % (1 << 20)
    if young is not None and young.max_capacity == 0:
        young = None  # Shenandoah's empty `Young`
    gc_cpu_ns = counters.number("sun.threads.total_gc_cpu_time")
    return GcState(
        collector=collector,
        collections=collections,
        eden=_space(counters, "sun.gc.generation.0.space.0")
        if collector in ("Serial", "Parallel", "G1")
        else None,
        young=young,
        old=old,
        max_heap=max_heap,
        cause=counters.text("sun.gc.cause"),
        last_cause=counters.text("sun.gc.lastCause"),
        # JDK 25 counts GC worker CPU for G1 and Parallel only; 0 means "not counted".
        gc_cpu_s=gc_cpu_ns / 1e9 if gc_cpu_ns else None,
        clock_s=counters.clock_s,
        tlab_epoch_bytes=_tlab_epoch_bytes(counters),
        java_major=_java_major(counters.text("java.property.java.version")),
    )


def _java_major(version: str | None) -> int | None:
    """`11.0.13` -> 11, `25` -> 25, `1.8.0_392` -> 8."""
    parts = (version or "").split(".")
    if not parts[0].isdigit():
        return None
    major = int(parts[0])
    return int(parts[1]) if major == 1 and len(parts) > 1 and parts[1].isdigit() else major


def _tlab_epoch_bytes(counters: PerfCounters) -> int | None:
    """Bytes the threads allocated between the two latest GCs: `sun.gc.tlab.alloc`, set at
    each GC (ThreadLocalAllocStats::publish, threadLocalAllocBuffer.cpp), counts heap words
    although its declared unit is bytes."""
    words = counters.number("sun.gc.tlab.alloc")
    return words * 8 if words is not None else None
