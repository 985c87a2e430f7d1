"""Perf counters and the `gc` analysis on recorded samples (data/perfcounters, see its README),
and bad input: one sentence, never a traceback.

Every expected figure here was worked out by hand from the recorded files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jvm.gc import GcPressure, GcProblem, analyse_gc, summarise_gc, verdict
from bot.jvm.perfcounters import (
    Unavailable,
    parse_hsperfdata,
    parse_perf_counter_print,
    parse_perfdata_sample,
)

DATA = Path(__file__).parent / "data" / "perfcounters"
MiB = 1 << 20


def text(name: str) -> str:
    return (DATA / name).read_text()


def pair(name: str) -> tuple[str, str]:
    return text(f"{name}-1.txt"), text(f"{name}-2.txt")


def pressure(name: str) -> GcPressure:
    result = analyse_gc(*pair(name), 3)
    assert isinstance(result, GcPressure), result
    return result


def test_jcmd_text_gives_numbers_and_strings() -> None:
    counters = parse_perf_counter_print(text("jdk17-g1-churn-1.txt"))

    assert counters.problem is None and counters.notes == ()
    assert counters.text("sun.gc.policy.name") == "GarbageFirst"
    assert counters.number("sun.gc.collector.0.invocations") == 180
    assert counters.clock_s == pytest.approx(0.976958752)
    assert counters.seconds("sun.gc.collector.0.time") == pytest.approx(0.346112051)


def test_g1_churn_on_jdk17_from_jcmd() -> None:
    p = pressure("jdk17-g1-churn")

    # hrt.ticks 976958752 -> 4566155220 at 1 GHz; pause time 2100246924 ns over it.
    seconds = 3.589196468
    assert p.collector == "G1"
    assert p.interval_s == pytest.approx(seconds)
    assert p.time_share == pytest.approx(2.100246924 / seconds)
    # invocations: young 180 -> 988, full 5 -> 31, remark+cleanup 30 -> 158.
    assert p.per_minute("young") == pytest.approx(808 / seconds * 60)
    assert p.per_minute("old") == pytest.approx((26 + 128 / 2) / seconds * 60)
    # The latest full began before the latest young ended: not one pause, so 834 edens of
    # what threads allocated between GCs, sun.gc.tlab.alloc's (1176564 + 914420) / 2 words
    # (G1 resizes eden; its capacities, 13631496 and 12582920, overstate it), plus eden's
    # change 12582912 -> 4194304.
    allocated = 834 * (1176564 + 914420) / 2 * 8 + 4194304 - 12582912
    assert p.allocation_bytes_s == pytest.approx(allocated / seconds)
    assert p.promotion_bytes_s is None  # old collections in between
    # sun.gc.generation.1.maxCapacity=67108872: 64 MiB plus G1's 8-byte pad.
    assert (p.occupancy_before, p.occupancy, p.occupancy_limit) == (34442008, 52136072, 64 * MiB)
    assert verdict(p) == (
        "GC pauses take 59% of the time: allocation (1.8 GiB/s) outpaces the heap; a larger "
        "heap (or young generation) helps, and `histo` shows what is allocated"
    )


def test_generational_zgc_on_jdk21_counts_pauses_and_stalls() -> None:
    p = pressure("jdk21-zgen-churn")

    seconds = 4.031327622  # hrt.ticks 1080352079 -> 5111679701
    assert p.collector == "generational ZGC"
    # Minor pauses 80 -> 926, three a collection; major 26 -> 239, five a collection.
    assert p.per_minute("young") == pytest.approx(846 / 3 / seconds * 60)
    assert p.per_minute("old") == pytest.approx(213 / 5 / seconds * 60)
    assert p.time_share == pytest.approx((8677690 + 1951912) / 1e9 / seconds)
    assert p.stalls  # sun.gc.cause="Allocation Stall"
    assert p.allocation_bytes_s is None
    assert (p.occupancy, p.occupancy_limit) == (132120576, 128 * MiB)
    assert verdict(p) == (
        "generational ZGC runs back to back (about 4831 collections a minute); threads stall "
        "waiting for memory (Allocation Stall): a larger heap helps; `histo` shows what fills it"
    )


def test_shenandoah_on_jdk11_is_judged_by_its_activity_not_pauses() -> None:
    p = pressure("jdk11-shenandoah-churn")
    summary = summarise_gc(*pair("jdk11-shenandoah-churn"), 3)

    seconds = 3.565321828  # hrt.ticks 1588403762 -> 5153725590
    assert p.collector == "Shenandoah"
    assert p.share_meaning == "activity"
    assert p.time_share == pytest.approx(1.189383062 / seconds)  # collector.1 time
    assert p.rates == ()
    assert not p.occupancy_after_gc
    assert summary.headline == (
        "Shenandoah is at work 33% of the time: a larger heap helps; `histo` shows what fills it"
    )
    assert "Collections a minute: not countable from Shenandoah's counters" in summary.findings
    assert "Heap in use: 51.4 MiB of 64 MiB (80%), steady" in summary.findings


def test_zgc_on_jdk11_has_no_collection_counters_but_shows_its_stalls() -> None:
    summary = summarise_gc(*pair("jdk11-zgc-churn"), 3)

    assert summary.headline == (
        "threads stall waiting for memory (Allocation Stall): a larger heap helps; "
        "`histo` shows what fills it"
    )
    assert summary.notes == (
        "JDK 11's ZGC publishes no collection counters: no pause share or rates.",
    )
    assert "Heap at the last pause: 92 MiB of 128 MiB (72%), steady" in summary.findings


def test_parallel_churn_on_jdk25_from_the_hsperfdata_snippet_uses_its_clock() -> None:
    first = text("jdk25-parallel-churn-1.txt")

    counters = parse_perfdata_sample(first)
    p = pressure("jdk25-parallel-churn")

    # JDK 25 has no sun.os.hrt.ticks: the snippet's uptime 7903.74 -> 7906.76 is the clock.
    assert counters.uptime_s == 7903.74 and counters.clock_s == 7903.74
    assert counters.text("sun.gc.policy.name") == "ParScav:MSC"  # bytes 4852.. of the file
    assert p.collector == "Parallel"
    assert p.interval_s == pytest.approx(3.02)
    # sun.gc.collector.0/1.invocations, little-endian longs at 9888 and 10216: 3 -> 3, 1 -> 135.
    assert p.per_minute("young") == 0
    assert p.per_minute("old") == pytest.approx(134 / 3.02 * 60)


def test_an_idle_jdk25_jvm_is_calm() -> None:
    summary = summarise_gc(*pair("jdk25-g1-idle"), 3)

    assert summary.headline.startswith("GC is calm: no collection in 3.0 s; old gen ")


@pytest.mark.parametrize("name", ["jdk11-noperfdata-jcmd.txt", "jdk25-noperfdata-jcmd.txt"])
def test_jcmd_without_perf_data_is_one_sentence(name: str) -> None:
    counters = parse_perf_counter_print(text(name))

    assert counters.unavailable is Unavailable.NO_COUNTERS
    assert summarise_gc(text(name), text(name), 5).headline == (
        "The JVM publishes no GC counters (it runs with -XX:-UsePerfData or "
        "-XX:+PerfDisableSharedMem); GC.heap_info shows the heap as it is now, without rates."
    )


def test_without_perf_data_the_flags_name_the_cause_and_heap_info_follows() -> None:
    snippet = text("jdk25-noperfdata-snippet.txt")

    summary = summarise_gc(
        snippet,
        snippet,
        5,
        flags_text=text("jdk25-noperfdata-flags.txt"),
        heap_info_text=text("jdk25-noperfdata-heapinfo.txt"),
    )

    assert summary.headline == (
        "The JVM runs with -XX:-UsePerfData, so it keeps no GC counters; "
        "GC.heap_info shows the heap as it is now, without rates."
    )
    # garbage-first heap total reserved 65536K, committed 65536K, used 1884K
    assert summary.findings[0] == "G1 heap: 1.8 MiB used of 64 MiB; metaspace not in this output"


def test_perfcounter_print_through_jattach_says_why_it_cannot() -> None:
    summary = summarise_gc(text("jdk21-jattach-perfcounter.txt"), "", 5)

    assert summary.headline == (
        "PerfCounter.print is jcmd's own feature, not a command the JVM answers, so it cannot "
        "go through jattach; read the JVM's hsperfdata file (task_perfdata.sh) instead."
    )


def test_samples_of_two_jvms_are_refused() -> None:
    result = analyse_gc(text("jdk17-g1-churn-1.txt"), text("jdk21-zgen-churn-2.txt"), 3)

    assert result == GcProblem(
        "The two samples come from different JVMs (it restarted in between)."
    )


@pytest.mark.parametrize(
    ("sample", "sentence"),
    [
        ("", "This is not PerfCounter.print output (it is empty)."),
        (
            "\x00\x01\x02binary\xff",
            "This is not PerfCounter.print output (it starts with '\\x00\\x01\\x02binaryÿ').",
        ),
        ("error 3 no process with pid 7 is visible here", "No process with pid 7 is visible here."),
    ],
)
def test_bad_samples_get_one_sentence(sample: str, sentence: str) -> None:
    assert summarise_gc(sample, sample, 5).headline == sentence


def test_a_snippet_sample_cut_short_reads_what_arrived_and_says_so() -> None:
    lines = text("jdk25-parallel-churn-1.txt").splitlines()
    cut = "\n".join(lines[: len(lines) // 2])  # no `end`, half the counters

    counters = parse_perfdata_sample(cut)

    assert counters.problem is None
    assert counters.text("sun.gc.policy.name") == "ParScav:MSC"  # early in the file
    assert "The perf-data sample was cut short." in counters.notes
    assert any(note.startswith("The hsperfdata file was cut short:") for note in counters.notes)


def test_bytes_that_are_not_hsperfdata_get_one_sentence() -> None:
    assert parse_hsperfdata(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).problem == (
        "This is not a JVM's hsperfdata file (it does not start with 0xcafec0c0)."
    )


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_hsperfdata_parsing_never_raises(data: bytes) -> None:
    header = bytes.fromhex("cafec0c0 01020001") + data
    parse_hsperfdata(header)
    parse_hsperfdata(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_gc_summary_never_raises(sample: str) -> None:
    summary = summarise_gc(sample, sample, 5)
    assert summary.headline
