"""Benchmark: jdebug-attach against Debian's jattach and JDK 25's jcmd, on one JVM in one run.

One step is a whole tool process: start, attach (the listener already runs), `VM.version`,
exit. Peak memory is read from a fresh cgroup-v1 memory group per run (memory.max_usage_in_bytes),
which the tool enters by a tiny `sh` before it execs, so nothing of this Python process is
counted; the kernel charges in batches of 64 pages, so figures are upper bounds in steps of
256 KB, and file pages already cached (libc, libjvm) are charged to whoever read them first.
Goals (issue 13): the helper's peak ≤ 5 MB, its step ≤ 2x jattach's and far below jcmd's.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.native.conftest import HELPER, needs_root
from tests.support.jvms import jdk_home

pytestmark = [pytest.mark.bench, needs_root]

MEMORY_CGROUPS = Path("/sys/fs/cgroup/memory")
PEAK_GOAL = 5 * 1024 * 1024
ENTER_CGROUP = 'echo $$ > "$0/cgroup.procs" && exec "$@"'


def step(argv: Sequence[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    assert result.returncode == 0 and "JDK 25." in result.stdout, result.stderr
    return elapsed


def peak_memory(argv: Sequence[str]) -> int:
    """Bytes the process charged to its own memory cgroup at its peak."""
    group = MEMORY_CGROUPS / f"jdebug-bench-{uuid.uuid4().hex[:12]}"
    group.mkdir()
    try:
        result = subprocess.run(
            ["sh", "-c", ENTER_CGROUP, str(group), *argv],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0 and "JDK 25." in result.stdout, result.stderr
        return int((group / "memory.max_usage_in_bytes").read_text())
    finally:
        group.rmdir()


def test_bench_helper_step_against_jattach_and_jcmd(benchmark, cowweb_factory):
    if not MEMORY_CGROUPS.is_dir():
        pytest.fail(f"{MEMORY_CGROUPS} is missing: this benchmark needs the cgroup-v1 memory group")
    jvm = cowweb_factory(25)
    pid = str(jvm.pid)
    helper = [str(HELPER), "jcmd", pid, "VM.version"]
    jattach = [shutil.which("jattach") or "jattach", pid, "jcmd", "VM.version"]
    jcmd = [str(jdk_home(25) / "bin" / "jcmd"), pid, "VM.version"]
    step(helper)  # starts the listener: every step below finds the socket

    # Interleaved, so a machine shared with other work slows both alike.
    helper_s, jattach_s = [], []
    for _ in range(40):
        helper_s.append(step(helper))
        jattach_s.append(step(jattach))
    jcmd_s = [step(jcmd) for _ in range(5)]
    peaks = {
        name: max(peak_memory(argv) for _ in range(3))
        for name, argv in (("helper", helper), ("jattach", jattach), ("jcmd", jcmd))
    }
    benchmark.group = "attach-helper-step"
    benchmark.pedantic(lambda: step(helper), rounds=20, warmup_rounds=2)

    figures = {
        "binary_bytes": os.path.getsize(HELPER),
        "helper_step_ms": statistics.median(helper_s) * 1000,
        "jattach_step_ms": statistics.median(jattach_s) * 1000,
        "jcmd25_step_ms": statistics.median(jcmd_s) * 1000,
        "helper_peak_bytes": peaks["helper"],
        "jattach_peak_bytes": peaks["jattach"],
        "jcmd25_peak_bytes": peaks["jcmd"],
    }
    figures["helper_vs_jattach"] = figures["helper_step_ms"] / figures["jattach_step_ms"]
    figures["helper_vs_jcmd25"] = figures["helper_step_ms"] / figures["jcmd25_step_ms"]
    benchmark.extra_info.update(figures)
    print()
    for key, value in figures.items():
        print(f"  {key:20} {value:,.3f}" if isinstance(value, float) else f"  {key:20} {value:,}")

    assert figures["helper_peak_bytes"] <= PEAK_GOAL
    assert figures["helper_vs_jattach"] <= 2.0
    assert figures["helper_vs_jcmd25"] <= 0.1
    assert "Full thread dump" not in jvm.log()
