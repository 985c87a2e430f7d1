"""Benchmark (`make bench`): reading and summarising a 50 MB file of consecutive dumps, per MB,
against parsing and summarising one 10,000-thread dump per MB in the same run.

Goals: at most 2x the baseline's time per MB, and a peak RSS under the bot's 150 MB while
doing it (measured in a fresh subprocess, so this process's heap does not count). Both dumps
are synthesised from a real JDK 25 cowweb dump (scripts/synth_threaddump.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.jvm.threaddump import read_dump_file, summarise_dump_file, summarise_thread_dumps
from bot.model.request import Options
from scripts.synth_threaddump import synthesise_dump
from tests.support.jvms import REPO, jattach_text

pytestmark = pytest.mark.bench

THREADS = 10_000
FILE_MB = 50
TIME_RATIO_GOAL = 2.0
RSS_GOAL_MB = 150
# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a child spawned
# by this (big) process would report this process's peak.
_RSS_PROBE = """
import re, sys
from pathlib import Path
from bot.jvm.threaddump import read_dump_file, summarise_dump_file
analysis = summarise_dump_file(read_dump_file(Path(sys.argv[1])))
print(analysis.headline.split(" · ")[0])
print(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
"""


def _median_s(call, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def test_bench_analyse_50_mb_multi_dump_file(benchmark, cowweb_factory, tmp_path):
    jvm = cowweb_factory(25, deadlock=True)
    real = jattach_text(jvm.pid, "Thread.print -l")
    one = synthesise_dump(real, threads=THREADS)
    dumps = max(2, -(-FILE_MB * 10**6 // len(one.encode())))  # ceil: at least 50 MB
    path = tmp_path / "dumps.txt"
    with path.open("w") as out:
        for _ in range(dumps):
            out.write(one)
    file_mb = path.stat().st_size / 1e6
    one_mb = len(one.encode()) / 1e6

    baseline_s = _median_s(lambda: summarise_thread_dumps([one], Options()), rounds=3)
    benchmark.group = "analyse"
    analysis = benchmark.pedantic(
        lambda: summarise_dump_file(read_dump_file(path)), rounds=3, warmup_rounds=0
    )
    file_s = benchmark.stats.stats.median

    probe = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=REPO,
    )
    first_part, rss_kb = probe.stdout.split()[0:2], int(probe.stdout.split()[-1])
    rss_mb = rss_kb / 1024
    ratio = (file_s / file_mb) / (baseline_s / one_mb)
    figures = {
        "dumps": dumps,
        "file_mb": round(file_mb, 1),
        "file_s": round(file_s, 2),
        "file_s_per_mb": round(file_s / file_mb, 4),
        "baseline_mb": round(one_mb, 1),
        "baseline_s": round(baseline_s, 3),
        "baseline_s_per_mb": round(baseline_s / one_mb, 4),
        "ratio_per_mb": round(ratio, 2),
        "peak_rss_mb": round(rss_mb, 1),
    }
    benchmark.extra_info.update(figures)
    print(f"\nanalyse {FILE_MB} MB multi-dump file: {figures}")

    assert analysis.headline.startswith(f"{dumps} dumps · ")
    assert first_part[0] == str(dumps)  # the subprocess read the same file whole
    assert ratio <= TIME_RATIO_GOAL, f"{ratio:.2f}x the 10,000-thread time per MB"
    assert rss_mb < RSS_GOAL_MB, f"peak RSS {rss_mb:.0f} MB"
    assert Path(path).exists()
