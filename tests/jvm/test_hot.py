"""`hot` on real JVMs 11-25: the burning thread first, GC threads labelled, PID namespaces
joined through NSpid, and the CPU limit read from the JVM's cgroup.

GcWorkloads (data/GcWorkloads.java) burns one core in `jdebug-burner` (GcWorkloads.burnCpu)
or churns garbage; the JVM's own per-thread CPU (`cpu=` in Thread.print) is the yardstick.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.jvm.hot import analyse_hot, summarise_hot
from bot.jvm.tasks import SAMPLE_SCRIPT
from tests.support.jvms import jattach_text
from tests.support.polling import wait_for
from tests.support.workloads import (
    BURN_METHOD,
    BURNER,
    CHURNER,
    JDK_COLLECTORS,
    collector_args,
    compile_workloads,
    run_snippet,
    running_workload,
)

INTERVAL_S = 2
# /proc counts CPU in 10 ms ticks; the JVM reads the thread's clock: two roundings apart.
TICK_SLACK_S = 0.03

# HotSpot's GC thread names per collector, as Thread.print shows them on JDK 11-25. With
# Serial every collection runs in the VM Thread.
GC_THREAD_NAMES = {
    "serial": re.compile(r"VM Thread"),
    "parallel": re.compile(r"(?:Par)?GC Thread#\d+"),
    "g1": re.compile(r"GC Thread#\d+|G1 .+"),
    "zgc": re.compile(
        r"[ZX](?:Worker|Driver|Director|Stat|Uncommitter|Unmapper)\S*"
        r"|RuntimeWorker#\d+"
    ),
    "zgen": re.compile(
        r"Z(?:Worker|Driver|Director|Stat|Uncommitter|Unmapper)\S*"
        r"|RuntimeWorker#\d+"
    ),
    "shenandoah": re.compile(r"Shenandoah .+"),
}


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_workloads(tmp_path_factory.mktemp("gc-workloads"))


def burner_cpu_s(pid: int) -> float:
    """The burner's CPU time as the JVM itself counts it (`cpu=` on its dump header)."""
    dump = jattach_text(pid, "Thread.print")
    match = re.search(rf'^"{BURNER}" .*?cpu=(\d+(?:\.\d+)?)ms', dump, re.MULTILINE)
    assert match, "the burner is missing from the thread dump"
    return float(match.group(1)) / 1000


def sample(pid: int) -> str:
    result = run_snippet(SAMPLE_SCRIPT, pid)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def take_hot_inputs(pid: int) -> tuple[str, str, str]:
    """What the agent will do: sample, dump, wait the interval, sample."""
    first = sample(pid)
    dump = jattach_text(pid, "Thread.print")
    time.sleep(INTERVAL_S)  # the interval `hot` measures over
    return first, dump, sample(pid)


@pytest.mark.parametrize("version", [11, 17, 21, 25], ids=lambda v: f"jdk{v}")
def test_the_burning_thread_comes_first_with_the_cpu_the_jvm_counted_for_it(
    classes: Path, tmp_path: Path, version: int
) -> None:
    with running_workload(version, classes, "burn", tmp_path, ("-Xmx64m",)) as workload:
        # Past start-up (class loading, JIT) the burner is all the JVM does.
        wait_for(lambda: burner_cpu_s(workload.pid) > 0.5, what="the burner to burn 0.5 s")
        counted_before, started = burner_cpu_s(workload.pid), time.monotonic()
        first, dump, second = take_hot_inputs(workload.pid)
        counted_after, ended = burner_cpu_s(workload.pid), time.monotonic()

    hot = analyse_hot(first, dump, second, INTERVAL_S)

    top = hot.threads[0]
    assert (top.name, top.kind, top.state) == (BURNER, "application", "RUNNABLE")
    assert top.frames[0].startswith(f"{BURN_METHOD}(")
    # One thread, at most one core; the machine is shared, so no lower bound of a core.
    assert 0 < top.cores <= 1 + TICK_SLACK_S
    # The JVM counted the burner's CPU over a window holding the sampled one: what we
    # measured fits inside it, short of at most the time outside the sampled window.
    used = top.cores * hot.interval_s
    counted = counted_after - counted_before
    outside = (ended - started) - hot.interval_s
    assert counted - outside - TICK_SLACK_S <= used <= counted + TICK_SLACK_S
    assert hot.jvm_cores is not None and hot.jvm_cores >= top.cores - TICK_SLACK_S
    summary = summarise_hot(first, dump, second, INTERVAL_S, top=3)
    assert summary.headline.startswith(f"{BURNER} uses ")
    first_line = f"{round(top.cores * 100)}% {BURNER}: RUNNABLE at {BURN_METHOD}("
    assert summary.findings[0].startswith(first_line)


@pytest.mark.parametrize(
    ("version", "gc"), JDK_COLLECTORS, ids=[f"jdk{v}-{g}" for v, g in JDK_COLLECTORS]
)
def test_gc_threads_of_a_churning_jvm_are_labelled_and_summed(
    classes: Path, tmp_path: Path, version: int, gc: str
) -> None:
    with running_workload(
        version, classes, "churn", tmp_path, collector_args(version, gc)
    ) as workload:
        first, dump, second = take_hot_inputs(workload.pid)

    hot = analyse_hot(first, dump, second, INTERVAL_S)
    summary = summarise_hot(first, dump, second, INTERVAL_S, top=5)

    labelled = [t for t in hot.threads if t.kind == "gc"]
    assert labelled, "no thread was labelled GC"
    for thread in labelled:
        assert GC_THREAD_NAMES[gc].fullmatch(thread.name), thread.name
    assert sum(t.cores for t in labelled) > 0
    churner = next(t for t in hot.threads if t.name == CHURNER)
    assert churner.kind == "application"
    gc_line = next(f for f in summary.findings if f.startswith("GC threads use "))
    assert gc_line.endswith("see `gc`")
    assert any(f.endswith(" (GC)") or " (GC):" in f for f in summary.findings)


needs_root = pytest.mark.skipif(
    shutil.which("unshare") is None or not Path("/proc/self/ns/pid").exists(),
    reason="needs unshare and PID namespaces",
)


@pytest.mark.root
@needs_root
@pytest.mark.parametrize("version", [11, 25], ids=lambda v: f"jdk{v}")
def test_a_jvm_in_its_own_pid_namespace_sampled_from_the_host_joins_through_nspid(
    classes: Path, tmp_path: Path, version: int, is_root: bool
) -> None:
    if not is_root:
        pytest.skip("PID namespaces need root here")
    with running_workload(
        version,
        classes,
        "burn",
        tmp_path,
        ("-Xmx64m",),
        wrapper=("unshare", "--pid", "--fork", "--mount-proc"),
    ) as workload:
        wait_for(lambda: burner_cpu_s(workload.pid) > 0.5, what="the burner to burn 0.5 s")
        first, dump, second = take_hot_inputs(workload.pid)

    hot = analyse_hot(first, dump, second, INTERVAL_S)

    top = hot.threads[0]
    assert top.name == BURNER
    assert top.frames[0].startswith(f"{BURN_METHOD}(")
    # The host's tid is not the dump's nid: the name came through NSpid.
    assert top.nid is not None and top.nid != top.tid
    assert f"nid={top.nid}" in dump or f"nid={top.nid:#x}" in dump


@pytest.fixture
def cpu_cgroup() -> Iterator[Path]:
    """A cgroup v1 `cpu` group limited to half a core, removed afterwards."""
    root = Path("/sys/fs/cgroup/cpu")
    if not (root / "cpu.cfs_quota_us").exists():
        pytest.skip("no cgroup v1 cpu controller here")
    group = root / f"jdebug-hot-{uuid.uuid4().hex[:8]}"
    group.mkdir()
    try:
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text("50000")
        yield group
    finally:
        wait_for(lambda: not (group / "cgroup.procs").read_text().strip(), 10, "the group to empty")
        group.rmdir()


@pytest.mark.root
def test_the_jvms_share_of_its_cgroup_cpu_quota_is_reported(
    classes: Path, tmp_path: Path, is_root: bool, cpu_cgroup: Path
) -> None:
    if not is_root:
        pytest.skip("cgroups need root here")
    enter = f'echo $$ > {cpu_cgroup}/cgroup.procs && exec "$@"'
    with running_workload(
        25, classes, "burn", tmp_path, ("-Xmx64m",), wrapper=("sh", "-c", enter, "enter-cgroup")
    ) as workload:
        first, dump, second = take_hot_inputs(workload.pid)

    hot = analyse_hot(first, dump, second, INTERVAL_S)
    summary = summarise_hot(first, dump, second, INTERVAL_S, top=3)

    assert hot.limit is not None
    assert hot.limit.cores == 0.5
    assert hot.limit.source == f"cgroup v1 {cpu_cgroup}"
    # The kernel holds the whole JVM to its quota (a period's worth of slack).
    assert hot.jvm_cores is not None and hot.jvm_cores <= 0.5 * 1.1
    assert "of its 0.5-core limit" in summary.headline


@pytest.mark.root
@needs_root
def test_a_cpu_max_in_the_jvms_own_cgroup_mount_is_read_through_its_root(
    classes: Path, tmp_path: Path, is_root: bool
) -> None:
    """A container runtime mounts the container's own cgroup (v2) at /sys/fs/cgroup; here a
    private mount namespace stands in for one, with a cpu.max file of 1.5 cores. The
    kernel does not enforce it: this checks where the sampler looks, not the limit."""
    if not is_root:
        pytest.skip("mount namespaces need root here")
    setup = (
        "mount -t tmpfs jdebug-cgroup /sys/fs/cgroup && "
        'echo "150000 100000" > /sys/fs/cgroup/cpu.max && exec "$@"'
    )
    with running_workload(
        21,
        classes,
        "idle",
        tmp_path,
        ("-Xmx64m",),
        wrapper=("unshare", "--mount", "--propagation", "private", "sh", "-c", setup, "container"),
    ) as workload:
        first, dump, second = take_hot_inputs(workload.pid)

    hot = analyse_hot(first, dump, second, INTERVAL_S)

    assert hot.limit is not None
    assert hot.limit.cores == 1.5
    assert hot.limit.source == f"cgroup v2 /proc/{workload.pid}/root/sys/fs/cgroup/cpu.max"
