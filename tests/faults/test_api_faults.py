"""The Kubernetes API failing for a while: 500 and 429 on reads are retried (429 after its
Retry-After), a 409 on the ephemeral-container patch is retried once, and a failure that
outlasts the retries ends in one sentence with nothing added to the pod. A real request
against the seed's cowweb (a root JVM on JRE 11) through the session each time."""

from __future__ import annotations

import pytest

from bot.kube.errors import KubeConflict, KubeServerError, KubeTooManyRequests
from bot.model.errors import JdebugError
from bot.session.run import run_request
from tests.faults.leftovers import (
    assert_nothing_left,
    running_debug_containers,
    stray_debug_processes,
)
from tests.strategies.conftest import backend_for, needs_root, request
from tests.support.polling import wait_for

pytestmark = needs_root


def ephemeral_names(sim) -> list[str]:
    pod = sim.cluster.store.get("pods", "apps", "cowweb")
    return [c["name"] for c in pod["spec"].get("ephemeralContainers") or []]


def one_sentence(error: JdebugError) -> str:
    text = str(error)
    assert "Traceback" not in text and "\n" not in text
    return text


async def test_500s_on_reading_the_pod_are_retried_and_the_dump_is_real(sim):
    sim.faults.add(500, verb="get", resource="pods", subresource="", namespace="apps", times=2)

    result = await run_request(request("threaddump pod=cowweb ns=apps"), backend_for(sim))

    assert "Full thread dump" in result.raw.steps[0].text
    assert '"barn-door-holder"' in result.raw.steps[0].text
    gets = sim.faults.seen(verb="get", resource="pods", subresource="", name="cowweb")
    assert [s.status for s in gets[:3]] == [500, 500, 0]
    assert_nothing_left(sim)


async def test_429_with_retry_after_is_waited_out_and_retried(sim):
    sim.faults.add(429, verb="get", resource="pods", name="cowweb", retry_after=1, times=2)

    result = await run_request(request("flags pod=cowweb ns=apps"), backend_for(sim))

    assert "-XX:MaxHeapSize=67108864" in result.raw.steps[0].text
    gets = sim.faults.seen(verb="get", resource="pods", subresource="", name="cowweb")
    assert [s.status for s in gets[:3]] == [429, 429, 0]
    assert_nothing_left(sim)


async def test_a_conflict_on_the_ephemeral_patch_is_retried_once_and_adds_one_container(sim):
    before = ephemeral_names(sim)
    sim.faults.add(409, verb="patch", subresource="ephemeralcontainers", times=1)

    result = await run_request(request("version pod=cowweb ns=apps"), backend_for(sim))

    assert "JDK 11" in result.raw.steps[0].text
    patches = sim.faults.seen(verb="patch", subresource="ephemeralcontainers")
    assert [s.status for s in patches] == [409, 0]
    added = ephemeral_names(sim)[len(before) :]
    assert len(added) == 1 and result.cleanup == f"debug container {added[0]} ended"
    assert_nothing_left(sim)


async def test_a_second_conflict_on_the_ephemeral_patch_is_the_servers_own_sentence(sim):
    before = ephemeral_names(sim)
    sim.faults.add(409, verb="patch", subresource="ephemeralcontainers", times=2)

    with pytest.raises(KubeConflict) as excinfo:
        await run_request(request("version pod=cowweb ns=apps"), backend_for(sim))

    # The apiserver's own words say what happened and what to do (errors.NewConflict).
    text = one_sentence(excinfo.value)
    assert text == excinfo.value.kube_message and 'on pods "cowweb"' in text
    assert "the object has been modified" in text and "try again" in text
    patches = sim.faults.seen(verb="patch", subresource="ephemeralcontainers")
    assert [s.status for s in patches] == [409, 409]
    assert ephemeral_names(sim) == before
    assert_nothing_left(sim)


async def test_500s_that_outlast_the_retries_end_in_one_sentence(sim):
    before = ephemeral_names(sim)
    sim.faults.add(500, verb="get", resource="pods", subresource="", namespace="apps")

    with pytest.raises(KubeServerError) as excinfo:
        await run_request(request("threaddump pod=cowweb ns=apps"), backend_for(sim))

    text = one_sentence(excinfo.value)
    assert text.startswith("the Kubernetes API server failed to get pod apps/cowweb")
    assert excinfo.value.kube_message in text and "try again in a minute" in text
    # Bounded, no retry loop: the pod read the fault hits was tried three times, no more.
    reads = sim.faults.seen(verb="get", resource="pods", subresource="", namespace="apps")
    assert [(s.name, s.status) for s in reads] == [("cowweb", 500)] * 3
    assert ephemeral_names(sim) == before
    assert_nothing_left(sim)


async def test_a_500_on_the_ephemeral_patch_is_not_repeated_and_adds_nothing(sim):
    before = ephemeral_names(sim)
    sim.faults.add(500, verb="patch", subresource="ephemeralcontainers")

    with pytest.raises(KubeServerError) as excinfo:
        await run_request(request("threaddump pod=cowweb ns=apps"), backend_for(sim))

    text = one_sentence(excinfo.value)
    assert text.startswith(
        "the Kubernetes API server failed to add an ephemeral container to apps/cowweb"
    )
    # The server may have acted before failing: a write is never sent twice.
    patches = sim.faults.seen(verb="patch", subresource="ephemeralcontainers")
    assert [s.status for s in patches] == [500]
    assert ephemeral_names(sim) == before
    assert_nothing_left(sim)


async def test_429s_that_outlast_the_retries_end_in_one_sentence(sim):
    before = ephemeral_names(sim)
    # API Priority and Fairness answers in plain text, with Retry-After.
    sim.faults.add(429, subresource="ephemeralcontainers", retry_after=1, body="text")

    with pytest.raises(KubeTooManyRequests) as excinfo:
        await run_request(request("threaddump pod=cowweb ns=apps"), backend_for(sim))

    text = one_sentence(excinfo.value)
    assert text.startswith("the Kubernetes API server is overloaded and turned away the call")
    assert "Too many requests, please try again later." in text and "try again" in text
    patches = sim.faults.seen(verb="patch", subresource="ephemeralcontainers")
    assert [s.status for s in patches] == [429] * 3
    assert ephemeral_names(sim) == before
    assert_nothing_left(sim)


async def test_the_api_failing_while_the_debug_container_runs_is_one_sentence_and_it_still_ends(
    sim,
):
    before = ephemeral_names(sim)
    # Resolving and reading the pod before the patch go through; polling for the debug
    # container's end then fails, beyond the retries, while it runs its two dumps.
    sim.faults.add(500, verb="get", resource="pods", subresource="", name="cowweb", after=2)

    with pytest.raises(KubeServerError) as excinfo:
        await run_request(
            request("threaddump pod=cowweb ns=apps count=2 interval=3s"), backend_for(sim)
        )

    assert one_sentence(excinfo.value).startswith(
        "the Kubernetes API server failed to get pod apps/cowweb 3 times in a row"
    )
    (added,) = ephemeral_names(sim)[len(before) :]
    assert sim.faults.seen(verb="patch", subresource="ephemeralcontainers")
    # Nobody can remove an ephemeral container: it runs to its end, bounded by its deadline.
    wait_for(lambda: not running_debug_containers(sim, "apps", "cowweb"), 60, f"{added} to end")
    assert_nothing_left(sim)


async def test_429_on_the_exec_websocket_handshake_is_retried(sim, jvm_pod):
    pod, jvm = jvm_pod("jdebug.local/cowweb-jdk:25")  # jcmd in the app image: exec
    sim.faults.add(429, subresource="exec", name=pod, retry_after=1, times=2)

    result = await run_request(request(f"version pod={pod} ns=apps"), backend_for(sim))

    assert result.raw.strategy == "exec" and "JDK 25" in result.raw.steps[0].text
    # One exec, the agent's, retried twice: checking the strategy execs nothing.
    execs = sim.faults.seen(subresource="exec", name=pod)
    assert [s.status for s in execs] == [429, 429, 0]
    assert stray_debug_processes(jvm) == []


async def test_a_podsecurity_level_that_could_not_be_read_is_asked_again_next_time(sim):
    backend = backend_for(sim)  # one backend, one probe cache: as in the running bot
    sim.faults.add(500, verb="get", resource="namespaces", name="apps", times=3)

    first = await run_request(request("version pod=cowweb ns=apps"), backend)
    second = await run_request(request("version pod=cowweb ns=apps"), backend)

    # Unknown, the level is taken as restricted, which a root JVM's debug container cannot
    # meet: the first request went through the node strategy. The fault is over for the next.
    assert first.raw.strategy == "node" and "JDK 11" in first.raw.steps[0].text
    assert second.raw.strategy == "ephemeral" and "JDK 11" in second.raw.steps[0].text
    reads = sim.faults.seen(verb="get", resource="namespaces", name="apps")
    assert [s.status for s in reads] == [500, 500, 500, 0]
    assert_nothing_left(sim)
