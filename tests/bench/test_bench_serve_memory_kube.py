"""Benchmark: peak RSS of `jdebug serve` while it takes and posts a ~50 MB thread dump from a
pod in kubesim, through both Kubernetes paths: `exec` (the output streams back over the exec
websocket) and `ephemeral` (the output is read back from the debug container's log).

Goal ≤ 150 MB on each path, as on the local one (test_bench_slack.py). The JVM is the same
deep-stacks program, packed as an image in a catalog made for this run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from kubesim.kubelet.images import DEFAULT_CATALOG
from tests.bench.deep_stacks import DEEP_ARGS, build_deep_stacks
from tests.bench.goals import assert_goal
from tests.bench.test_bench_slack import PEAK_RSS_GOAL_MB, post_big_dump
from tests.strategies.conftest import RBAC, needs_root, wait_until_all_running

pytestmark = needs_root
DEBUG_IMAGE = "jdebug.local/jdebug-debug:latest"
PODS = """\
apiVersion: v1
kind: Namespace
metadata: {name: jdebug, labels: {pod-security.kubernetes.io/enforce: privileged}}
---
apiVersion: v1
kind: Namespace
metadata: {name: deep}
---
apiVersion: v1
kind: Pod
metadata: {name: deep-jdk, namespace: deep}
spec: {containers: [{name: app, image: "bench.local/deep-stacks:25-jdk"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: deep-jre, namespace: deep}
spec: {containers: [{name: app, image: "bench.local/deep-stacks:25-jre"}]}
"""


def catalog_with_deep_stacks(folder: Path, jar: Path) -> Path:
    """kubesim's own image catalog plus the deep-stacks program on a JDK and on a JRE."""
    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text())
    for kind in ("jdk", "jre"):
        catalog["images"][f"bench.local/deep-stacks:25-{kind}"] = {
            "runtime": {"kind": kind, "version": 25, "path": "/opt/java/openjdk"},
            "user": 0,
            "entrypoint": ["java", "-Xss4m", "-Xmx64m", "-jar", "/opt/app/deep-stacks.jar"],
            "cmd": list(DEEP_ARGS),
            "files": {"/opt/app/deep-stacks.jar": str(jar)},
        }
    path = folder / "images.yaml"
    path.write_text(yaml.safe_dump(catalog))
    return path


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    folder = tmp_path_factory.mktemp("deep")
    _, jar = build_deep_stacks(folder)
    pods = folder / "pods.yaml"
    pods.write_text(PODS)
    with KubeSim(manifests=[pods, RBAC], images=catalog_with_deep_stacks(folder, jar)) as running:
        wait_until_all_running(running)
        yield running


@pytest.mark.parametrize(("path", "pod"), [("exec", "deep-jdk"), ("ephemeral", "deep-jre")])
def test_bench_serve_peak_rss_posting_a_50mb_dump_from_kubernetes(
    benchmark: Any, sim: KubeSim, tmp_path: Path, path: str, pod: str
) -> None:
    env = {
        "JDEBUG_KUBECONFIG": str(sim.kubeconfig()),
        "JDEBUG_STRATEGIES": path,
        "JDEBUG_DEBUG_IMAGE": DEBUG_IMAGE,
    }
    results: list[dict[str, Any]] = []

    def once() -> None:
        results.append(asyncio.run(post_big_dump(f"threaddump pod={pod} ns=deep", tmp_path, env)))

    benchmark.group = f"slack-serve-memory-kube-{path}"
    benchmark.pedantic(once, rounds=1, warmup_rounds=0)
    info = results[-1]
    benchmark.extra_info.update(info)
    print(f"\nserve memory via {path}: {info}")
    assert info["dump_mb"] >= 40  # the whole dump arrived
    assert_goal(benchmark, "peak_rss_mb", info["peak_rss_mb"], PEAK_RSS_GOAL_MB, " MB")
