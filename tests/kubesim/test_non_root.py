"""runAsNonRoot is the kubelet's to enforce: a root image without runAsUser waits in
CreateContainerConfigError with the kubelet's exact words, runAsUser 0 breaks the policy,
and a non-root uid runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from kubesim import KubeSim
from tests.kubesim.conftest import core, kubectl, needs_root, pod_running, wait_for

pytestmark = needs_root


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(grace_cap=0.5) as running:
        yield running


def pod(name: str, image: str, pod_sc: dict[str, Any], sc: dict[str, Any]) -> dict[str, Any]:
    container = {"name": "app", "image": image, "securityContext": sc}
    return {
        "metadata": {"name": name},
        "spec": {"securityContext": pod_sc, "containers": [container]},
    }


def config_error(api: client.CoreV1Api, name: str) -> tuple[str, str] | None:
    statuses = api.read_namespaced_pod(name, "default").status.container_statuses or []
    found = statuses[0].state.waiting if statuses else None
    if found is None or found.reason != "CreateContainerConfigError":
        return None
    return found.reason, found.message


@pytest.mark.parametrize(
    ("name", "pod_sc", "sc", "message"),
    [
        # pkg/kubelet/kuberuntime/security_context_others.go, verifyRunAsNonRoot
        (
            "root-image",
            {"runAsNonRoot": True},
            {},
            "container has runAsNonRoot and image will run as root",
        ),
        (
            "root-user",
            {},
            {"runAsNonRoot": True, "runAsUser": 0},
            "container's runAsUser breaks non-root policy",
        ),
    ],
)
def test_run_as_non_root_refuses_a_root_user_with_the_kubelets_message(
    sim: KubeSim, name: str, pod_sc: dict[str, Any], sc: dict[str, Any], message: str
) -> None:
    api = core(sim)
    created = api.create_namespaced_pod("default", pod(name, "jdebug.local/cowweb:21", pod_sc, sc))
    reason, text = wait_for(lambda: config_error(api, name), what=f"{name} refused")
    # format.Pod (pkg/kubelet/util/format/pod.go) names the pod as name_namespace(uid).
    where = f'(pod: "{name}_default({created.metadata.uid})", container: app)'
    assert (reason, text) == ("CreateContainerConfigError", f"{message} {where}")
    shown = kubectl(sim, "get", "pod", name, check=True).stdout
    assert "CreateContainerConfigError" in shown
    events = api.list_namespaced_event("default", field_selector=f"involvedObject.name={name}")
    assert ("Warning", "Failed", f"Error: {message} {where}") in [
        (e.type, e.reason, e.message) for e in events.items
    ]


def test_run_as_non_root_lets_a_non_root_image_or_uid_run(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod(
        "default", pod("uid-image", "jdebug.local/cowweb:21-uid1000", {"runAsNonRoot": True}, {})
    )
    api.create_namespaced_pod(
        "default",
        pod("uid-set", "jdebug.local/cowweb:21", {"runAsNonRoot": True}, {"runAsUser": 1000}),
    )
    pod_running(api, "uid-image")
    pod_running(api, "uid-set")
