"""Probes run as the kubelet runs them: readiness gates the pod's Ready condition (exec and
httpGet), a failing liveness probe restarts the container with the kubelet's Events."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from tests.kubesim.conftest import core, kubectl, needs_root, pod_running, wait_for

pytestmark = needs_root
BUSYBOX = "jdebug.local/busybox"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(grace_cap=0.5) as running:
        yield running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pod(name: str, command: str, **container: Any) -> dict[str, Any]:
    spec = {"name": "c", "image": BUSYBOX, "command": ["sh", "-c", command], **container}
    return {"metadata": {"name": name}, "spec": {"containers": [spec]}}


def ready(api: client.CoreV1Api, name: str) -> bool:
    conditions = api.read_namespaced_pod(name, "default").status.conditions or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def messages(api: client.CoreV1Api, name: str, reason: str) -> list[str]:
    found = api.list_namespaced_event("default", field_selector=f"involvedObject.name={name}")
    return [e.message for e in found.items if e.reason == reason]


def test_an_exec_readiness_probe_keeps_the_pod_unready_until_it_passes(sim: KubeSim) -> None:
    api = core(sim)
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
    api.create_namespaced_pod("default", pod("gated", "sleep 3600", readinessProbe=probe))
    pod_running(api, "gated")
    wait_for(lambda: messages(api, "gated", "Unhealthy"), what="a failed readiness probe")
    assert not ready(api, "gated")
    assert messages(api, "gated", "Unhealthy") == [
        "Readiness probe failed: cat: can't open '/tmp/ready': No such file or directory\n"
    ]
    shown = kubectl(sim, "get", "pod", "gated", check=True).stdout.splitlines()[1].split()
    assert shown[1:3] == ["0/1", "Running"]
    kubectl(sim, "exec", "gated", "--", "touch", "/tmp/ready", check=True)
    wait_for(lambda: ready(api, "gated"), what="Ready once the probe passes")


def test_an_http_readiness_probe_follows_the_status_code(sim: KubeSim) -> None:
    api = core(sim)
    port = free_port()
    serve = f"mkdir -p /www && exec httpd -f -p 127.0.0.1:{port} -h /www"
    probe = {"httpGet": {"path": "/readyz", "port": port}, "periodSeconds": 1}
    api.create_namespaced_pod("default", pod("web", serve, readinessProbe=probe))
    pod_running(api, "web")
    # pkg/probe/http/http.go; before httpd listens the probe is refused (Go's dial error).
    answered = "Readiness probe failed: HTTP probe failed with statuscode: 404"
    wait_for(lambda: answered in messages(api, "web", "Unhealthy"), what="a 404 from /readyz")
    refused = (
        f'Readiness probe failed: Get "http://127.0.0.1:{port}/readyz": dial tcp '
        f"127.0.0.1:{port}: connect: connection refused"
    )
    assert set(messages(api, "web", "Unhealthy")) <= {answered, refused}
    assert not ready(api, "web")
    kubectl(sim, "exec", "web", "--", "sh", "-c", "echo ok > /www/readyz", check=True)
    wait_for(lambda: ready(api, "web"), what="Ready once /readyz answers 200")


def test_a_failing_liveness_probe_restarts_the_container(sim: KubeSim) -> None:
    api = core(sim)
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2}
    api.create_namespaced_pod("default", pod("sick", "sleep 3600", livenessProbe=probe))

    def restarted() -> client.V1ContainerStatus | None:
        found = api.read_namespaced_pod("sick", "default").status.container_statuses or []
        return found[0] if found and found[0].restart_count >= 1 else None

    status = wait_for(restarted, what="a restart after the liveness probe failed")
    last = status.last_state.terminated
    # sh as PID 1 ignores the runtime's SIGTERM, so the grace period ends in SIGKILL: 137.
    assert (last.reason, last.exit_code) == ("Error", 137)
    assert messages(api, "sick", "Killing") == [
        "Container c failed liveness probe, will be restarted"
    ]
    assert messages(api, "sick", "Unhealthy") == ["Liveness probe failed: "]
