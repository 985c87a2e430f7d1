"""Benchmarks for the Kubernetes path, as ratios within one run (`make bench`):

- `ephemeral-vs-direct`: threaddump through an ephemeral container on kubesim vs the agent
  run directly (local backend) against the very same JVM process; the difference is the
  bot's overhead (API calls, container start, log read).
- `fanout`: `version selector=... all` over 20 pods against the same over 1 pod, in one run.
  Goal: time(20)/time(1) ≤ 2 (the pods are done at once, 20 in flight). The debug image
  carries jattach, so the cost measured is jdebug's, not jcmd's JVM start. kubesim runs in
  this process, in a thread of its own: the bot's own CPU seconds per pod are this process's
  CPU time less what every other live thread used (kubesim's loop and helpers), recorded
  beside the ratio to tell the bot's cost from the simulated cluster's.
"""

from __future__ import annotations

import asyncio
import os
import resource
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.local.strategy import LocalBackend
from bot.session.run import run_each, run_request
from kubesim import KubeSim
from tests.bench.goals import assert_goal, median_seconds
from tests.strategies.conftest import RBAC, backend_for, needs_root, request, wait_until_all_running

pytestmark = needs_root
WORLD = Path(__file__).parent / "bench_world.yaml"
DEBUG_IMAGE = "jdebug.local/jdebug-debug:latest"


@pytest.fixture(scope="module")
def sim():
    with KubeSim(manifests=[WORLD, RBAC]) as running:
        wait_until_all_running(running)
        yield running


def host_pid_of(sim: KubeSim, pod: str) -> int:
    """The JVM's pid as this machine sees it, from the container's cgroup."""
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))
    found = api.read_namespaced_pod(pod, "bench")
    cid = found.status.container_statuses[0].container_id.split("://")[-1]
    procs = Path(f"/sys/fs/cgroup/pids/kubepods/pod{found.metadata.uid}/{cid}/cgroup.procs")
    for pid in procs.read_text().split():
        if os.readlink(f"/proc/{pid}/exe").endswith("/java"):
            return int(pid)
    raise AssertionError("no java process in the container's cgroup")


@pytest.mark.parametrize("path", ["direct", "ephemeral"])
def test_bench_threaddump_ephemeral_vs_direct(benchmark, sim, path):
    if path == "direct":
        backend = LocalBackend()
        text = f"threaddump pid={host_pid_of(sim, 'jvm-01')}"
    else:
        backend = backend_for(sim, debug_image=DEBUG_IMAGE, order=("ephemeral",))
        text = "threaddump pod=jvm-01 ns=bench"

    def once() -> None:
        result = asyncio.run(run_request(request(text), backend))
        assert '"barn-door-holder"' in result.raw.steps[0].text

    benchmark.group = "ephemeral-vs-direct"
    benchmark.pedantic(once, rounds=8, warmup_rounds=1)


FANOUT_GOAL_RATIO = 2.0
_TICK = os.sysconf("SC_CLK_TCK")


def _thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of each live thread of this process, by thread id."""
    found = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        found[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / _TICK)
    return found


def bot_cpu_seconds(call: Callable[[], object]) -> float:
    """CPU this process spent in `call`, less what threads that are neither this one nor
    the bot's `kube-api` workers spent meanwhile (kubesim's)."""
    me = threading.get_native_id()
    before, start = _thread_cpu(), resource.getrusage(resource.RUSAGE_SELF)
    call()
    after, end = _thread_cpu(), resource.getrusage(resource.RUSAGE_SELF)
    total = (end.ru_utime + end.ru_stime) - (start.ru_utime + start.ru_stime)
    others = sum(
        seconds - before[tid][1]
        for tid, (name, seconds) in after.items()
        if tid in before and tid != me and not name.startswith("kube-api")
    )
    return total - others


def test_bench_fanout_20_pods_against_1(benchmark, sim):
    backend = backend_for(sim, debug_image=DEBUG_IMAGE, order=("ephemeral",))

    def fan_out(label: str, pods: int) -> Callable[[], None]:
        def once() -> None:
            outcomes = asyncio.run(
                run_each(request(f"version selector={label} ns=bench all"), backend, concurrency=20)
            )
            assert len(outcomes) == pods and all(o.result for o in outcomes)

        return once

    one, twenty = fan_out("first1=yes", 1), fan_out("app=bench", 20)
    benchmark.group = "fanout"
    baseline_s = median_seconds(one, rounds=3)
    benchmark.pedantic(twenty, rounds=3, warmup_rounds=1)
    twenty_s = benchmark.stats.stats.median
    cpu_20 = bot_cpu_seconds(twenty)
    cpu_1 = bot_cpu_seconds(one)
    benchmark.extra_info.update(
        one_pod_s=round(baseline_s, 3),
        twenty_pods_s=round(twenty_s, 3),
        bot_cpu_s_per_pod_20=round(cpu_20 / 20, 4),
        bot_cpu_s_1_pod=round(cpu_1, 4),
    )
    print(f"\nfan-out bot CPU: {cpu_20 / 20:.3f} s per pod over 20, {cpu_1:.3f} s for 1")
    assert_goal(benchmark, "ratio_20_to_1_pod", twenty_s / baseline_s, FANOUT_GOAL_RATIO)
