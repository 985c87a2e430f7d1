"""etcd's object size limit, as a real API server meets it, through kubectl and the official client.

etcd refuses any request over --max-request-bytes (1.5 MiB by default) with rpctypes'
ErrGRPCRequestTooLarge, `etcdserver: request is too large`. The apiserver does not map it
(handlers/rest.go only uses isTooLargeError to retry once without managedFields; issue
kubernetes/kubernetes#112152 is still open): responsewriters.ErrorToAPIStatus makes it a 500
whose reason is StatusReasonUnknown (empty, so left out) with no details. The apiserver's own
limit on a write's body is 3 MiB (server/config.go MaxRequestBodyBytes), a 413.

kubesim measures an object's stored form as its compact JSON plus its etcd key; the tests
measure it the same way, from what the API returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from tests.kubesim.conftest import (
    MANIFESTS,
    core,
    ephemeral_state,
    kubectl,
    log_contains,
    needs_root,
    pod_running,
    raw,
)

LIMIT = 1572864  # etcd's default --max-request-bytes
TOO_LARGE = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "etcdserver: request is too large",
    "code": 500,
}
# Linux refuses any one argument over 128 KiB (MAX_ARG_STRLEN), so padding goes in pieces.
PIECE = 100_000


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"], grace_cap=0.5) as running:
        yield running


def stored_size(pod: dict[str, Any]) -> int:
    """What etcd is asked to store for a pod: its key and its compact JSON."""
    meta = pod["metadata"]
    key = f"/registry/pods/{meta['namespace']}/{meta['name']}"
    return len(key) + len(json.dumps(pod, separators=(",", ":")).encode())


def padded_command(total: int) -> list[str]:
    """`sh -c 'echo started'` with `total` bytes of arguments it ignores."""
    pieces = [PIECE] * (total // PIECE) + ([total % PIECE] if total % PIECE else [])
    return ["sh", "-c", "echo started", *("x" * n for n in pieces)]


def get_pod(sim: KubeSim, name: str) -> dict[str, Any]:
    status, pod = raw(sim, "GET", f"/api/v1/namespaces/default/pods/{name}")
    assert status == 200, pod
    return dict(pod)


def add_debug_container(sim: KubeSim, pod: str, name: str, padding: int) -> tuple[int, Any]:
    body = {
        "spec": {
            "ephemeralContainers": [
                {
                    "name": name,
                    "image": "jdebug.local/busybox",
                    "command": padded_command(padding),
                }
            ]
        }
    }
    return raw(
        sim,
        "PATCH",
        f"/api/v1/namespaces/default/pods/{pod}/ephemeralcontainers",
        body,
        "application/strategic-merge-patch+json",
    )


def fill_to_the_brim(sim: KubeSim, pod: str, name: str) -> None:
    """Add one last debug container with the largest padding that still fits: it leaves
    under 50 bytes, less than any status entry for it (name, state, image, ready...)."""
    room = LIMIT - stored_size(get_pod(sim, pod))
    for less in range(0, room, 50):
        status, body = add_debug_container(sim, pod, name, room - less)
        if status == 200:
            break
        assert (status, body) == (500, TOO_LARGE)
    assert status == 200
    assert LIMIT - stored_size(get_pod(sim, pod)) < 50


def shell_pod(name: str, command: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [{"name": "main", "image": "jdebug.local/busybox", "command": command}]
        },
    }


def test_kubectl_create_of_a_pod_over_etcds_limit_prints_etcds_refusal(sim: KubeSim) -> None:
    pod = shell_pod("huge", padded_command(LIMIT))
    result = kubectl(sim, "create", "-f", "-", stdin=json.dumps(pod))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server: error when creating "STDIN": etcdserver: request is too large'
    )
    assert raw(sim, "GET", "/api/v1/namespaces/default/pods/huge")[0] == 404


def test_the_refusal_is_a_500_without_reason_or_details(sim: KubeSim) -> None:
    pod = shell_pod("huge", padded_command(LIMIT))
    status, body = raw(sim, "POST", "/api/v1/namespaces/default/pods", pod)
    assert (status, body) == (500, TOO_LARGE)
    with pytest.raises(client.ApiException) as refused:
        core(sim).create_namespaced_pod("default", pod)
    assert refused.value.status == 500
    assert json.loads(refused.value.body) == TOO_LARGE


def test_a_body_over_three_mebibytes_is_the_apiservers_413(sim: KubeSim) -> None:
    pod = shell_pod("enormous", padded_command(3 * 1024 * 1024))
    status, body = raw(sim, "POST", "/api/v1/namespaces/default/pods", pod)
    assert status == 413
    assert body["reason"] == "RequestEntityTooLarge"
    assert body["message"] == "Request entity too large: limit is 3145728"
    result = kubectl(sim, "create", "-f", "-", stdin=json.dumps(pod))
    assert result.stderr.strip() == (
        'Error from server (RequestEntityTooLarge): error when creating "STDIN": '
        "Request entity too large: limit is 3145728"
    )


def test_any_kind_is_held_to_the_limit(sim: KubeSim) -> None:
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "big", "annotations": {"pad": "x" * LIMIT}},
        "spec": {},
    }
    path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    assert raw(sim, "POST", path, lease) == (500, TOO_LARGE)
    lease["metadata"]["annotations"]["pad"] = "small"
    assert raw(sim, "POST", path, lease)[0] == 201
    grow = {"metadata": {"annotations": {"pad": "x" * LIMIT}}}
    assert raw(sim, "PATCH", f"{path}/big", grow, "application/merge-patch+json") == (
        500,
        TOO_LARGE,
    )
    assert raw(sim, "GET", f"{path}/big")[1]["metadata"]["annotations"]["pad"] == "small"


@needs_root
def test_debug_containers_fill_a_pod_until_it_takes_no_more_updates(sim: KubeSim) -> None:
    """Ephemeral containers can never be removed: each one grows the pod until etcd refuses
    the next, and from then on the pod's labels cannot change either."""
    api = core(sim)
    api.create_namespaced_pod("default", shell_pod("filling", ["sleep", "600"]))
    pod_running(api, "filling")
    added = 0
    while True:
        status, body = add_debug_container(sim, "filling", f"debugger-{added}", 200_000)
        if status != 200:
            break
        added += 1
    assert (status, body) == (500, TOO_LARGE)
    pod = get_pod(sim, "filling")
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == [
        f"debugger-{n}" for n in range(added)
    ]
    assert stored_size(pod) <= LIMIT < stored_size(pod) + 200_000
    for n in range(added):
        ephemeral_state(api, "filling", f"debugger-{n}", "terminated")
    fill_to_the_brim(sim, "filling", "last")
    label = {"metadata": {"labels": {"seen": "yes"}}}
    path = "/api/v1/namespaces/default/pods/filling"
    assert raw(sim, "PATCH", path, label, "application/merge-patch+json") == (500, TOO_LARGE)
    result = kubectl(sim, "label", "pod", "filling", "seen=yes")
    assert result.stderr.strip() == "Error from server: etcdserver: request is too large"


@needs_root
def test_a_pod_at_the_limit_runs_its_last_container_but_its_status_stays_stale(
    sim: KubeSim,
) -> None:
    """The kubelet's status write is refused like any other: the container runs (its log says
    so) while the API never shows its status, as a real kubelet's failed status sync leaves
    it."""
    api = core(sim)
    api.create_namespaced_pod("default", shell_pod("brim", ["sleep", "600"]))
    pod_running(api, "brim")
    assert add_debug_container(sim, "brim", "filler", LIMIT - 20_000)[0] == 200
    ephemeral_state(api, "brim", "filler", "terminated")
    fill_to_the_brim(sim, "brim", "last")
    log_contains(api, "brim", "started", container="last")
    pod = get_pod(sim, "brim")
    assert "last" in [c["name"] for c in pod["spec"]["ephemeralContainers"]]
    assert [s["name"] for s in pod["status"]["ephemeralContainerStatuses"]] == ["filler"]


@needs_root
def test_once_the_pod_has_room_again_the_kubelet_writes_the_status_it_kept(sim: KubeSim) -> None:
    """The status manager compares the API's status with its own every 10 s and writes its
    own when they differ (status_manager.go, syncBatch and needsReconcile), not only at the
    next change: dropping an annotation makes room, and the last container's status appears
    although nothing about it changed since its refused writes."""
    api = core(sim)
    pod = shell_pod("roomy", ["sleep", "600"])
    pod["metadata"]["annotations"] = {"pad": "x" * 20_000}
    api.create_namespaced_pod("default", pod)
    pod_running(api, "roomy")
    fill_to_the_brim(sim, "roomy", "last")
    log_contains(api, "roomy", "started", container="last")
    assert "ephemeralContainerStatuses" not in get_pod(sim, "roomy")["status"]
    unpad = {"metadata": {"annotations": {"pad": None}}}
    path = "/api/v1/namespaces/default/pods/roomy"
    assert raw(sim, "PATCH", path, unpad, "application/merge-patch+json")[0] == 200
    ended = ephemeral_state(api, "roomy", "last", "terminated")
    assert (ended.exit_code, ended.reason) == (0, "Completed")


def test_the_limit_is_a_kubesim_setting() -> None:
    with KubeSim(max_request_bytes=4096) as small:
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "l", "annotations": {"pad": "x" * 5000}},
        }
        path = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
        assert raw(small, "POST", path, lease) == (500, TOO_LARGE)
        lease["metadata"]["annotations"]["pad"] = "x" * 3000
        assert raw(small, "POST", path, lease)[0] == 201
