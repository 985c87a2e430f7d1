"""`hot`: which threads burn the CPU now, from two CPU samples and one thread dump between.

Samples come from `task_sample.sh` (see `bot.jvm.tasks`); they are joined by tid, and to
the dump by the tid in the JVM's own PID namespace (the last `NSpid:` field), which is what
the dump prints as `nid`. GC and JIT compiler threads are named and summed as groups.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bot.jvm.tasks import USER_HZ, CpuLimit, TaskSample, TaskTimes, parse_task_sample
from bot.jvm.threaddump import JavaThread, parse_thread_dump
from bot.model.results import Analysis

ThreadKind = Literal["application", "gc", "compiler", "vm"]
Lifetime = Literal["whole interval", "started during it"]

# HotSpot's own thread names, as Thread.print and /proc (15 characters of them) show them:
# G1 and Parallel workers `GC Thread#N` (`ParGC Thread#N` for Parallel on JDK 11), G1's
# `G1 Conc#N`, `G1 Refine#N`, `G1 Main Marker`, `G1 Service`; ZGC's `ZWorker…`, `ZDriver…`,
# `ZDirector`, `ZStat`, `ZUncommitter`, `ZUnmapper` (`X…` for JDK 21's non-generational
# ZGC) and its `RuntimeWorker#N`; Shenandoah's `Shenandoah …` threads. Only VM-internal
# threads (no `#N` in the dump) are taken for them, so an application thread named
# "ZooKeeper" or "G1 …" is not.
_GC_NAME = re.compile(
    r"(?:Par)?GC Thread#\d+|G1 .+|[ZX](?:Worker|Driver|Director|Stat|Uncommit|Unmapper)\S*"
    r"|RuntimeWorker#\d+|Shenandoah .+"
)
_COMPILER_NAME = re.compile(r"(?:C1|C2|JVMCI(?: \w+)?) CompilerThre(?:ad\d*)?")
# Threads to show in full before anything else is cut.
_FRAMES_SHOWN = 2
# Below this, a group (GC, compiler) is not worth a line.
_GROUP_WORTH_NAMING = 0.05


@dataclass(frozen=True)
class ThreadCpu:
    """One thread's CPU over the interval, in cores (1.0 = one core all the time)."""

    name: str
    tid: int
    nid: int | None
    cores: float
    kind: ThreadKind
    state: str | None
    frames: tuple[str, ...]
    lifetime: Lifetime


@dataclass(frozen=True)
class HotThreads:
    """What `hot` found: threads by CPU, the JVM's total and its limit, group totals."""

    interval_s: float
    threads: tuple[ThreadCpu, ...]
    jvm_cores: float | None
    limit: CpuLimit | None
    allowed_cpus: int | None
    ended: tuple[str, ...]
    notes: tuple[str, ...]
    problem: str | None = None

    def group_cores(self, kind: ThreadKind) -> float:
        return sum(t.cores for t in self.threads if t.kind == kind)


def _kind(name: str, dumped: JavaThread | None, serial_gc: bool) -> ThreadKind:
    """GC, compiler, other VM thread, or application; `serial_gc`: no GC threads exist, so
    the VM Thread runs every collection."""
    if dumped is not None and not dumped.is_vm_internal:
        return "compiler" if _COMPILER_NAME.fullmatch(name) else "application"
    if _GC_NAME.fullmatch(name):
        return "gc"
    if _COMPILER_NAME.fullmatch(name):
        return "compiler"
    if name == "VM Thread" and serial_gc:
        return "gc"
    return "vm" if dumped is not None or name.startswith("VM ") else "application"


def _interval(first: TaskSample, second: TaskSample, interval_s: float) -> float:
    """The sampler's own clock when both samples carry it, else the interval asked for."""
    if first.uptime_s is not None and second.uptime_s is not None:
        measured = second.uptime_s - first.uptime_s
        if measured > 0:
            return measured
    return interval_s


def _delta(
    before: TaskTimes | None, after: TaskTimes, first_uptime_s: float | None
) -> tuple[int, Lifetime] | None:
    """Ticks used in the interval; a thread that started after the first sample (or a tid
    reused by one) counts from its start. None: it was running at the first sample but is
    not in it (a sample cut short), so its share is unknown."""
    if before is not None and before.start_ticks == after.start_ticks:
        return max(0, after.cpu_ticks - before.cpu_ticks), "whole interval"
    # starttime and uptime both count from boot; allow two ticks of rounding between them.
    started_s = after.start_ticks / USER_HZ
    if before is None and first_uptime_s is not None and started_s < first_uptime_s - 0.02:
        return None
    return after.cpu_ticks, "started during it"


def _problem(first: TaskSample, second: TaskSample) -> str | None:
    for sample in (first, second):
        if sample.problem:
            return sample.problem
    if first.pid is not None and second.pid is not None and first.pid != second.pid:
        return f"The two CPU samples are of different processes ({first.pid} and {second.pid})."
    if not first.tasks or not second.tasks:
        return "A CPU sample holds no thread; take the samples again."
    return None


def analyse_hot(
    first_sample: str, thread_dump_text: str, second_sample: str, interval_s: float
) -> HotThreads:
    """Join two `task_sample.sh` outputs and the thread dump taken between them."""
    first, second = parse_task_sample(first_sample), parse_task_sample(second_sample)
    notes = [*first.notes, *second.notes]
    problem = _problem(first, second)
    if problem:
        return HotThreads(interval_s, (), None, None, None, (), tuple(notes), problem)
    wall = _interval(first, second, interval_s)
    dump = parse_thread_dump(thread_dump_text)
    by_nid: Mapping[int, JavaThread] = {
        t.os_thread_id: t for t in dump.threads if t.os_thread_id is not None
    }
    if not dump.threads:
        notes.append(
            "The thread dump had no threads, so threads are named as the kernel names them."
        )
    serial_gc = bool(dump.threads) and not any(
        t.is_vm_internal and _GC_NAME.fullmatch(t.name) for t in dump.threads
    )
    if not any(t.nspid is not None for t in second.tasks.values()):
        notes.append(
            "The kernel shows no NSpid, so the sampler's thread ids were matched to the dump as is."
        )

    threads: list[ThreadCpu] = []
    unmeasured = 0
    for tid, after in second.tasks.items():
        delta = _delta(first.tasks.get(tid), after, first.uptime_s)
        if delta is None:
            unmeasured += 1
            continue
        ticks, lifetime = delta
        nid = after.nspid if after.nspid is not None else tid
        dumped = by_nid.get(nid)
        name = dumped.name if dumped is not None else after.name
        threads.append(
            ThreadCpu(
                name=name,
                tid=tid,
                nid=nid,
                cores=ticks / USER_HZ / wall,
                kind=_kind(name, dumped, serial_gc),
                state=(dumped.state or dumped.status) if dumped is not None else None,
                frames=dumped.frames if dumped is not None else (),
                lifetime=lifetime,
            )
        )
    threads.sort(key=lambda t: (-t.cores, t.name))
    if unmeasured:
        notes.append(
            f"{unmeasured} thread(s) ran at the first sample but are missing from it; "
            "their CPU counts in the JVM's total only."
        )
    ended = tuple(sorted(t.name for tid, t in first.tasks.items() if tid not in second.tasks))
    jvm_cores = None
    if first.process is not None and second.process is not None:
        jvm_cores = max(0, second.process.cpu_ticks - first.process.cpu_ticks) / USER_HZ / wall
    return HotThreads(
        interval_s=wall,
        threads=tuple(threads),
        jvm_cores=jvm_cores,
        limit=second.limit or first.limit,
        allowed_cpus=second.allowed_cpus,
        ended=ended,
        notes=tuple(notes),
    )


def _percent(cores: float) -> str:
    return f"{cores * 100:.0f}%"


def _jvm_total(hot: HotThreads) -> str:
    if hot.jvm_cores is None:
        return "the JVM's total was not sampled"
    total = f"the JVM uses {hot.jvm_cores:.2f} cores"
    if hot.limit is not None and hot.limit.cores:
        share = _percent(hot.jvm_cores / hot.limit.cores)
        return f"{total}, {share} of its {hot.limit.cores:g}-core limit"
    if hot.allowed_cpus:
        share = _percent(hot.jvm_cores / hot.allowed_cpus)
        return f"{total} (no CPU limit; {share} of its {hot.allowed_cpus} CPUs)"
    return f"{total} (no CPU limit)"


def _label(thread: ThreadCpu) -> str:
    role = {"gc": " (GC)", "compiler": " (JIT compiler)", "vm": " (JVM)"}.get(thread.kind, "")
    return f"{thread.name}{role}"


def _thread_line(thread: ThreadCpu) -> str:
    line = f"{_percent(thread.cores)} {_label(thread)}"
    if thread.state:
        line += f": {thread.state}"
    if thread.frames:
        line += " at " + " ← ".join(thread.frames[:_FRAMES_SHOWN])
    if thread.lifetime == "started during it":
        line += " (started during the interval)"
    return line


def _group_lines(hot: HotThreads) -> list[str]:
    lines = []
    gc = hot.group_cores("gc")
    if gc >= _GROUP_WORTH_NAMING:
        count = sum(1 for t in hot.threads if t.kind == "gc" and t.cores > 0)
        lines.append(f"GC threads use {gc:.1f} cores ({count} busy): see `gc`")
    compiler = hot.group_cores("compiler")
    if compiler >= _GROUP_WORTH_NAMING:
        lines.append(
            f"JIT compiler threads use {compiler:.1f} cores: normal after start or a deploy; "
            "if it lasts, the code cache may be full (`flags` ReservedCodeCacheSize)"
        )
    return lines


def summarise_hot(
    first_sample: str, thread_dump_text: str, second_sample: str, interval_s: float, top: int
) -> Analysis:
    """Headline: the hottest thread and the JVM's total; findings: the top `top` threads,
    then the GC and compiler groups."""
    hot = analyse_hot(first_sample, thread_dump_text, second_sample, interval_s)
    if hot.problem:
        return Analysis(headline=hot.problem, notes=hot.notes)
    busy = [t for t in hot.threads if t.cores > 0]
    total = _jvm_total(hot)
    if not busy:
        headline = f"No thread used CPU in {hot.interval_s:.1f} s; {total}"
    else:
        hottest = busy[0]
        headline = f"{_label(hottest)} uses {_percent(hottest.cores)} of a core; {total}"
    findings = [_thread_line(t) for t in busy[: max(1, top)]]
    findings.extend(_group_lines(hot))
    notes = list(hot.notes)
    if hot.ended:
        notes.append(
            f"{len(hot.ended)} thread(s) ended during the interval (e.g. {hot.ended[0]}); "
            "their CPU counts in the JVM's total only."
        )
    if hot.limit is not None:
        notes.append(f"CPU limit: {hot.limit.describe()}, from {hot.limit.source}.")
    return Analysis(headline=headline, findings=tuple(findings), notes=tuple(notes))
