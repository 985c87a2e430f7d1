"""What a diagnosis costs the node and the pod, as ratios within one run (`make bench`):

- `cold-vs-warm`: a first threaddump on a node that has never pulled the debug image
  `eclipse-temurin:25-jdk` (about 205 MB at kubesim's default 25 MB/s after 0.5 s) against
  the same threaddump once the image is there. Issue 13 removes this cost; here the goal is
  only that it is visible: cold > warm.
(The debug container's peak memory, jcmd's against jdebug-attach's, is measured with the
default debug image in test_bench_footprint.py.)
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator

import pytest

from bot.jvm.agent import AttachTool
from bot.session.run import run_request
from kubesim import KubeSim
from kubesim.kubelet.pulls import PullModel
from tests.strategies.conftest import RBAC, backend_for, needs_root, request, wait_until_all_running

pytestmark = [needs_root, pytest.mark.bench]
JDK_IMAGE = "eclipse-temurin:25-jdk"  # jcmd, no jattach: the bot's default debug image
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


def threaddump(sim: KubeSim, image: str, attach_tool: AttachTool = "auto") -> str:
    """One threaddump through an ephemeral container; the debug container's name."""
    backend = backend_for(sim, debug_image=image, order=("ephemeral",))
    result = asyncio.run(
        run_request(request("threaddump pod=app ns=costs"), backend, attach_tool=attach_tool)
    )
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
