"""kubectl, an independent client, against kubesim: get, describe, logs, exec, auth can-i, debug."""

from __future__ import annotations

import json

from kubesim import KubeSim
from tests.kubesim.conftest import (
    JAVA_PIDS,
    core,
    ephemeral_state,
    kubectl,
    log_contains,
    needs_root,
    pod_running,
)

pytestmark = needs_root


def test_get_pods_shows_every_namespace_running(sim: KubeSim) -> None:
    for ns, name in (("default", "cowweb-sidecar"), ("restricted", "cowweb")):
        pod_running(core(sim), name, ns)
    out = kubectl(sim, "get", "pods", "-A", check=True).stdout
    rows = {tuple(line.split()[:4]) for line in out.splitlines()[1:]}
    assert ("default", "cowweb-sidecar", "2/2", "Running") in rows
    assert ("restricted", "cowweb", "1/1", "Running") in rows


def test_get_pods_label_selector(sim: KubeSim) -> None:
    out = kubectl(sim, "get", "pods", "-l", "tier=web,app!=cowweb", "-o", "name", check=True).stdout
    assert out.split() == ["pod/cowweb-sidecar"]


def test_describe_pod_lists_containers_and_state(sim: KubeSim) -> None:
    pod_running(core(sim), "cowweb-sidecar")
    out = kubectl(sim, "describe", "pod", "cowweb-sidecar", check=True).stdout
    assert "openjdk:11-jdk-slim" in out and "State:          Running" in out
    assert "SYS_PTRACE" not in out or "jdebug:" in out


def test_logs_prints_the_app_output(sim: KubeSim) -> None:
    log_contains(core(sim), "cowweb-uid1000", "listening")
    out = kubectl(sim, "logs", "cowweb-uid1000", check=True).stdout
    assert out.startswith("cowweb listening on port ")


def test_exec_runs_as_the_container_user_in_a_jre_without_jdk_tools(sim: KubeSim) -> None:
    pod_running(core(sim), "cowweb-uid1000")
    out = kubectl(
        sim,
        "exec",
        "cowweb-uid1000",
        "--",
        "sh",
        "-c",
        "id -u; id -g; for t in jcmd jps jstack jattach; do command -v $t; done; echo end",
    ).stdout
    assert out.split() == ["1000", "1000", "end"]


def test_exec_jcmd_in_a_jdk_sidecar(sim: KubeSim) -> None:
    pod_running(core(sim), "cowweb-sidecar")
    script = f"jcmd $({JAVA_PIDS}) VM.flags"
    out = kubectl(
        sim, "exec", "cowweb-sidecar", "-c", "jdebug", "--", "sh", "-c", script, check=True
    ).stdout
    assert "-XX:MaxHeapSize=67108864" in out


def test_exec_reports_the_exit_code(sim: KubeSim) -> None:
    result = kubectl(sim, "exec", "cowweb-uid1000", "--", "sh", "-c", "echo out; exit 3")
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert "command terminated with exit code 3" in result.stderr


def test_auth_can_i_follows_rbac(sim: KubeSim) -> None:
    args = ("auth", "can-i", "patch", "pods", "--subresource=ephemeralcontainers")
    assert kubectl(sim, *args, identity="default/jdebug").stdout.strip() == "yes"
    assert kubectl(sim, *args, identity="default/viewer").stdout.strip() == "no"
    assert (
        kubectl(
            sim, "auth", "can-i", "list", "pods", "-n", "baseline", identity="default/viewer"
        ).stdout.strip()
        == "yes"
    )


def test_debug_profile_general_adds_sys_ptrace_ephemeral_container(sim: KubeSim) -> None:
    pod_running(core(sim), "cowweb-uid1000")
    result = kubectl(
        sim,
        "debug",
        "cowweb-uid1000",
        "--image=eclipse-temurin:25-jdk",
        "--target=app",
        "--profile=general",
        "-c",
        "dbg-general",
        "--",
        "jps",
        check=True,
    )
    assert 'Targeting container "app"' in result.stdout + result.stderr
    pod = json.loads(kubectl(sim, "get", "pod", "cowweb-uid1000", "-o", "json").stdout)
    added = next(c for c in pod["spec"]["ephemeralContainers"] if c["name"] == "dbg-general")
    assert added["securityContext"]["capabilities"]["add"] == ["SYS_PTRACE"]
    assert added["targetContainerName"] == "app"
    ephemeral_state(core(sim), "cowweb-uid1000", "dbg-general", "terminated")


def test_debug_profile_restricted_is_admitted_in_restricted_namespace(sim: KubeSim) -> None:
    pod_running(core(sim), "cowweb", "restricted")
    kubectl(
        sim,
        "debug",
        "-n",
        "restricted",
        "cowweb",
        "--image=eclipse-temurin:17-jdk",
        "--target=app",
        "--profile=restricted",
        "-c",
        "dbg-restricted",
        "--",
        "id",
        "-u",
        check=True,
    )
    ephemeral_state(core(sim), "cowweb", "dbg-restricted", "terminated", "restricted")
    logs = kubectl(sim, "logs", "-n", "restricted", "cowweb", "-c", "dbg-restricted", check=True)
    assert logs.stdout.strip() == "1000"  # the pod's runAsUser applies to the debug container


def test_debug_profile_general_is_rejected_in_baseline_namespace(sim: KubeSim) -> None:
    result = kubectl(
        sim,
        "debug",
        "-n",
        "baseline",
        "cowweb",
        "--image=eclipse-temurin:21-jdk",
        "--target=app",
        "--profile=general",
        "-c",
        "dbg-ptrace",
        "--",
        "jps",
    )
    assert result.returncode != 0
    assert (
        'Error from server (Forbidden): pods "cowweb" is forbidden: violates PodSecurity '
        '"baseline:latest": non-default capabilities (container "dbg-ptrace" must not include '
        '"SYS_PTRACE" in securityContext.capabilities.add)'
    ) in result.stderr
