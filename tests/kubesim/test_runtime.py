"""Containers are real isolated processes: capabilities like containerd, uid/gid precedence,
private /tmp, PID namespaces, and images that carry only what their catalog entry says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubesim import KubeSim
from kubesim.kubelet.runtime import DEFAULT_CAPS
from tests.kubesim.conftest import core, needs_root, pod_running, run_exec

pytestmark = needs_root
# Capability names in kernel bit order (include/uapi/linux/capability.h).
CAP_ORDER = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
]
CONTAINERS: dict[str, dict[str, Any]] = {
    "default-root": {},
    "ptrace": {"capabilities": {"add": ["SYS_PTRACE"], "drop": ["NET_RAW"]}},
    "drop-all": {"capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False},
    "non-root": {"runAsUser": 1000, "capabilities": {"add": ["SYS_PTRACE"]}},
    "privileged": {"privileged": True},
}


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(grace_cap=0.5) as running:
        api = core(running)
        api.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": "caps"},
                "spec": {
                    "securityContext": {"runAsGroup": 3000},
                    "containers": [
                        {
                            "name": n,
                            "image": "eclipse-temurin:17-jre",
                            "command": ["sleep", "600"],
                            "securityContext": sc,
                        }
                        for n, sc in CONTAINERS.items()
                    ],
                },
            },
        )
        api.create_namespaced_pod(
            "default",
            {
                "metadata": {"name": "hostpid"},
                "spec": {
                    "hostPID": True,
                    "containers": [
                        {
                            "name": "c",
                            "image": "jdebug.local/jdebug-debug",
                            "command": ["sleep", "600"],
                        }
                    ],
                },
            },
        )
        pod_running(api, "caps")
        pod_running(api, "hostpid")
        yield running


def status_field(sim: KubeSim, container: str, key: str, pod: str = "caps") -> str:
    _, out, _ = run_exec(core(sim), pod, container, ["grep", f"^{key}:", "/proc/self/status"])
    return out.split(":", 1)[1].strip()


def cap_names(hex_mask: str) -> set[str]:
    value = int(hex_mask, 16)
    return {name for bit, name in enumerate(CAP_ORDER) if value >> bit & 1}


def test_root_gets_containerds_default_capabilities(sim: KubeSim) -> None:
    assert cap_names(status_field(sim, "default-root", "CapEff")) == set(DEFAULT_CAPS)
    assert cap_names(status_field(sim, "default-root", "CapBnd")) == set(DEFAULT_CAPS)


def test_add_and_drop_change_the_set(sim: KubeSim) -> None:
    assert cap_names(status_field(sim, "ptrace", "CapEff")) == (
        set(DEFAULT_CAPS) | {"sys_ptrace"}
    ) - {"net_raw"}


def test_drop_all_and_no_privilege_escalation(sim: KubeSim) -> None:
    assert status_field(sim, "drop-all", "CapBnd") == "0000000000000000"
    assert status_field(sim, "drop-all", "NoNewPrivs") == "1"
    assert status_field(sim, "default-root", "NoNewPrivs") == "0"


def test_non_root_has_no_effective_capabilities_and_takes_pod_group(sim: KubeSim) -> None:
    assert status_field(sim, "non-root", "CapEff") == "0000000000000000"
    assert status_field(sim, "non-root", "Uid").split()[:2] == ["1000", "1000"]
    assert status_field(sim, "non-root", "Gid").split()[0] == "3000"
    assert status_field(sim, "non-root", "Groups") == ""


def test_privileged_gets_every_capability(sim: KubeSim) -> None:
    with open("/proc/self/status") as status:  # everything this host allows, as a runtime would
        bounding = next(line for line in status if line.startswith("CapBnd:")).split()[1]
    assert cap_names(status_field(sim, "privileged", "CapEff")) == cap_names(bounding)


def test_each_container_has_its_own_pid_namespace_and_tmp(sim: KubeSim) -> None:
    api = core(sim)
    code, out, _ = run_exec(
        api, "caps", "ptrace", ["sh", "-c", "cat /proc/1/comm; echo x > /tmp/mine; ls /tmp"]
    )
    assert code == 0 and out.split() == ["sleep", "mine"]
    _, other, _ = run_exec(api, "caps", "drop-all", ["ls", "-A", "/tmp"])
    assert other == ""


def test_jre_image_hides_jdk_tools_and_host_jdks(sim: KubeSim) -> None:
    script = (
        "command -v java; for t in jcmd jps jstack jinfo jmap jstat jattach; do command -v $t; done; "  # noqa: E501
        "for d in /usr/lib/jvm /root/.cache/jdebug /work; do [ -e $d ] && echo $d; done; "
        "java -version 2>&1 | head -1"
    )
    _, out, _ = run_exec(core(sim), "caps", "default-root", ["sh", "-c", script])
    lines = out.splitlines()
    assert lines[0] == "/opt/java/openjdk/bin/java"
    # the host's JDKs, the jdk cache and the host's other folders are not in the image, and
    # no JDK tool is on PATH
    assert '"17.' in lines[1] and len(lines) == 2, lines


def test_host_pid_sees_host_processes_and_debug_image_has_jattach(sim: KubeSim) -> None:
    import os

    _, out, _ = run_exec(
        core(sim),
        "hostpid",
        "c",
        ["sh", "-c", f"test -d /proc/{os.getpid()} && command -v jattach && command -v jcmd"],
    )
    assert out.split() == ["/usr/bin/jattach", "/opt/java/openjdk/bin/jcmd"]
