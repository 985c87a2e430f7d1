"""The API surface through the official client and raw HTTPS: discovery, errors as Status bodies,
pods (selectors, watch, create, delete), namespaces, Leases, and authentication."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
from kubernetes import client, watch

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, api_client, core, raw, wait_for


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"]) as running:
        yield running


def status_of(exc: client.ApiException) -> dict[str, object]:
    body: dict[str, object] = json.loads(exc.body)
    return body


def test_version_and_discovery_are_served(sim: KubeSim) -> None:
    assert client.VersionApi(api_client(sim)).get_code().git_version == "v1.31.0-kubesim"
    _, groups = raw(sim, "GET", "/apis")
    assert {g["name"] for g in groups["groups"]} >= {"coordination.k8s.io", "authorization.k8s.io"}
    _, core_v1 = raw(sim, "GET", "/api/v1")
    names = {r["name"] for r in core_v1["resources"]}
    assert {"pods", "pods/ephemeralcontainers", "pods/exec", "pods/log", "namespaces"} <= names


@pytest.mark.parametrize(
    ("method", "path", "code", "reason"),
    [
        ("GET", "/api/v1/widgets", 404, "NotFound"),
        ("GET", "/no/such/path", 404, "NotFound"),
        ("PUT", "/api/v1/namespaces/default/pods/cowweb/log", 405, "MethodNotAllowed"),
        ("POST", "/api/v1/namespaces/default/pods", 400, "BadRequest"),
    ],
)
def test_errors_are_status_objects(
    sim: KubeSim, method: str, path: str, code: int, reason: str
) -> None:
    status, body = raw(sim, method, path, b"{not json" if method == "POST" else None)
    assert status == code
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["reason"] == reason and body["code"] == code and body["message"]


def test_missing_pod_is_404_with_details(sim: KubeSim) -> None:
    with pytest.raises(client.ApiException) as caught:
        core(sim).read_namespaced_pod("nope", "default")
    assert caught.value.status == 404
    body = status_of(caught.value)
    assert body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "pods"}


def test_no_token_is_401(sim: KubeSim) -> None:
    status, body = raw(sim, "GET", "/api/v1/namespaces/default/pods", identity="")
    assert status == 401 and body["reason"] == "Unauthorized"


def test_list_pods_with_label_and_field_selectors(sim: KubeSim) -> None:
    api = core(sim)
    assert [
        p.metadata.name
        for p in api.list_namespaced_pod("default", label_selector="app in (other)").items
    ] == ["other"]
    assert [
        p.metadata.name
        for p in api.list_namespaced_pod("default", field_selector="metadata.name=cowweb").items
    ] == ["cowweb"]
    assert [
        p.metadata.name for p in api.list_pod_for_all_namespaces(label_selector="!app").items
    ] == []


def test_namespaces_carry_pod_security_labels(sim: KubeSim) -> None:
    ns = client.CoreV1Api(api_client(sim)).read_namespace("restricted")
    assert ns.metadata.labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_create_invalid_pod_is_422(sim: KubeSim) -> None:
    body = {
        "metadata": {"name": "Bad_Name"},
        "spec": {"containers": [{"name": "c"}], "restartPolicy": "Sometimes"},
    }
    status, out = raw(sim, "POST", "/api/v1/namespaces/default/pods", body)
    assert status == 422 and out["reason"] == "Invalid"
    fields = [c["field"] for c in out["details"]["causes"]]
    assert fields == ["metadata.name", "spec.containers[0].image", "spec.restartPolicy"]
    assert out["message"].startswith(
        'Pod "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name"'
    )


def test_create_duplicate_pod_is_409(sim: KubeSim) -> None:
    body = {"metadata": {"name": "cowweb"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    status, out = raw(sim, "POST", "/api/v1/namespaces/default/pods", body)
    assert status == 409 and out["reason"] == "AlreadyExists"
    assert out["message"] == 'pods "cowweb" already exists'


def test_unknown_image_shows_err_image_pull_then_backoff(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "ghost"},
            "spec": {"containers": [{"name": "c", "image": "nowhere/ghost:1"}]},
        },
    )

    def reason() -> str:
        statuses = api.read_namespaced_pod("ghost", "default").status.container_statuses or []
        waiting = statuses[0].state.waiting if statuses else None
        return waiting.reason if waiting else ""

    assert wait_for(lambda: reason() in ("ErrImagePull", "ImagePullBackOff"))
    assert wait_for(lambda: reason() == "ImagePullBackOff", 5)
    assert api.read_namespaced_pod("ghost", "default").status.phase == "Pending"
    api.delete_namespaced_pod("ghost", "default")
    wait_for(
        lambda: not api.list_namespaced_pod("default", field_selector="metadata.name=ghost").items
    )


def test_watch_streams_added_modified_and_deleted(sim: KubeSim) -> None:
    api = core(sim)
    events: list[tuple[str, str]] = []

    def follow() -> None:
        for event in watch.Watch().stream(
            api.list_namespaced_pod, "default", label_selector="app=watched", timeout_seconds=20
        ):
            events.append((event["type"], event["object"].metadata.name))
            if event["type"] == "DELETED":
                return

    thread = threading.Thread(target=follow)
    thread.start()
    pod = {
        "metadata": {"name": "watched", "labels": {"app": "watched"}},
        "spec": {
            "containers": [
                {"name": "c", "image": "jdebug.local/busybox", "command": ["sleep", "60"]}
            ]
        },
    }
    wait_for(lambda: True)
    api.create_namespaced_pod("default", pod)
    wait_for(lambda: api.read_namespaced_pod("watched", "default").status.phase == "Running")
    api.delete_namespaced_pod("watched", "default", grace_period_seconds=0)
    thread.join(30)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "ADDED" and "MODIFIED" in kinds and kinds[-1] == "DELETED"
    assert {name for _, name in events} == {"watched"}


def test_lease_updates_with_stale_resource_version_conflict(sim: KubeSim) -> None:
    leases = client.CoordinationV1Api(api_client(sim, "default/debugger"))
    lease = leases.create_namespaced_lease(
        "default", {"metadata": {"name": "jdebug-leader"}, "spec": {"holderIdentity": "a"}}
    )
    lease.spec.holder_identity = "b"
    updated = leases.replace_namespaced_lease("jdebug-leader", "default", lease)
    assert updated.spec.holder_identity == "b"
    lease.spec.holder_identity = "c"  # still carries the first resourceVersion
    with pytest.raises(client.ApiException) as caught:
        leases.replace_namespaced_lease("jdebug-leader", "default", lease)
    assert caught.value.status == 409
    assert status_of(caught.value)["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "jdebug-leader": the object has '  # noqa: E501
        "been modified; please apply your changes to the latest version and try again"
    )
    with pytest.raises(client.ApiException) as again:
        leases.create_namespaced_lease("default", {"metadata": {"name": "jdebug-leader"}})
    assert again.value.status == 409 and status_of(again.value)["reason"] == "AlreadyExists"


def test_pod_log_streams_and_options(sim: KubeSim) -> None:
    api = core(sim)
    wait_for(lambda: "oops" in api.read_namespaced_pod_log("other", "default"))
    assert api.read_namespaced_pod_log("other", "default") == "hello\noops\n"
    assert api.read_namespaced_pod_log("other", "default", tail_lines=1) == "oops\n"
    stamped = api.read_namespaced_pod_log("other", "default", timestamps=True).splitlines()
    assert stamped[0].endswith("Z hello") and stamped[0][:4].isdigit()
    status, body = raw(sim, "GET", "/api/v1/namespaces/default/pods/other/log?container=nope")
    assert status == 400 and body["message"] == "container nope is not valid for pod other"
    status, body = raw(sim, "GET", "/api/v1/namespaces/default/pods/other/log?previous=true")
    assert (
        status == 400
        and body["message"] == 'previous terminated container "main" in pod "other" not found'
    )


def test_exec_without_upgrade_is_400(sim: KubeSim) -> None:
    status, body = raw(
        sim, "GET", "/api/v1/namespaces/default/pods/other/exec?command=true&stdout=true"
    )
    assert status == 400 and body["message"] == "Upgrade request required"
