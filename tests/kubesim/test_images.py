"""Images carry only what their catalog entry says: a busybox image is busybox, a distroless
JRE has no shell, glibc tools come with their libraries, scratch has nothing, and a missing
binary is the runtime's failure (containerd's and runc's words), seen through kubectl and
the official client."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from kubesim.kubelet.images import REPO
from tests.kubesim.conftest import (
    core,
    exec_stream,
    kubectl,
    log_contains,
    needs_root,
    pod_running,
    wait_for,
)

pytestmark = needs_root
HOST_LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")
# containerd's exec failure (internal/cri/server/container_exec.go) around runc's
# (libcontainer/setns_init_linux.go), in the kubelet's and then the 1.30+ apiserver's
# InternalError (remotecommand/exec.go ServeExec; util/proxy/streamtranslator.go).
EXEC_NOT_FOUND = re.compile(
    r"^Internal error occurred: Internal error occurred: error executing command in container: "
    r'failed to exec in container: failed to start exec "[0-9a-f]{64}": OCI runtime exec '
    r"failed: exec failed: unable to start container process: exec: \"sh\": executable file "
    r"not found in \$PATH: unknown$"
)


def pod(name: str, image: str, command: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": image}
    if command is not None:
        container["command"] = command
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(grace_cap=0.5) as running:
        api = core(running)
        for body in (
            pod("busybox", "jdebug.local/busybox", ["sleep", "3600"]),
            pod("minimal", "jdebug.local/jdebug-debug:minimal", ["sleep", "3600"]),
            pod("distroless", "jdebug.local/cowweb:21-distroless"),
            pod("debian", "jdebug.local/cowweb:21"),
        ):
            api.create_namespaced_pod("default", body)
        for name in ("busybox", "minimal", "distroless", "debian"):
            pod_running(api, name)
        yield running


def sh(sim: KubeSim, name: str, script: str) -> str:
    result = kubectl(sim, "exec", name, "--", "sh", "-c", script)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_busybox_image_holds_busybox_and_nothing_of_the_host(sim: KubeSim) -> None:
    seen = sh(
        sim,
        "busybox",
        "readlink /bin/sh; ls /usr/bin 2>&1; cat /etc/passwd; "
        f"for f in {HOST_LIBC} /usr/bin/setpriv /usr/bin/jattach /work; do "
        "[ -e $f ] && echo $f; done; true",
    )
    lines = seen.splitlines()
    assert lines[0] == "busybox"
    assert lines[1] == "ls: /usr/bin: No such file or directory"
    # docker-library/busybox's own passwd: root and nobody only
    assert lines[2:] == [
        "root:x:0:0:root:/root:/bin/sh",
        "nobody:x:65534:65534:nobody:/home:/bin/false",
    ]


def test_minimal_debug_image_runs_glibc_tools_because_it_ships_their_libraries(
    sim: KubeSim,
) -> None:
    seen = sh(
        sim,
        "minimal",
        "readlink /bin/sh; readlink /bin/timeout; jattach 2>&1 | head -1; "
        "/usr/bin/setpriv --reuid=1000 --regid=1000 --clear-groups id -u; "
        f"[ -e {HOST_LIBC} ] && echo libc; [ -e /bin/bash ] || echo no-bash; "
        # Debian's busybox-static prefers its own applets over PATH: by name, `setpriv` is
        # busybox's, which has no --reuid (an image built FROM busybox would find util-linux's).
        "setpriv --reuid=1000 id 2>&1 | head -1",
    )
    assert seen.splitlines() == [
        "busybox",
        "busybox",
        "jattach 2.1 built on Jul 25 2022",
        "1000",
        "libc",
        "no-bash",
        "setpriv: unrecognized option '--reuid=1000'",
    ]


def test_distroless_jre_runs_java_and_has_no_shell(sim: KubeSim) -> None:
    api = core(sim)
    assert "cowweb listening on port" in log_contains(api, "distroless", "listening")
    result = kubectl(sim, "exec", "distroless", "--", "sh", "-c", "true")
    assert result.returncode == 1
    assert EXEC_NOT_FOUND.match(result.stderr.removeprefix("error: ").strip()), result.stderr


def exec_status(sim: KubeSim, name: str, command: list[str]) -> dict[str, Any]:
    """The Status on the exec stream's channel 3, read with the official client."""
    ws = exec_stream(core(sim), name, None, command)
    status: dict[str, Any] = json.loads(ws.read_channel(3))
    ws.close()
    return status


def test_exec_of_a_missing_binary_is_a_failure_status_without_an_exit_code(sim: KubeSim) -> None:
    status = exec_status(sim, "distroless", ["sh"])
    assert status["status"] == "Failure" and status["reason"] == "InternalError"
    assert status["code"] == 500
    assert EXEC_NOT_FOUND.match(status["message"]), status["message"]
    # No ExitCode cause: the command never ran (kubesim used to answer NonZeroExitCode 127).
    assert [c.get("reason") for c in status["details"]["causes"]] == [None]


def test_debian_based_image_sees_the_host_userland_but_no_host_jdk(sim: KubeSim) -> None:
    seen = sh(
        sim,
        "debian",
        "for t in awk setpriv timeout; do command -v $t; done; "
        "for f in /usr/lib/jvm /usr/bin/jattach /work; do "
        "[ -e $f ] && echo found $f; done; ls -A /usr/local/bin; command -v java",
    )
    # The host's /usr/local (kubectl, docker...) is not the image's: that is empty.
    assert seen.split() == [
        "/usr/bin/awk",
        "/usr/bin/setpriv",
        "/usr/bin/timeout",
        "/opt/java/openjdk/bin/java",
    ]


def test_status_reports_the_repository_digest_and_a_digest_reference_runs(sim: KubeSim) -> None:
    api = core(sim)
    status = api.read_namespaced_pod("debian", "default").status.container_statuses[0]
    assert status.image == "jdebug.local/cowweb:21"
    assert re.fullmatch(r"jdebug\.local/cowweb@sha256:[0-9a-f]{64}", status.image_id)
    body = pod("by-digest", status.image_id)
    body["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    api.create_namespaced_pod("default", body)
    pod_running(api, "by-digest")
    events = api.list_namespaced_event(
        "default", field_selector="involvedObject.name=by-digest,reason=Pulled"
    ).items
    assert [e.message for e in events] == [
        f'Container image "{status.image_id}" already present on machine'
    ]


def catalog(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "images.yaml"
    path.write_text(text)
    return path


def test_a_static_binary_is_one_catalog_line_and_scratch_has_nothing_else(
    tmp_path: Path,
) -> None:
    images = catalog(
        tmp_path,
        "images:\n"
        "  local/static:1:\n"
        "    base: scratch\n"
        f"    files: {{/bin/init: {REPO}/build/kubesim/kubesim-init}}\n"
        "    size: auto\n"
        "  local/empty:1: {base: scratch, cmd: [/bin/sh], size: auto}\n",
    )
    with KubeSim(images=images) as sim:
        api = core(sim)
        # kubesim-init, with no command after --, says what it needs and exits 2.
        api.create_namespaced_pod(
            "default", pod("static", "local/static:1", ["/bin/init"], restartPolicy="Never")
        )
        api.create_namespaced_pod("default", pod("empty", "local/empty:1", restartPolicy="Never"))

        def terminated(name: str) -> client.V1ContainerStateTerminated | None:
            found = api.read_namespaced_pod(name, "default").status.container_statuses
            return found[0].state.terminated if found else None

        static = wait_for(lambda: terminated("static"), what="the static binary to run")
        assert static.exit_code == 2
        assert "--uid, --gid and a command after -- are required" in api.read_namespaced_pod_log(
            "static", "default"
        )
        empty = wait_for(lambda: terminated("empty"), what="the empty image to fail")
        # containerd's CRI (container_start.go) and runc's start error, exit code 128.
        assert (empty.reason, empty.exit_code) == ("StartError", 128)
        assert empty.message == (
            "failed to create containerd task: failed to create shim task: OCI runtime create "
            'failed: runc create failed: unable to start container process: exec: "/bin/sh": '
            "stat /bin/sh: no such file or directory: unknown"
        )


def test_before_1_30_the_exec_failure_is_wrapped_once() -> None:
    # 1.30 put the websocket stream translator in front of the kubelet's status, which wraps
    # it in a second InternalError (staging/src/k8s.io/apiserver/pkg/util/proxy/).
    # (kubectl itself only speaks SPDY to a 1.29 server; the official client's websocket is it.)
    with KubeSim(version="1.29") as sim:
        api = core(sim)
        api.create_namespaced_pod("default", pod("distroless", "jdebug.local/cowweb:21-distroless"))
        pod_running(api, "distroless")
        status = exec_status(sim, "distroless", ["sh"])
    once = EXEC_NOT_FOUND.pattern.replace("Internal error occurred: Internal", "Internal", 1)
    assert re.match(once, status["message"]), status["message"]
