"""The Kubernetes strategies on kubesim with real JVMs, through the session and `jdebug run`:
the seed's pods, a JDK app image, a non-root JVM under PodSecurity restricted, every JVM
version, and the failures (ambiguous targets, missing rights, unpullable images)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.kube.errors import KubeForbidden
from bot.model.errors import AmbiguousTarget, StrategyUnavailable, TargetNotFound
from bot.session.run import run_request
from tests.strategies.conftest import BOT, REPO, backend_for, needs_root, request

pytestmark = needs_root


def ephemeral_containers(sim, namespace: str, pod: str) -> tuple[list, list]:
    from kubernetes import client, config

    api = client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))
    found = api.read_namespaced_pod(pod, namespace)
    return (found.spec.ephemeral_containers or []), (
        found.status.ephemeral_container_statuses or []
    )


async def test_seed_cowweb_jps_lists_its_jvm_by_exec_and_adds_nothing_to_the_pod(sim):
    """Listing JVMs reads /proc: the JRE image's shell is enough, no attach tool needed."""
    before, _ = ephemeral_containers(sim, "apps", "cowweb")
    result = await run_request(request("jps pod=cowweb ns=apps"), backend_for(sim))
    assert result.raw.strategy == "exec"
    assert "cowweb.jar" in result.analysis.headline
    assert ephemeral_containers(sim, "apps", "cowweb")[0] == before
    assert result.cleanup == "nothing added to the pod"


@pytest.mark.parametrize("tool", ["flags", "threaddump"])
async def test_seed_cowweb_root_jre11_works_by_ephemeral_without_sys_ptrace(sim, tool):
    before, _ = ephemeral_containers(sim, "apps", "cowweb")
    result = await run_request(request(f"{tool} pod=cowweb ns=apps"), backend_for(sim))
    assert result.raw.strategy == "ephemeral"
    assert result.raw.steps and result.raw.steps[0].text.strip()
    if tool == "flags":
        assert "-XX:MaxHeapSize=67108864" in result.raw.steps[0].text
    specs, statuses = ephemeral_containers(sim, "apps", "cowweb")
    added = specs[len(before) :]
    assert len(added) == 1 and added[0].name.startswith("jdebug-")
    caps = added[0].security_context.capabilities
    assert caps is None or "SYS_PTRACE" not in (caps.add or [])
    status = next(s for s in statuses if s.name == added[0].name)
    assert status.state.terminated is not None and status.state.terminated.exit_code == 0
    assert result.cleanup == f"debug container {added[0].name} ended"


async def test_seed_sidecar_pod_works_by_sidecar(sim):
    result = await run_request(request("flags pod=cowweb ns=legacy"), backend_for(sim))
    assert result.raw.strategy == "sidecar"
    assert "-XX:MaxHeapSize=67108864" in result.raw.steps[0].text
    specs, _ = ephemeral_containers(sim, "legacy", "cowweb")
    assert specs == []


async def test_app_image_with_a_jdk_works_by_exec_and_adds_nothing(sim):
    result = await run_request(request("version pod=cowweb-jdk ns=apps"), backend_for(sim))
    assert result.raw.strategy == "exec"
    assert "JDK 25" in result.raw.steps[0].text
    specs, _ = ephemeral_containers(sim, "apps", "cowweb-jdk")
    assert specs == []


async def test_uid_1000_jvm_in_restricted_namespace_works_as_its_uid(sim):
    result = await run_request(request("threaddump pod=cowweb-1000 ns=locked"), backend_for(sim))
    assert result.raw.strategy == "ephemeral"
    assert '"barn-door-holder"' in result.raw.steps[0].text
    specs, _ = ephemeral_containers(sim, "locked", "cowweb-1000")
    sc = specs[-1].security_context
    assert (sc.run_as_user, sc.run_as_group, sc.run_as_non_root) == (1000, 1000, True)
    assert sc.capabilities.drop == ["ALL"] and not sc.capabilities.add
    assert sc.allow_privilege_escalation is False
    assert sc.seccomp_profile.type == "RuntimeDefault"


@pytest.mark.parametrize("version", [11, 17, 21, 25])
async def test_every_jvm_version_is_reached_by_ephemeral(sim, version):
    result = await run_request(request(f"version pod=jvm-{version} ns=apps"), backend_for(sim))
    assert result.raw.strategy == "ephemeral"
    assert f"JDK {version}" in result.raw.steps[0].text


async def test_deadlock_in_a_pod_is_named(sim):
    result = await run_request(request("threaddump pod=jvm-25 ns=apps"), backend_for(sim))
    summary = result.analysis.headline + " ".join(result.analysis.findings)
    assert "worker-3" in summary and "worker-4" in summary


async def test_two_jvms_in_one_pod_are_listed_and_nothing_runs(sim):
    with pytest.raises(AmbiguousTarget) as excinfo:
        await run_request(request("threaddump pod=two-jvms ns=apps"), backend_for(sim))
    assert len(excinfo.value.choices) == 2


async def test_pod_prefix_matching_several_pods_lists_them(sim):
    with pytest.raises(AmbiguousTarget, match="jvm-11, jvm-17, jvm-21, jvm-25"):
        await run_request(request("flags pod=jvm ns=apps"), backend_for(sim))


async def test_unique_prefix_finds_the_pod(sim):
    result = await run_request(request("version pod=cowweb-1 ns=locked"), backend_for(sim))
    assert "locked/cowweb-1000" in result.target


async def test_misspelt_pod_gets_did_you_mean(sim):
    with pytest.raises(TargetNotFound, match="did you mean cowweb"):
        await run_request(request("flags pod=cowwbe ns=apps"), backend_for(sim))


async def test_unpullable_debug_image_is_reported_within_the_bounded_wait(sim):
    # Reported from the pull failure itself (kubesim's ErrImagePull), not from the 20 s
    # start timeout running out: that would say it did not start in time.
    with pytest.raises(StrategyUnavailable, match="could not be pulled") as excinfo:
        await run_request(
            request("flags pod=jvm-17 ns=apps"),
            backend_for(sim, debug_image="registry.invalid/nope:1", start_timeout_s=20),
        )
    assert "JDEBUG_DEBUG_IMAGE" in excinfo.value.message


async def test_without_any_way_in_every_reason_is_listed(sim):
    with pytest.raises(StrategyUnavailable) as excinfo:
        await run_request(
            request("flags pod=cowweb ns=apps"), backend_for(sim, identity="jdebug/reader")
        )
    message = excinfo.value.message
    assert message.startswith("no way to reach apps/cowweb")
    for part in (
        "exec: not allowed to get pods/exec",
        "sidecar:",
        "ephemeral: not allowed to patch pods/ephemeralcontainers",
    ):
        assert part in message


async def test_an_identity_that_cannot_read_pods_gets_kubernetes_own_sentence(sim):
    with pytest.raises(KubeForbidden) as excinfo:
        await run_request(
            request("flags pod=cowweb ns=apps"), backend_for(sim, identity="jdebug/nobody")
        )
    assert excinfo.value.message == (
        'pods "cowweb" is forbidden: User "system:serviceaccount:jdebug:nobody" cannot get '
        'resource "pods" in API group "" in the namespace "apps"'
    )


def test_jdebug_run_with_kubeconfig_prints_strategy_and_cleanup(sim):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "handlers",
            "run",
            "--kubeconfig",
            str(sim.kubeconfig(BOT)),
            "flags pod=jvm-21 ns=apps",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "via ephemeral on ephemeral container jdebug-" in proc.stdout
    assert "debug container jdebug-" in proc.stdout and " ended" in proc.stdout
