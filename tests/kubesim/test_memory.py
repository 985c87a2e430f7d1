"""Memory is accounted per container, as the kubelet and runc set it up on cgroup v1: peaks
(debug containers' included, after they ended), limits that OOM-kill with the real
OOMKilled status, the pod's limit that a debug container counts against, and `kubectl top`."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from kubesim.kubelet import cgroups
from tests.kubesim.conftest import (
    add_ephemeral,
    core,
    ephemeral_state,
    kubectl,
    needs_root,
    pod_running,
    raw,
    wait_for,
)

pytestmark = [
    needs_root,
    pytest.mark.skipif(
        cgroups.memory_root() is None, reason="needs the cgroup v1 memory controller"
    ),
]
BUSYBOX = "jdebug.local/busybox"
MiB = 1 << 20
# busybox awk doubling a string: 2**n bytes, plus the copy each doubling makes.
GROW = 'BEGIN { s = "x"; for (i = 0; i < {n}; i++) s = s s; print length(s) }'


def grow(n: int) -> list[str]:
    return ["awk", GROW.replace("{n}", str(n))]


def pod(name: str, command: list[str], limit: str | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": BUSYBOX, "command": command}
    if limit:
        wanted = {"memory": limit, "cpu": "100m"}
        container["resources"] = {"limits": wanted, "requests": wanted}
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(grace_cap=0.5) as running:
        yield running


def debug(api: client.CoreV1Api, pod: str, name: str, command: list[str]) -> Any:
    """Add a busybox ephemeral container to `pod`; its state once it has ended."""
    add_ephemeral(
        api, pod, {"name": name, "image": BUSYBOX, "command": command, "targetContainerName": "c"}
    )
    return ephemeral_state(api, pod, name, "terminated")


def terminated(api: client.CoreV1Api, name: str) -> client.V1ContainerStateTerminated | None:
    found = api.read_namespaced_pod(name, "default").status.container_statuses or []
    return found[0].state.terminated if found else None


def test_a_container_above_its_limit_is_oom_killed_with_the_real_status(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod("default", pod("hungry", grow(30), "32Mi", restartPolicy="Never"))
    ended = wait_for(lambda: terminated(api, "hungry"), what="the OOM kill")
    assert (ended.reason, ended.exit_code) == ("OOMKilled", 137)
    (memory,) = sim.memory("default", "hungry").values()
    assert memory["limitBytes"] == 32 * MiB and memory["oomKills"] == 1
    # It grew until the limit stopped it.
    assert 16 * MiB < memory["peakBytes"] <= 32 * MiB
    shown = kubectl(sim, "get", "pod", "hungry", "-o", "jsonpath={.status.qosClass}", check=True)
    assert shown.stdout == "Guaranteed"


def test_a_debug_containers_peak_is_readable_after_it_ended(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod("default", pod("target", ["sleep", "3600"]))
    pod_running(api, "target")
    done = debug(api, "target", "dbg", grow(24))
    assert (done.reason, done.exit_code) == ("Completed", 0)
    # 16 MiB string, and the 8 MiB one it was doubled from: at least 24 MiB at the peak.
    status, answer = raw(sim, "GET", "/kubesim/v1/namespaces/default/pods/target/memory")
    assert status == 200
    by_name = {c["name"]: c for c in answer["containers"]}
    assert by_name["dbg"]["peakBytes"] >= 24 * MiB and not by_name["dbg"]["running"]
    assert by_name["c"]["peakBytes"] < 4 * MiB and by_name["c"]["running"]
    assert sim.memory("default", "target")["dbg"]["peakBytes"] == by_name["dbg"]["peakBytes"]


def test_a_debug_container_counts_against_the_pods_memory_limit(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod("default", pod("tight", ["sleep", "3600"], "48Mi"))
    pod_running(api, "tight")
    # The ephemeral container has no limit of its own; the pod's cgroup (the sum of its
    # containers' limits, as the kubelet sets it) still holds it.
    done = debug(api, "tight", "big", grow(27))
    assert (done.reason, done.exit_code) == ("OOMKilled", 137)
    assert api.read_namespaced_pod("tight", "default").status.container_statuses[0].state.running


def test_kubectl_top_pod_reads_the_metrics_api(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod(
        "default", pod("steady", ["sh", "-c", f"{shlex.join(grow(22))}; sleep 3600"])
    )
    pod_running(api, "steady")
    top = kubectl(sim, "top", "pod", "steady", "--containers", check=True).stdout.splitlines()
    assert top[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    name, container, cpu, memory = top[1].split()
    assert (name, container) == ("steady", "c") and cpu.endswith("m") and memory.endswith("Mi")
    status, metrics = raw(sim, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/steady")
    assert status == 200 and metrics["kind"] == "PodMetrics"
    assert [c["name"] for c in metrics["containers"]] == ["c"]
    status, missing = raw(sim, "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope")
    assert (status, missing["message"]) == (
        404,
        'podmetrics.metrics.k8s.io "default/nope" not found',
    )
