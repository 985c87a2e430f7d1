"""Optimistic concurrency on every pod subresource kubesim serves, as the registry has it.

A PUT (or a PATCH that sets metadata.resourceVersion) whose resourceVersion is not the stored
one is errors.NewConflict with OptimisticLockErrorMsg (k8s.io/apiserver/pkg/registry/generic/
registry/store.go, Update), for `pods/ephemeralcontainers` and `pods/status` exactly as for the
pod itself; without a resourceVersion the update is unconditional (pods allow that).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, core, needs_root, pod_running, raw
from tests.support.polling import wait_for

CONFLICT = (
    'Operation cannot be fulfilled on pods "cowweb": the object has been modified; '
    "please apply your changes to the latest version and try again"
)
EPHEMERAL = "/api/v1/namespaces/default/pods/cowweb/ephemeralcontainers"
STATUS = "/api/v1/namespaces/default/pods/cowweb/status"

pytestmark = needs_root


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"], grace_cap=0.5) as running:
        pod_running(core(running), "cowweb")
        yield running


def debugger(name: str) -> dict[str, Any]:
    return {"name": name, "image": "jdebug.local/busybox", "command": ["true"]}


def with_debugger(pod: client.V1Pod, name: str) -> client.V1Pod:
    pod.spec.ephemeral_containers = [*(pod.spec.ephemeral_containers or []), debugger(name)]
    return pod


def add_from_a_fresh_read(api: client.CoreV1Api, name: str) -> None:
    """Read the pod and PUT it with one more debug container, reading again on a 409: the
    kubelet writes the pod's status whenever a container changes state, so even a fresh read
    can be overtaken, and a real client's retry-on-conflict loop is the answer."""
    for _ in range(10):
        fresh = api.read_namespaced_pod("cowweb", "default")
        try:
            api.replace_namespaced_pod_ephemeralcontainers(
                "cowweb", "default", with_debugger(fresh, name)
            )
            return
        except client.ApiException as exc:
            if exc.status != 409:
                raise
    raise AssertionError(f"{name} never landed")


def assert_conflict(exc: client.ApiException) -> None:
    assert exc.status == 409
    body = json.loads(exc.body)
    assert body["reason"] == "Conflict"
    assert body["message"] == CONFLICT
    assert body["details"] == {"name": "cowweb", "kind": "pods"}


def test_put_of_ephemeral_containers_with_a_stale_resource_version_is_409(sim: KubeSim) -> None:
    api = core(sim)
    stale = api.read_namespaced_pod("cowweb", "default")
    api.patch_namespaced_pod("cowweb", "default", {"metadata": {"labels": {"touched": "1"}}})
    with pytest.raises(client.ApiException) as refused:
        api.replace_namespaced_pod_ephemeralcontainers(
            "cowweb", "default", with_debugger(stale, "stale-put")
        )
    assert_conflict(refused.value)
    add_from_a_fresh_read(api, "fresh-put")
    names = [c.name for c in api.read_namespaced_pod("cowweb", "default").spec.ephemeral_containers]
    assert "fresh-put" in names and "stale-put" not in names


def test_patch_of_ephemeral_containers_naming_a_stale_resource_version_is_409(
    sim: KubeSim,
) -> None:
    _, pod = raw(sim, "GET", "/api/v1/namespaces/default/pods/cowweb")
    stale = pod["metadata"]["resourceVersion"]
    raw(
        sim,
        "PATCH",
        STATUS[: -len("/status")],
        {"metadata": {"labels": {"touched": "2"}}},
        "application/merge-patch+json",
    )
    body = {
        "metadata": {"resourceVersion": stale},
        "spec": {"ephemeralContainers": [debugger("stale-patch")]},
    }
    status, answer = raw(sim, "PATCH", EPHEMERAL, body, "application/strategic-merge-patch+json")
    assert (status, answer["message"], answer["reason"]) == (409, CONFLICT, "Conflict")
    del body["metadata"]
    assert raw(sim, "PATCH", EPHEMERAL, body, "application/strategic-merge-patch+json")[0] == 200


def test_pod_status_put_and_patch_with_a_stale_resource_version_are_409(sim: KubeSim) -> None:
    api = core(sim)
    stale = api.read_namespaced_pod_status("cowweb", "default")
    api.patch_namespaced_pod("cowweb", "default", {"metadata": {"labels": {"touched": "3"}}})
    with pytest.raises(client.ApiException) as refused:
        api.replace_namespaced_pod_status("cowweb", "default", stale)
    assert_conflict(refused.value)
    patch = {
        "metadata": {"resourceVersion": stale.metadata.resource_version},
        "status": {"conditions": [{"type": "Stale", "status": "True"}]},
    }
    with pytest.raises(client.ApiException) as refused:
        api.patch_namespaced_pod_status("cowweb", "default", patch)
    assert_conflict(refused.value)


def test_pod_status_writes_change_the_status_and_nothing_else(sim: KubeSim) -> None:
    """The status strategy keeps the stored spec: a status PUT cannot smuggle in a spec."""
    api = core(sim)
    pod = api.read_namespaced_pod_status("cowweb", "default")
    pod.metadata.resource_version = None  # unconditional: the kubelet may write meanwhile
    pod.spec.active_deadline_seconds = 5
    pod.status.message = "written through pods/status"
    written = api.replace_namespaced_pod_status("cowweb", "default", pod)
    assert written.status.message == "written through pods/status"
    assert written.spec.active_deadline_seconds is None


def test_a_status_a_client_wrote_is_put_right_by_the_kubelet(sim: KubeSim) -> None:
    """The kubelet is the source of truth for a pod's status: within its status sync period
    (10 s) it writes its own view over what a client stored (status_manager.go,
    needsReconcile)."""
    api = core(sim)
    pod = api.read_namespaced_pod_status("cowweb", "default")
    pod.metadata.resource_version = None
    pod.status.message = "a client's word"
    pod.status.phase = "Failed"
    assert api.replace_namespaced_pod_status("cowweb", "default", pod).status.phase == "Failed"

    def put_right() -> client.V1PodStatus | None:
        status = api.read_namespaced_pod_status("cowweb", "default").status
        return status if status.phase == "Running" else None

    restored = wait_for(put_right, what="the kubelet's own status back")
    assert restored.message is None
    assert [s.name for s in restored.container_statuses if s.state.running] == ["cowweb"]


def test_of_two_concurrent_debug_requests_from_one_read_exactly_one_conflicts(
    sim: KubeSim,
) -> None:
    """Two writers that read the same pod and PUT their debug container at once: one lands, the
    other gets the 409 and, reading again, lands too."""
    api = core(sim)

    def settled() -> client.V1Pod | None:
        """The pod once every debug container has ended: nothing writes it any more."""
        pod = api.read_namespaced_pod("cowweb", "default")
        specs = pod.spec.ephemeral_containers or []
        ended = [s for s in pod.status.ephemeral_container_statuses or [] if s.state.terminated]
        return pod if len(ended) == len(specs) else None

    base = wait_for(settled, what="the earlier debug containers to end")
    both_read = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def request(name: str) -> None:
        mine = client.ApiClient().sanitize_for_serialization(base)
        mine["spec"]["ephemeralContainers"] = [
            *(mine["spec"].get("ephemeralContainers") or []),
            debugger(name),
        ]
        both_read.wait()
        status, answer = raw(sim, "PUT", EPHEMERAL, mine)
        outcomes[name] = "ok" if status == 200 else f"{status} {answer['message']}"
        if status == 409:
            add_from_a_fresh_read(api, name)

    threads = [threading.Thread(target=request, args=(n,)) for n in ("racer-a", "racer-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes.values()) == sorted(["ok", f"409 {CONFLICT}"])
    names = {c.name for c in api.read_namespaced_pod("cowweb", "default").spec.ephemeral_containers}
    assert {"racer-a", "racer-b"} <= names
