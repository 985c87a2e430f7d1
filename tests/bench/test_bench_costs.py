"""What a diagnosis costs the node and the pod, as ratios within one run (`make bench`):

- `cold-vs-warm`: a first threaddump on a node that has never pulled the debug image
  `eclipse-temurin:25-jdk` (about 205 MB at kubesim's default 25 MB/s after 0.5 s) against
  the same threaddump once the image is there. Issue 13 removes this cost; here the goal is
  only that it is visible: cold > warm.
- `debug-peak`: the debug container's peak memory (its cgroup's max_usage_in_bytes) when the
  agent runs jcmd (a whole JVM) against when it runs jattach; goal jattach < jcmd / 10.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

import pytest

from bot.session.run import run_request
from kubesim import KubeSim
from kubesim.kubelet import cgroups
from kubesim.kubelet.pulls import PullModel
from tests.strategies.conftest import RBAC, backend_for, needs_root, request, wait_until_all_running

pytestmark = [needs_root, pytest.mark.bench]
JDK_IMAGE = "eclipse-temurin:25-jdk"  # jcmd, no jattach: the bot's default debug image
JATTACH_IMAGE = "jdebug.local/jdebug-debug:latest"  # the same JDK plus jattach
WORLD = """
apiVersion: v1
kind: Namespace
metadata: {name: jdebug, labels: {pod-security.kubernetes.io/enforce: privileged}}
---
apiVersion: v1
kind: Namespace
metadata: {name: costs}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: costs}
spec: {containers: [{name: app, image: "jdebug.local/cowweb:25"}]}
"""


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    world = tmp_path_factory.mktemp("costs") / "world.yaml"
    world.write_text(WORLD)
    # The default pull model, as a real node's first pull would cost.
    with KubeSim(manifests=[world, RBAC], pulls=PullModel()) as running:
        wait_until_all_running(running)
        yield running


def threaddump(sim: KubeSim, image: str) -> str:
    """One threaddump through an ephemeral container; the debug container's name."""
    backend = backend_for(sim, debug_image=image, order=("ephemeral",))
    result = asyncio.run(run_request(request("threaddump pod=app ns=costs"), backend))
    assert '"main"' in result.raw.steps[0].text or "Full thread dump" in result.raw.steps[0].text
    assert sim.cluster is not None
    pod = sim.cluster.store.get("pods", "costs", "app")
    assert pod is not None
    return str(pod["spec"]["ephemeralContainers"][-1]["name"])


def test_bench_cold_first_diagnosis_against_a_warm_one(benchmark, sim: KubeSim) -> None:
    threaddump(sim, JDK_IMAGE)  # the image is on the node now
    warm = []
    for _ in range(3):
        started = time.perf_counter()
        threaddump(sim, JDK_IMAGE)
        warm.append(time.perf_counter() - started)

    benchmark.group = "cold-vs-warm"
    benchmark.pedantic(
        lambda: threaddump(sim, JDK_IMAGE),
        setup=lambda: sim.remove_image(JDK_IMAGE) and None,
        rounds=3,
    )
    cold, baseline = benchmark.stats.stats.median, statistics.median(warm)
    ratio = cold / baseline
    benchmark.extra_info.update(
        {"cold_s": round(cold, 3), "warm_s": round(baseline, 3), "cold_over_warm": round(ratio, 2)}
    )
    print(f"\ncold {cold:.2f}s, warm {baseline:.2f}s: cold/warm = {ratio:.1f}")
    assert ratio > 1


@pytest.mark.skipif(cgroups.memory_root() is None, reason="needs the cgroup v1 memory controller")
def test_bench_debug_process_peak_memory_jattach_against_jcmd(benchmark, sim: KubeSim) -> None:
    def peak(image: str) -> int:
        name = threaddump(sim, image)
        found = sim.memory("costs", "app")[name]["peakBytes"]
        assert found, f"no peak for {name}"
        return int(found)

    jcmd = [peak(JDK_IMAGE) for _ in range(3)]
    jattach: list[int] = []
    benchmark.group = "debug-peak"
    benchmark.pedantic(lambda: jattach.append(peak(JATTACH_IMAGE)), rounds=3)
    with_jcmd, with_jattach = statistics.median(jcmd), statistics.median(jattach)
    benchmark.extra_info.update(
        {
            "jcmd_peak_bytes": with_jcmd,
            "jattach_peak_bytes": with_jattach,
            "jcmd_over_jattach": round(with_jcmd / with_jattach, 1),
        }
    )
    jcmd_mib, jattach_mib = with_jcmd / 2**20, with_jattach / 2**20
    print(f"\ndebug container peak: jcmd {jcmd_mib:.1f} MiB, jattach {jattach_mib:.1f} MiB")
    assert with_jattach < with_jcmd / 10
