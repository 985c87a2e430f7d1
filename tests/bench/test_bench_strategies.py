"""Benchmarks for the Kubernetes path, as ratios within one run (`make bench`):

- `ephemeral-vs-direct`: threaddump through an ephemeral container on kubesim vs the agent
  run directly (local backend) against the very same JVM process; the difference is the
  bot's overhead (API calls, container start, log read).
- `fanout`: `version selector=... all` over 1, 5 and 20 pods; goal time(20)/time(1) <= 2.
  The debug image carries jattach, so the cost measured is jdebug's, not jcmd's JVM start.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bot.local.strategy import LocalBackend
from bot.session.run import run_each, run_request
from kubesim import KubeSim
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


@pytest.mark.parametrize("pods", [1, 5, 20])
def test_bench_fanout(benchmark, sim, pods):
    label = {1: "first1=yes", 5: "first5=yes", 20: "app=bench"}[pods]
    backend = backend_for(sim, debug_image=DEBUG_IMAGE, order=("ephemeral",))

    def once() -> None:
        outcomes = asyncio.run(
            run_each(request(f"version selector={label} ns=bench all"), backend, concurrency=20)
        )
        assert len(outcomes) == pods and all(o.result for o in outcomes)

    benchmark.group = "fanout"
    benchmark.extra_info["pods"] = pods
    benchmark.pedantic(once, rounds=3, warmup_rounds=1)
