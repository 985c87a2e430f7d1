"""Benchmark: parse and summarise a 10,000-thread dump built from a real JDK 25 cowweb dump.

The goal is ≤ 0.5 s per dump, so a big service's dump is summarised before Slack's user
gives up; throughput (MB/s) is recorded in `extra_info` for `make bench` to compare runs.
"""

from __future__ import annotations

import re

from bot.jvm.threaddump import summarise_thread_dumps
from bot.model.request import Options
from scripts.synth_threaddump import synthesise_dump
from tests.support.jvms import jattach_text

THREADS = 10_000
GOAL_S = 0.5


def test_bench_summarise_10000_thread_dump(benchmark, cowweb_factory):
    jvm = cowweb_factory(25, deadlock=True)
    real = jattach_text(jvm.pid, "Thread.print -l")
    text = synthesise_dump(real, threads=THREADS)
    vm_internal = len(re.findall(r'^"[^"]*" os_prio=', real, re.M))  # no `#N`: VM-internal

    benchmark.group = "threaddump"
    analysis = benchmark.pedantic(
        summarise_thread_dumps, args=([text], Options()), rounds=5, warmup_rounds=1
    )

    assert analysis.headline.startswith(f"{THREADS + vm_internal:,} threads · ")
    assert "deadlocks: worker-3 ↔ worker-4" in analysis.headline
    assert analysis.notes == ()
    median_s = benchmark.stats.stats.median  # robust to a neighbour stealing one round
    megabytes = len(text.encode()) / 1e6
    benchmark.extra_info["threads"] = THREADS
    benchmark.extra_info["megabytes"] = round(megabytes, 2)
    benchmark.extra_info["mb_per_s"] = round(megabytes / median_s, 1)
    assert median_s <= GOAL_S, f"{median_s:.3f} s for {THREADS:,} threads (goal {GOAL_S} s)"
