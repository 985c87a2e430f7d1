"""Fixtures for kubesim tests: one simulator per module, clients for any identity, kubectl."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from kubesim import KubeSim
from tests.support.polling import wait_for

HERE = Path(__file__).parent
MANIFESTS = HERE / "manifests"
SEED = Path("/work/shared/seed")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="kubesim isolates containers with Linux namespaces, which needs root"
)


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    """The project's test world (tests/kubesim/manifests/cluster.yaml), shared by one module."""
    with KubeSim(manifests=[MANIFESTS / "cluster.yaml"]) as running:
        yield running


def core(sim: KubeSim, identity: str = "admin") -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig(identity))))


def api_client(sim: KubeSim, identity: str = "admin") -> client.ApiClient:
    return config.new_client_from_config(str(sim.kubeconfig(identity)))


def kubectl(
    sim: KubeSim,
    *args: str,
    identity: str = "admin",
    check: bool = False,
    timeout: float = 60,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`kubectl` as `identity`, `stdin` fed to it (for `-f -`)."""
    argv = ["kubectl", "--kubeconfig", str(sim.kubeconfig(identity)), *args]
    env = {**os.environ, "KUBECACHEDIR": str(sim.state_dir / "kubecache")}
    result = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=timeout, env=env
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
    return result


def pod_running(api: client.CoreV1Api, name: str, namespace: str = "default") -> Any:
    def check() -> Any:
        pod = api.read_namespaced_pod(name, namespace)
        statuses = pod.status.container_statuses or []
        return pod if statuses and all(s.state.running for s in statuses) else None

    return wait_for(check, what=f"pod {namespace}/{name} running")


def all_running(sim: KubeSim, *names: str) -> KubeSim:
    """`sim` once each named pod in `default` runs: containers start only after their image
    is on the node (kubesim/kubelet/pulling.py), and exec and logs need them running."""
    for name in names:
        pod_running(core(sim), name)
    return sim


def log_contains(
    api: client.CoreV1Api,
    name: str,
    text: str,
    namespace: str = "default",
    container: str | None = None,
) -> str:
    def check() -> str:
        try:
            kwargs = {"container": container} if container else {}
            out: str = api.read_namespaced_pod_log(name, namespace, **kwargs)
        except client.ApiException:
            return ""
        return out if text in out else ""

    return str(wait_for(check, what=f"{text!r} in the log of {name}"))


def exec_stream(
    api: client.CoreV1Api,
    pod: str,
    container: str | None,
    command: list[str],
    namespace: str = "default",
    timeout: float = 60,
) -> Any:
    """A finished `pods/exec` websocket (official client): read its channels, then close it."""
    from kubernetes.stream import stream

    kwargs = {"container": container} if container else {}
    ws = stream(
        api.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        command=command,
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
        **kwargs,
    )
    ws.run_forever(timeout=timeout)
    return ws


def run_exec(
    api: client.CoreV1Api,
    pod: str,
    container: str,
    command: list[str],
    namespace: str = "default",
    timeout: float = 60,
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of a command run through `pods/exec` over websocket."""
    ws = exec_stream(api, pod, container, command, namespace, timeout)
    out, err = ws.read_stdout(), ws.read_stderr()
    code = ws.returncode
    ws.close()
    return int(code), out, err


def add_ephemeral(
    api: client.CoreV1Api, pod: str, container: dict[str, Any], namespace: str = "default"
) -> Any:
    body = {"spec": {"ephemeralContainers": [container]}}
    return api.patch_namespaced_pod_ephemeralcontainers(pod, namespace, body)


def ephemeral_state(
    api: client.CoreV1Api,
    pod: str,
    name: str,
    state: str,
    namespace: str = "default",
    timeout: float = 60,
) -> Any:
    def check() -> Any:
        found = api.read_namespaced_pod(pod, namespace).status.ephemeral_container_statuses or []
        for status in found:
            if status.name == name and getattr(status.state, state):
                return getattr(status.state, state)
        return None

    return wait_for(check, timeout, f"ephemeral container {name} {state}")


# Host-view-free way to find the JVM: scan /proc for a process whose executable is java.
JAVA_PIDS = (
    'for d in /proc/[0-9]*; do case "$(readlink $d/exe)" in */java) echo ${d#/proc/};; esac; done'
)


def raw(
    sim: KubeSim,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    identity: str = "admin",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """(status, decoded JSON or text) for one HTTPS request, bypassing any client library."""
    status, decoded, _ = raw_with_headers(sim, method, path, body, content_type, identity, headers)
    return status, decoded


def raw_with_headers(
    sim: KubeSim,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    identity: str = "admin",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, Message]:
    """`raw`, and the response's headers too (`Warning` may come more than once)."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(sim.url + path, data=data, method=method)
    request.add_header("Content-Type", content_type)
    if identity:
        request.add_header("Authorization", f"Bearer {sim.token(identity)}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    context = ssl.create_default_context(cafile=str(sim.certs.ca_cert))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            status, text, got = response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as exc:
        status, text, got = exc.code, exc.read().decode(), exc.headers
    try:
        return status, json.loads(text), got
    except ValueError:
        return status, text, got
