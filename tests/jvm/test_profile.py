"""`summarise_profile` on real recordings: the known answer of each workload comes first on
JDK 11, 17, 21 and 25, and on the corpus it agrees with JDK 25's own `jfr view` tables.

ProfileWorkloads (tests/jvm/data) burns CPU in `burnCpu`, allocates `Payload` objects in
`allocatePayloads` and makes four threads fight over one `ContendedLock` monitor (two more
over a ReentrantLock); the recordings are `settings=profile`, made by the tests.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import pytest

from bot.jvm.jfr import Recording, read_recording
from bot.jvm.profile import ProfileEvent, ProfileSummary, summarise_profile
from bot.jvm.units import format_duration
from tests.support.jfr_tool import duration_ns, hot_methods, print_json, values_of, view_rows

DATA = Path(__file__).parent / "data" / "jfr"
CORPUS = sorted(DATA.glob("*.jfr"))


@functools.cache
def _recording(path: Path) -> Recording:
    return read_recording(path)


def _summary(path: Path, event: ProfileEvent) -> ProfileSummary:
    return summarise_profile(_recording(path), event)


def _share(part: int, whole: int) -> float:
    return 100 * part / whole


def test_the_burning_method_is_first_with_all_its_samples(
    workload_recording: Any, java_version: int
) -> None:
    path = Path(workload_recording(java_version, "cpu"))
    expected = hot_methods(path)

    summary = _summary(path, "cpu")

    top = summary.methods[0]
    assert top.method == "ProfileWorkloads.burnCpu()" == expected[0][0]
    assert top.self_samples == expected[0][1]
    # Every sample of the burner has burnCpu on top and Thread.run at the bottom.
    run = next(m for m in summary.methods if m.method == "ProfileWorkloads.burnCpu()")
    assert run.total_samples == run.self_samples
    assert summary.analysis.headline.startswith(f"{summary.events:,} CPU samples in ")
    assert "hottest method ProfileWorkloads.burnCpu()" in summary.analysis.headline
    assert summary.analysis.findings[0].startswith(
        f"1. ProfileWorkloads.burnCpu(): self {top.self_samples:,} "
    )


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_the_corpus_hot_method_is_the_one_jfr_view_puts_first(path: Path) -> None:
    expected = hot_methods(path)
    tied = {method for method, samples in expected if samples == expected[0][1]}

    summary = _summary(path, "cpu")

    assert summary.methods[0].method in tied
    assert summary.methods[0].self_samples == expected[0][1]
    assert [(m.method, m.self_samples) for m in summary.methods] == sorted(
        expected[:10], key=lambda row: (-row[1], row[0])
    )


def test_total_samples_count_the_stacks_a_method_is_on() -> None:
    path = DATA / "cpu-hotspot.jfr"
    samples = values_of(print_json(path, "jdk.ExecutionSample"), "jdk.ExecutionSample")

    def on_stack(class_name: str, method: str) -> int:
        return sum(
            any(
                (f["method"]["type"]["name"], f["method"]["name"]) == (class_name, method)
                for f in s["stackTrace"]["frames"]
            )
            for s in samples
        )

    summary = _summary(path, "cpu")

    totals = {m.method: (m.self_samples, m.total_samples) for m in summary.methods}
    scenario = "me/bechberger/jstall/test/scenarios/TestScenarios$1"
    assert totals["me.bechberger.jstall.test.scenarios.TestScenarios$1.hotMethod()"][1] == (
        on_stack(scenario, "hotMethod")
    )
    # The lambda calls hotMethod: on top once, on the stack of every sample.
    self_samples, total = totals[
        "me.bechberger.jstall.test.scenarios.TestScenarios$1.lambda$run$0()"
    ]
    assert (self_samples, total) == (1, on_stack(scenario, "lambda$run$0"))
    assert total == len(samples)
    assert sum(s.weight for s in summary.stacks) == len(samples)


def test_the_allocating_site_and_class_come_first(
    workload_recording: Any, java_version: int
) -> None:
    path = Path(workload_recording(java_version, "alloc"))

    summary = _summary(path, "alloc")

    assert summary.allocation_sites[0].name == "ProfileWorkloads.allocatePayloads()"
    assert summary.allocated_classes[0].name == "ProfileWorkloads$Payload"
    assert "top site ProfileWorkloads.allocatePayloads()" in summary.analysis.headline
    assert summary.analysis.findings[0] == "Top allocation sites:"
    assert summary.analysis.findings[1].startswith("1. ProfileWorkloads.allocatePayloads(): ")


# JDK 11 records no jdk.ObjectAllocationSample, which these views read.
@pytest.mark.parametrize("java_version", [17, 21, 25], ids=lambda v: f"jdk{v}")
def test_allocation_shares_equal_jfr_views(workload_recording: Any, java_version: int) -> None:
    path = Path(workload_recording(java_version, "alloc"))
    by_site = view_rows(path, "allocation-by-site")
    by_class = view_rows(path, "allocation-by-class")

    summary = _summary(path, "alloc")

    for ours, theirs in (
        (summary.allocation_sites, by_site),
        (summary.allocated_classes, by_class),
    ):
        assert ours[0].name == theirs[0][0]
        shares = {w.name: _share(w.weight, summary.total_weight) for w in ours}
        # Rows under 1 % may tie and sort either way; those that matter must agree.
        for name, percent in theirs:
            if float(percent.rstrip("%")) >= 1.0:
                assert math.isclose(shares[name], float(percent.rstrip("%")), abs_tol=0.01)


def test_jdk11_allocations_are_estimated_from_tlab_events_and_say_so(
    workload_recording: Any,
) -> None:
    path = Path(workload_recording(11, "alloc"))
    events = print_json(path, "jdk.ObjectAllocationInNewTLAB,jdk.ObjectAllocationOutsideTLAB")
    # JMC's estimate: a new TLAB stands for its whole size, an outside allocation for itself.
    expected = sum(v["tlabSize"] for v in values_of(events, "jdk.ObjectAllocationInNewTLAB")) + sum(
        v["allocationSize"] for v in values_of(events, "jdk.ObjectAllocationOutsideTLAB")
    )

    summary = _summary(path, "alloc")

    assert summary.total_weight == expected
    assert "(from TLAB allocation events)" in summary.analysis.headline
    assert any("estimated from jdk.ObjectAllocationInNewTLAB" in n for n in summary.analysis.notes)


def test_the_contended_monitor_comes_first_with_its_waiters(
    workload_recording: Any, java_version: int
) -> None:
    path = Path(workload_recording(java_version, "lock"))
    monitors = values_of(print_json(path, "jdk.JavaMonitorEnter"), "jdk.JavaMonitorEnter")
    on_lock = [v for v in monitors if v["monitorClass"]["name"] == "ProfileWorkloads$ContendedLock"]

    summary = _summary(path, "lock")

    first = summary.locks[0]
    assert (first.lock, first.kind) == ("ProfileWorkloads$ContendedLock", "monitor")
    assert first.events == len(on_lock)
    assert first.wait_ns == sum(duration_ns(v["duration"]) for v in on_lock)
    assert first.where == "ProfileWorkloads.holdMonitor()"
    assert {w.name for w in first.waiters} <= {f"contender-{i}" for i in range(1, 5)}
    gate = next(lock for lock in summary.locks if lock.kind == "park")
    assert gate.lock == "java.util.concurrent.locks.ReentrantLock$NonfairSync"
    assert gate.where == "ProfileWorkloads.holdGate()"
    assert {w.name for w in gate.waiters} <= {"gate-1", "gate-2"}
    assert "most on ProfileWorkloads$ContendedLock (monitor" in summary.analysis.headline
    assert summary.analysis.findings[0].startswith(
        f"1. monitor ProfileWorkloads$ContendedLock: {format_duration(first.wait_ns)} "
    )


def test_the_contended_class_is_the_one_jfr_view_puts_first(workload_recording: Any) -> None:
    path = Path(workload_recording(25, "lock"))
    (name, count, *_), *_ = view_rows(path, "contention-by-class")

    first = _summary(path, "lock").locks[0]

    assert (first.lock, first.events) == (name, int(count))


def test_waits_for_work_are_not_counted_as_contention() -> None:
    path = DATA / "lock-contention.jfr"
    parks = values_of(print_json(path, "jdk.ThreadPark"), "jdk.ThreadPark")

    summary = _summary(path, "lock")

    assert all(lock.kind == "monitor" for lock in summary.locks)
    assert summary.locks[0].lock == "java.lang.Object"
    assert f"{len(parks):,} parks on conditions, queues or futures" in " ".join(
        summary.analysis.findings
    )


@pytest.mark.parametrize("event", ["cpu", "alloc", "lock"])
def test_gc_and_cpu_totals_equal_the_recorded_events(
    workload_recording: Any, java_version: int, event: ProfileEvent
) -> None:
    path = Path(workload_recording(java_version, "alloc"))
    events = print_json(path, "jdk.GarbageCollection,jdk.CPULoad")
    gcs = values_of(events, "jdk.GarbageCollection")
    loads = values_of(events, "jdk.CPULoad")

    summary = _summary(path, event)

    assert summary.gc.collections == len(gcs) > 0
    assert summary.gc.total_pause_ns == sum(duration_ns(g["sumOfPauses"]) for g in gcs)
    assert summary.gc.longest_pause_ns == max(duration_ns(g["longestPause"]) for g in gcs)
    assert summary.gc.collectors == tuple(dict.fromkeys(g["name"] for g in gcs))
    assert summary.cpu_load is not None
    assert math.isclose(
        summary.cpu_load.machine_mean,
        sum(v["machineTotal"] for v in loads) / len(loads),
        rel_tol=1e-5,
    )
    jvm = [v["jvmUser"] + v["jvmSystem"] for v in loads]
    assert math.isclose(summary.cpu_load.jvm_max, max(jvm), rel_tol=1e-5)
    gc_line, cpu_line = summary.analysis.findings[-2:]
    assert gc_line.startswith(f"GC: {len(gcs):,} collections ({gcs[0]['name']}")
    assert f"{format_duration(summary.gc.total_pause_ns)} paused in total" in gc_line
    assert cpu_line.startswith("CPU: the JVM used ")


def test_a_recording_without_the_events_asked_for_says_why() -> None:
    lock = _summary(DATA / "cpu-hotspot.jfr", "lock")
    empty = summarise_profile(Recording(), "cpu")

    assert lock.analysis.headline.startswith("No lock contention recorded in ")
    assert any("10 ms or more with settings=profile" in n for n in lock.analysis.notes)
    assert lock.locks == () and lock.stacks == ()
    assert empty.analysis.headline == "No CPU samples in 0 ns of recording"
    assert any("start it with settings=profile" in n for n in empty.analysis.notes)
