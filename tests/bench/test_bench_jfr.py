"""Benchmark: our JFR reader against the JDK's own tools on the same files, in one run.

This decides how `profile` reads recordings (issue 16): `jfr print --json` in a JDK image,
`jcmd JFR.view` in the target (timed here as `jfr view hot-methods` on the file, the same
code), or our reader, which needs no JDK at all. The 64 MiB file (the size cap) is glued from
copies of a real `settings=profile` recording of the allocating workload on JDK 25.

Goals, asserted:
- our read + summary at least as fast as `jfr print --json` of just the events a summary
  needs (so dropping the JDK costs no latency);
- ≥ 5 MB/s, so a 10 MB recording of 20 s (the default duration; ours make 0.3–1.4 MB in 4 s)
  is analysed in ≤ 2 s, the issue's 10 % budget from recording end to answer;
- memory beyond what the result keeps stays within four of the largest chunk (streaming);
- per real recording of a few seconds, read + summary + flame graph PNG ≤ 10 % of its
  duration: the issue's whole budget from recording end to answer, of which fetching the file
  (a local read) costs little; the figures show what is left for the Slack upload. Short
  recordings are the hard case, as the fixed costs (metadata, PNG) do not shrink with them.
"""

from __future__ import annotations

import subprocess
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from bot.jvm.flamegraph import profile_flame_graph, render_flame_graph
from bot.jvm.jfr import read_recording
from bot.jvm.profile import summarise_profile
from tests.support.jvms import jattach_text, jdk_home
from tests.support.profile_workloads import (
    RECORD_SECONDS,
    compile_workloads,
    start_workload,
    stop_workload,
)

pytestmark = pytest.mark.bench

SIZE = 64 * 2**20
SUMMARY_EVENTS = (
    "jdk.ExecutionSample,jdk.NativeMethodSample,jdk.ObjectAllocationSample,"
    "jdk.JavaMonitorEnter,jdk.ThreadPark,jdk.GarbageCollection,jdk.CPULoad"
)
GOAL_MB_PER_S = 5.0
GOAL_RATIO_VS_JFR_PRINT = 1.0
GOAL_SHARE_OF_DURATION = 0.10


def _copies(recording: Path, size: int, out: Path) -> Path:
    """`recording` repeated until `size` bytes: a valid file of many chunks.

    Copies of one recording, not a mix: chunks of different JVMs often share metadata id 1,
    and the JDK's reader then decodes the later ones with the first one's types and fails
    ("Unknown string encoding"); our reader would not, but the comparison needs both.
    """
    part = recording.read_bytes()
    out.write_bytes(part * -(-size // len(part)))
    return out


@pytest.fixture(scope="module")
def big_recording(workload_recording: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = Path(workload_recording(25, "alloc"))
    return _copies(source, SIZE, tmp_path_factory.mktemp("bench-jfr") / "big.jfr")


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, timeout=600)
    return time.perf_counter() - start


def _read_and_summarise(path: Path) -> int:
    recording = read_recording(path)
    summarise_profile(recording, "cpu")
    return len(recording.execution_samples)


def test_bench_read_and_summarise_64_mib_against_the_jdk_tools(benchmark, big_recording):
    jfr = str(jdk_home(25) / "bin" / "jfr")
    megabytes = big_recording.stat().st_size / 1e6
    start = time.perf_counter()
    big_recording.read_bytes()
    bytes_s = time.perf_counter() - start
    print_s = _timed([jfr, "print", "--json", "--events", SUMMARY_EVENTS, str(big_recording)])
    view_s = _timed([jfr, "view", "hot-methods", str(big_recording)])

    benchmark.group = "jfr"
    samples = benchmark.pedantic(_read_and_summarise, args=(big_recording,), rounds=3)

    ours_s = benchmark.stats.stats.median  # robust to a neighbour stealing one round
    figures = {
        "megabytes": round(megabytes, 1),
        "samples": samples,
        "ours_s": round(ours_s, 2),
        "ours_mb_per_s": round(megabytes / ours_s, 1),
        "jfr_print_json_s": round(print_s, 2),
        "jfr_view_hot_methods_s": round(view_s, 2),
        "read_bytes_s": round(bytes_s, 3),
        "ratio_jfr_print_over_ours": round(print_s / ours_s, 2),
        "ratio_ours_over_read_bytes": round(ours_s / bytes_s, 1),
    }
    benchmark.extra_info.update(figures)
    print(figures)
    assert samples > 0
    assert megabytes / ours_s >= GOAL_MB_PER_S, figures
    assert print_s / ours_s >= GOAL_RATIO_VS_JFR_PRINT, figures


def test_bench_memory_beyond_the_result_stays_within_a_few_chunks(
    benchmark, workload_recording, tmp_path
):
    # tracemalloc slows Python several times over: one measured run of a 16 MiB file.
    path = _copies(Path(workload_recording(25, "alloc")), SIZE // 4, tmp_path / "16mib.jfr")
    tracemalloc.start()
    recording = benchmark.pedantic(read_recording, args=(path,), rounds=1)
    retained, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    largest_chunk = max(c.size for c in recording.chunks)
    figures = {
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "chunks": len(recording.chunks),
        "largest_chunk_mib": round(largest_chunk / 2**20, 2),
        "peak_mib": round(peak / 2**20, 1),
        "retained_mib": round(retained / 2**20, 1),
        "transient_mib": round((peak - retained) / 2**20, 2),
        "events_kept": len(recording.execution_samples)
        + len(recording.allocation_samples)
        + len(recording.garbage_collections)
        + len(recording.gc_phase_pauses),
    }
    benchmark.extra_info.update(figures)
    print(figures)
    # What is not kept (one chunk's bytes, pools, resolved values, the parsed metadata) must
    # not grow with the file: a few chunks' worth, whatever the number of chunks.
    assert peak - retained <= 4 * largest_chunk, figures


@pytest.mark.parametrize("workload", ["cpu", "alloc", "lock"])
def test_bench_analysis_of_a_real_recording_against_its_duration(
    benchmark, workload_recording, workload
):
    path = Path(workload_recording(25, workload))

    def analyse() -> int:
        summary = summarise_profile(read_recording(path), workload)
        return len(render_flame_graph(profile_flame_graph(summary)))

    benchmark.group = "jfr-analysis"
    png_bytes = benchmark.pedantic(analyse, rounds=5, warmup_rounds=1)

    duration_s = read_recording(path).duration_ns / 1e9
    median_s = benchmark.stats.stats.median
    figures = {
        "file_mb": round(path.stat().st_size / 1e6, 2),
        "recording_s": round(duration_s, 2),
        "analysis_s": round(median_s, 3),
        "share_of_duration": round(median_s / duration_s, 4),
        "png_bytes": png_bytes,
    }
    benchmark.extra_info.update(figures)
    print(workload, figures)
    assert median_s / duration_s <= GOAL_SHARE_OF_DURATION, figures


def test_bench_jfr_view_in_the_target_against_dump_and_our_reader(benchmark, tmp_path):
    """`JFR.view hot-methods` (JDK 21+) works inside the target JVM, on its CPU, and gives a
    table without stacks (so no flame graph). Our path has the JVM write the file (which
    `duration=` makes it do anyway) and does the analysis outside the target; that analysis
    must not take longer than JFR.view takes the target."""
    classes = compile_workloads(tmp_path / "classes")
    proc = start_workload(25, "cpu", classes)
    dump = tmp_path / "dump.jfr"
    try:
        jattach_text(proc.pid, "JFR.start name=bench settings=profile")
        time.sleep(RECORD_SECONDS)  # let samples accumulate; the figures below are measured
        start = time.perf_counter()
        view = jattach_text(proc.pid, "JFR.view hot-methods")
        view_s = time.perf_counter() - start
        start = time.perf_counter()
        jattach_text(proc.pid, f"JFR.dump name=bench filename={dump}")
        dump_s = time.perf_counter() - start
    finally:
        stop_workload(proc)

    def analyse() -> str:
        summary = summarise_profile(read_recording(dump), "cpu")
        render_flame_graph(profile_flame_graph(summary))
        return summary.methods[0].method

    benchmark.group = "jfr-view"
    top = benchmark.pedantic(analyse, rounds=5, warmup_rounds=1)

    ours_s = benchmark.stats.stats.median
    figures = {
        "jfr_view_in_target_s": round(view_s, 3),
        "jfr_dump_in_target_s": round(dump_s, 3),
        "our_analysis_s": round(ours_s, 3),
        "ratio_ours_over_view": round(ours_s / view_s, 2),
        "dump_mb": round(dump.stat().st_size / 1e6, 2),
    }
    benchmark.extra_info.update(figures)
    print(figures)
    assert "ProfileWorkloads.burnCpu()" in view
    assert top == "ProfileWorkloads.burnCpu()"
    assert ours_s <= view_s, figures
