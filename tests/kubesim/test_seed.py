"""The problem as first reported (../shared/seed), reproduced on kubesim, and what fixes it.

The seed's manifests load unmodified; an ephemeral JDK 17 container as root without SYS_PTRACE
sees no JVM with `jps`; the same kind of container running as the JVM's uid attaches with JDK 25.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesim import KubeSim
from kubesim.manifests import read_manifests
from tests.kubesim.conftest import (
    JAVA_PIDS,
    SEED,
    add_ephemeral,
    core,
    ephemeral_state,
    log_contains,
    needs_root,
    pod_running,
    run_exec,
)

pytestmark = needs_root


def test_seed_manifests_load_unmodified_and_run(tmp_path: Path) -> None:
    seed = [SEED / "cowweb.yaml"]
    assert [d["kind"] for _, d in read_manifests(seed)] == ["Pod"]
    with KubeSim(manifests=seed) as sim:
        api = core(sim)
        pod_running(api, "cowweb")
        assert "cowweb listening on port" in log_contains(api, "cowweb", "listening")
    with KubeSim(manifests=[SEED / "cowweb-sidecar.yaml"]) as sim:
        api = core(sim)
        pod = pod_running(api, "cowweb")
        assert [c.name for c in pod.status.container_statuses] == ["cowweb", "jdebug"]


def test_root_ephemeral_jdk17_jps_lists_only_itself(sim: KubeSim) -> None:
    api = core(sim)
    pod_running(api, "cowweb")
    add_ephemeral(
        api,
        "cowweb",
        {
            "name": "jdebug17",
            "image": "eclipse-temurin:17-jdk",
            "command": ["jps"],
            "targetContainerName": "cowweb",
        },
    )
    done = ephemeral_state(api, "cowweb", "jdebug17", "terminated")
    assert done.exit_code == 0
    lines = api.read_namespaced_pod_log("cowweb", "default", container="jdebug17").split()
    assert len(lines) == 2 and lines[1] == "Jps", lines


def test_ephemeral_as_jvm_uid_jdk25_jcmd_reads_vm_flags(sim: KubeSim) -> None:
    api = core(sim)
    pod_running(api, "cowweb-uid1000")
    add_ephemeral(
        api,
        "cowweb-uid1000",
        {
            "name": "jdebug25",
            "image": "eclipse-temurin:25-jdk",
            "targetContainerName": "app",
            "command": ["jcmd", "1", "VM.flags"],
            "securityContext": {
                "runAsUser": 1000,
                "runAsGroup": 1000,
                "runAsNonRoot": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
            },
        },
    )
    done = ephemeral_state(api, "cowweb-uid1000", "jdebug25", "terminated")
    out = api.read_namespaced_pod_log("cowweb-uid1000", "default", container="jdebug25")
    assert done.exit_code == 0, out
    assert "-XX:MaxHeapSize=67108864" in out and "-XX:+UseSerialGC" in out


def test_ephemeral_as_other_uid_cannot_attach(sim: KubeSim) -> None:
    api = core(sim)
    pod_running(api, "cowweb-uid1000")
    add_ephemeral(
        api,
        "cowweb-uid1000",
        {
            "name": "wronguid",
            "image": "eclipse-temurin:25-jdk",
            "targetContainerName": "app",
            "command": ["jcmd", "1", "VM.flags"],
            "securityContext": {
                "runAsUser": 2000,
                "runAsGroup": 2000,
                "capabilities": {"drop": ["ALL"]},
            },
        },
    )
    done = ephemeral_state(api, "cowweb-uid1000", "wronguid", "terminated")
    assert done.exit_code != 0


def test_sidecar_with_sys_ptrace_reads_vm_flags(sim: KubeSim) -> None:
    api = core(sim)
    pod_running(api, "cowweb-sidecar")
    code, out, _ = run_exec(api, "cowweb-sidecar", "jdebug", ["sh", "-c", JAVA_PIDS])
    assert code == 0 and out.strip().isdigit(), out
    code, flags, err = run_exec(api, "cowweb-sidecar", "jdebug", ["jcmd", out.strip(), "VM.flags"])
    assert code == 0, (flags, err)
    assert "-XX:MaxHeapSize=67108864" in flags


@pytest.mark.parametrize("container", ["jdebug"])
def test_sidecar_sees_the_app_jvm_through_shared_pid_namespace(
    sim: KubeSim, container: str
) -> None:
    api = core(sim)
    pod_running(api, "cowweb-sidecar")
    code, out, _ = run_exec(
        api, "cowweb-sidecar", container, ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]
    )
    assert code == 0 and out.startswith("sleep infinity")
