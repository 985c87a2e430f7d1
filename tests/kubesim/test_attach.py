"""`pods/attach` over the exec websocket protocol, with stdin, for containers and ephemeral
containers created with `stdin: true` (and `stdinOnce`), driven by the real `kubectl attach`
and `kubectl debug -i`, and by the official client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.stream import stream

from kubesim import KubeSim
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

pytestmark = needs_root
BUSYBOX = "jdebug.local/busybox"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(grace_cap=0.5) as running:
        api = core(running)
        for name, command in (("shell", ["sh"]), ("target", ["sleep", "3600"])):
            container: dict[str, Any] = {"name": "c", "image": BUSYBOX, "command": command}
            container["stdin"] = name == "shell"
            api.create_namespaced_pod(
                "default", {"metadata": {"name": name}, "spec": {"containers": [container]}}
            )
            pod_running(api, name)
        yield running


def test_kubectl_attach_feeds_stdin_to_the_container_and_reads_its_output(sim: KubeSim) -> None:
    result = kubectl(sim, "attach", "-i", "shell", stdin="echo attached-$((6*7))\nexit 3\n")
    assert "attached-42" in result.stdout
    # The container's shell ended with the exit: the stream closed with the container.
    api = core(sim)

    def ended() -> client.V1ContainerStateTerminated | None:
        found = api.read_namespaced_pod("shell", "default").status.container_statuses[0]
        terminated = found.last_state.terminated or found.state.terminated
        return terminated if terminated else None

    assert wait_for(ended, what="the attached shell to exit").exit_code == 3


def test_kubectl_debug_i_attaches_to_an_ephemeral_container(sim: KubeSim) -> None:
    result = kubectl(
        sim,
        "debug",
        "-i",
        "target",
        f"--image={BUSYBOX}",
        "--target=c",
        "--",
        "sh",
        stdin="echo debug-$((6*7)); exit\n",
    )
    assert result.returncode == 0, result.stderr
    assert "debug-42" in result.stdout
    spec = core(sim).read_namespaced_pod("target", "default").spec.ephemeral_containers[-1]
    assert spec.stdin is True


def test_stdin_once_closes_the_containers_stdin_when_the_client_does(sim: KubeSim) -> None:
    api = core(sim)
    add_ephemeral(
        api,
        "target",
        {
            "name": "once",
            "image": BUSYBOX,
            "command": ["sh", "-c", "wc -c; echo done"],
            "stdin": True,
            "stdinOnce": True,
            "targetContainerName": "c",
        },
    )
    ephemeral_state(api, "target", "once", "running")
    ws = stream(
        api.connect_get_namespaced_pod_attach,
        "target",
        "default",
        container="once",
        stdin=True,
        stdout=True,
        stderr=True,
        tty=False,
        _preload_content=False,
    )
    ws.write_stdin("12345")
    # v5's close frame for stdin: the only way to say EOF over the websocket.
    ws.sock.send_binary(bytes([255, 0]))
    ws.run_forever(timeout=30)
    out = ws.read_stdout()
    ws.close()
    assert out.split() == ["5", "done"]
    assert ephemeral_state(api, "target", "once", "terminated").exit_code == 0


def test_attach_needs_a_running_container_and_the_websocket_upgrade(sim: KubeSim) -> None:
    status, answer = raw(
        sim, "GET", "/api/v1/namespaces/default/pods/target/attach?container=c&stdout=true"
    )
    assert (status, answer["message"]) == (400, "Upgrade request required")
    status, answer = raw(
        sim, "GET", "/api/v1/namespaces/default/pods/target/attach?container=zz&stdout=true"
    )
    assert (status, answer["message"]) == (400, "container zz is not valid for pod target")
