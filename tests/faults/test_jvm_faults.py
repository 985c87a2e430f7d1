"""The JVM side failing: a JVM that never answers attach (stopped with SIGSTOP, as a JVM hung
in a long safepoint looks to the attach handshake), the agent's deadline passing mid-step, and
a debug image that cannot be pulled. Each ends in one sentence, with no debug process, no
attach trigger file and no running debug container left behind."""

from __future__ import annotations

import os
import signal

import pytest

from bot.model.errors import AttachFailed, DeadlineExceeded, StrategyUnavailable
from bot.session.run import run_request
from tests.faults.leftovers import (
    assert_nothing_left,
    debug_pods,
    jvm_pid,
    nspid,
    process_state,
    running_debug_containers,
    stray_debug_processes,
)
from tests.strategies.conftest import backend_for, needs_root, request
from tests.support.kube import admin_core_api
from tests.support.polling import wait_for

pytestmark = needs_root

JCMD_IMAGE = "eclipse-temurin:25-jdk"  # the default debug image: jcmd, no jattach
JATTACH_IMAGE = "jdebug.local/jdebug-debug:latest"


def strategy_traces(sim, pod: str) -> dict[str, int]:
    """What each strategy left in kubesim's journal for this pod: execs, patches, node pods."""
    return {
        "exec": len(sim.faults.seen(subresource="exec", name=pod)),
        "ephemeral": len(sim.faults.seen(subresource="ephemeralcontainers", name=pod)),
        "node": len(sim.faults.seen(verb="create", resource="pods", namespace="jdebug")),
    }


@pytest.mark.parametrize(
    ("app_image", "debug_image", "strategy"),
    [
        pytest.param("jdebug.local/cowweb:25", JCMD_IMAGE, "ephemeral", id="ephemeral-jcmd"),
        pytest.param("jdebug.local/cowweb:25", JATTACH_IMAGE, "ephemeral", id="ephemeral-jattach"),
        pytest.param("jdebug.local/cowweb-jdk:25", JCMD_IMAGE, "exec", id="exec-jcmd"),
        pytest.param("jdebug.local/cowweb:25", JATTACH_IMAGE, "node", id="node-jattach"),
    ],
)
async def test_a_stopped_jvm_is_reported_as_not_answering_and_left_as_found(
    sim, jvm_pod, app_image, debug_image, strategy
):
    pod, jvm = jvm_pod(app_image)
    backend = backend_for(sim, order=(strategy,), debug_image=debug_image)
    os.kill(jvm, signal.SIGSTOP)
    try:
        with pytest.raises(AttachFailed) as excinfo:
            # Far beyond the tools' own handshake timeouts (jcmd 10.5 s, jattach about 6 s).
            await run_request(request(f"threaddump pod={pod} ns=apps"), backend, step_deadline_s=40)
        assert process_state(jvm) == "T"  # it never answered: it was stopped throughout
    finally:
        os.kill(jvm, signal.SIGCONT)

    text = str(excinfo.value)
    assert "\n" not in text and "Traceback" not in text
    assert "the JVM did not answer the attach handshake in time" in text
    assert "hung or stuck in a long safepoint" in text
    assert strategy_traces(sim, pod)[strategy] > 0
    assert_nothing_left(sim, "apps", pod, jvm)
    assert_strategy_left_nothing(sim, pod, strategy, requests=1)
    # Resumed, the same JVM answers the next request: nothing was left half-done in it.
    again = await run_request(request(f"version pod={pod} ns=apps"), backend)
    assert "JDK 25" in again.raw.steps[0].text
    assert_nothing_left(sim, "apps", pod, jvm)
    assert_strategy_left_nothing(sim, pod, strategy, requests=2)


def assert_strategy_left_nothing(sim, pod: str, strategy: str, requests: int) -> None:
    """What each way in leaves once done (checked after `assert_nothing_left`). Ephemeral:
    one debug container per request in the pod, each terminated (nobody can remove one).
    Exec and node: no debug container in the app's pod at all. Exec: its tool ran in the
    JVM's own PID namespace, where `stray_debug_processes` found nothing. Node: the node
    pods it created are gone."""
    states = debug_container_states(sim, pod)
    if strategy == "ephemeral":
        assert len(states) == requests, states
        assert all("terminated" in state for state in states.values()), states
    else:
        assert states == {}
    if strategy == "node":
        assert strategy_traces(sim, pod)["node"] >= requests and debug_pods(sim) == []


async def test_the_agents_deadline_passing_mid_dump_is_one_sentence(sim, jvm_pod):
    pod, jvm = jvm_pod()
    backend = backend_for(sim, debug_image=JATTACH_IMAGE)
    # Attached once, the JVM keeps its attach listener: the next command is accepted by the
    # kernel and then never answered while the JVM is stopped, until the agent's deadline.
    await run_request(request(f"version pod={pod} ns=apps"), backend)
    os.kill(jvm, signal.SIGSTOP)
    try:
        with pytest.raises(DeadlineExceeded) as excinfo:
            await run_request(request(f"threaddump pod={pod} ns=apps"), backend, step_deadline_s=8)
    finally:
        os.kill(jvm, signal.SIGCONT)
    text = str(excinfo.value)
    assert text.startswith(f"the JVM (pid {nspid(jvm)}) did not answer threaddump within")
    assert "hung or stuck in a long safepoint" in text and "\n" not in text
    assert_nothing_left(sim, "apps", pod, jvm)
    assert_strategy_left_nothing(sim, pod, "ephemeral", requests=2)


def debug_container_states(sim, pod: str) -> dict[str, dict]:
    found = sim.cluster.store.get("pods", "apps", pod)
    return {s["name"]: s["state"] for s in found["status"].get("ephemeralContainerStatuses") or []}


@pytest.mark.parametrize(
    ("image", "planned"),
    [("registry.invalid/jdebug/nope:1", False), (JCMD_IMAGE, True)],
    ids=["unknown-image", "docker-hub-rate-limit"],
)
async def test_an_unpullable_debug_image_is_named_with_what_to_do(sim, image, planned):
    if planned:  # the default image, which kubesim has, but Docker Hub turns the pull away
        sim.faults.fail_pull(image)
    before = set(debug_container_states(sim, "cowweb"))

    with pytest.raises(StrategyUnavailable) as excinfo:
        await run_request(
            request("threaddump pod=cowweb ns=apps"), backend_for(sim, debug_image=image)
        )

    text = str(excinfo.value)
    assert f"the debug image {image} could not be pulled" in text
    assert "mirror it into a registry this cluster pulls from" in text
    assert "set JDEBUG_DEBUG_IMAGE to the mirror" in text
    if planned:
        assert "toomanyrequests" in text
    (added,) = set(debug_container_states(sim, "cowweb")) - before
    state = debug_container_states(sim, "cowweb")[added]
    assert state["waiting"]["reason"] in ("ErrImagePull", "ImagePullBackOff")
    assert running_debug_containers(sim, "apps", "cowweb") == []
    assert stray_debug_processes(jvm_pid(sim, "apps", "cowweb", "cowweb")) == []


async def test_an_unpullable_image_for_a_node_debug_pod_leaves_no_pod(sim):
    with pytest.raises(StrategyUnavailable, match="could not be pulled") as excinfo:
        await run_request(
            request("threaddump pod=cowweb ns=apps"),
            backend_for(sim, order=("node",), debug_image="registry.invalid/jdebug/nope:1"),
        )

    assert "set JDEBUG_DEBUG_IMAGE" in str(excinfo.value)
    wait_for(lambda: not debug_pods(sim), 60, "the node debug pod to be gone")
    assert list(sim.cluster.store.items("pods", "jdebug")) == []


@pytest.mark.parametrize("version", [11, 17, 21])
async def test_an_older_jcmd_in_the_debug_image_is_not_mistaken_for_a_hung_jvm(
    sim, jvm_pod, version
):
    # jcmd before JDK 25 puts its trigger file in its own /tmp when it shares the JVM's PID
    # namespace but not its mounts (JDK-8327114); the agent puts one where the JVM looks.
    pod, jvm = jvm_pod("jdebug.local/cowweb:25-uid1000")

    result = await run_request(
        request(f"version pod={pod} ns=apps"),
        backend_for(sim, debug_image=f"eclipse-temurin:{version}-jdk"),
        step_deadline_s=20,
    )

    assert "JDK 25" in result.raw.steps[0].text
    # The JVM answered the handshake, so it never fell back to dumping threads into its log.
    assert "Full thread dump" not in admin_core_api(sim).read_namespaced_pod_log(pod, "apps")
    assert_nothing_left(sim, "apps", pod, jvm)
    assert_strategy_left_nothing(sim, pod, "ephemeral", requests=1)
