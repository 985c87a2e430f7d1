"""`pods/ephemeralcontainers` validation: every rule answers the apiserver's 422 (or 404/405/400)."""  # noqa: E501

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, raw

PATH = "/api/v1/namespaces/default/pods/cowweb/ephemeralcontainers"
SMP = "application/strategic-merge-patch+json"
FORBIDDEN = "Forbidden: cannot be set for an Ephemeral Container"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"]) as running:
        yield running


def patch(sim: KubeSim, *containers: dict[str, Any]) -> tuple[int, Any, str]:
    """(status, body, path of the first new container): the patch appends after existing ones."""
    _, pod = raw(sim, "GET", PATH)
    index = len(pod["spec"].get("ephemeralContainers") or [])
    status, body = raw(sim, "PATCH", PATH, {"spec": {"ephemeralContainers": list(containers)}}, SMP)
    return status, body, f"spec.ephemeralContainers[{index}]"


def debugger(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "jdebug.local/busybox", "command": ["true"], **extra}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ports", [{"containerPort": 8080}]),
        ("resources", {"limits": {"cpu": "1"}}),
        ("livenessProbe", {"exec": {"command": ["true"]}}),
        ("readinessProbe", {"exec": {"command": ["true"]}}),
        ("startupProbe", {"exec": {"command": ["true"]}}),
        ("lifecycle", {"preStop": {"exec": {"command": ["true"]}}}),
        ("restartPolicy", "Always"),
        ("resizePolicy", [{"resourceName": "cpu", "restartPolicy": "NotRequired"}]),
    ],
)
def test_forbidden_field_is_422_with_field_cause(sim: KubeSim, field: str, value: Any) -> None:
    status, body, at = patch(sim, debugger(f"bad-{field.lower()}", **{field: value}))
    assert status == 422
    assert body["reason"] == "Invalid" and body["kind"] == "Status" and body["code"] == 422
    assert body["message"] == f'Pod "cowweb" is invalid: {at}.{field}: {FORBIDDEN}'
    assert body["details"]["causes"] == [
        {"reason": "FieldValueForbidden", "message": FORBIDDEN, "field": f"{at}.{field}"}
    ]
    assert body["details"]["name"] == "cowweb" and body["details"]["kind"] == "Pod"


@pytest.mark.parametrize("key", ["subPath", "subPathExpr"])
def test_volume_mount_subpath_is_forbidden(sim: KubeSim, key: str) -> None:
    mount = {"name": "data", "mountPath": "/data", key: "x"}
    status, body, at = patch(sim, debugger("subpath", volumeMounts=[mount]))
    assert status == 422
    assert body["details"]["causes"][0]["field"] == f"{at}.volumeMounts[0].{key}"


def test_empty_resources_as_kubectl_sends_are_accepted(sim: KubeSim) -> None:
    status, body, _at = patch(sim, debugger("empty-resources", resources={}))
    assert status == 200, body


def test_security_context_is_allowed(sim: KubeSim) -> None:
    sc = {"capabilities": {"add": ["SYS_PTRACE"]}, "runAsUser": 0}
    status, body, _at = patch(sim, debugger("with-sc", securityContext=sc))
    assert status == 200, body
    added = next(c for c in body["spec"]["ephemeralContainers"] if c["name"] == "with-sc")
    assert added["securityContext"] == sc


def test_duplicate_of_a_regular_container_name(sim: KubeSim) -> None:
    status, body, at = patch(sim, debugger("cowweb"))
    assert status == 422
    assert body["message"] == f'Pod "cowweb" is invalid: {at}.name: Duplicate value: "cowweb"'
    assert body["details"]["causes"][0]["reason"] == "FieldValueDuplicate"


def test_unknown_target_container(sim: KubeSim) -> None:
    status, body, at = patch(sim, debugger("targets-app", targetContainerName="app"))
    assert status == 422
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueNotFound",
            "message": 'Not found: "app"',
            "field": f"{at}.targetContainerName",
        }
    ]


def test_missing_image_is_required(sim: KubeSim) -> None:
    status, body, at = patch(sim, {"name": "no-image", "command": ["true"]})
    assert status == 422
    assert body["message"] == f'Pod "cowweb" is invalid: {at}.image: Required value'
    assert body["details"]["causes"][0]["reason"] == "FieldValueRequired"


def test_several_errors_are_listed_in_brackets(sim: KubeSim) -> None:
    status, body, at = patch(sim, {"name": "multi", "ports": [{"containerPort": 1}]})
    assert status == 422
    assert body["message"] == (
        f'Pod "cowweb" is invalid: [{at}.image: Required value, {at}.ports: {FORBIDDEN}]'
    )
    assert len(body["details"]["causes"]) == 2


def test_existing_ephemeral_containers_cannot_be_removed_or_changed(sim: KubeSim) -> None:
    assert patch(sim, debugger("keeper"))[0] == 200
    status, pod = raw(sim, "GET", PATH)
    assert status == 200 and pod["kind"] == "Pod"
    others = [c for c in pod["spec"]["ephemeralContainers"] if c["name"] != "keeper"]
    pod["spec"]["ephemeralContainers"] = others
    status, body = raw(sim, "PUT", PATH, pod)
    assert status == 422
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "field": "spec.ephemeralContainers",
            "message": 'Forbidden: existing ephemeral containers "keeper" may not be removed',
        }
    ]
    ops = [{"op": "replace", "path": "/spec/ephemeralContainers/0/image", "value": "other:1"}]
    status, body = raw(sim, "PATCH", PATH, ops, "application/json-patch+json")
    assert status == 422
    assert "may not be changed" in body["message"]


def test_merge_patch_and_put_also_add_containers(sim: KubeSim) -> None:
    status, pod = raw(sim, "GET", PATH)
    merged = [*pod["spec"]["ephemeralContainers"], debugger("via-merge")]
    status, body = raw(
        sim,
        "PATCH",
        PATH,
        {"spec": {"ephemeralContainers": merged}},
        "application/merge-patch+json",
    )
    assert status == 200, body
    body["spec"]["ephemeralContainers"].append(debugger("via-put"))
    body["spec"]["containers"][0]["image"] = "ignored:1"  # other changes are silently dropped
    # Unconditional: the kubelet writes the new container's status meanwhile, and a PUT of
    # the resourceVersion read would be (rightly) a 409.
    del body["metadata"]["resourceVersion"]
    status, after = raw(sim, "PUT", PATH, body)
    assert status == 200, after
    assert [c["name"] for c in after["spec"]["ephemeralContainers"]][-2:] == [
        "via-merge",
        "via-put",
    ]
    assert after["spec"]["containers"][0]["image"] == "jdebug.local/busybox"
    assert after["metadata"]["generation"] > pod["metadata"].get("generation", 1)


def test_set_element_order_as_kubectl_sends_it(sim: KubeSim) -> None:
    _, pod = raw(sim, "GET", PATH)
    names = [c["name"] for c in pod["spec"]["ephemeralContainers"]]
    body = {
        "spec": {
            "$setElementOrder/ephemeralContainers": [{"name": n} for n in [*names, "ordered"]],
            "ephemeralContainers": [debugger("ordered")],
        }
    }
    status, after = raw(sim, "PATCH", PATH, body, SMP)
    assert status == 200, after
    assert [c["name"] for c in after["spec"]["ephemeralContainers"]] == [*names, "ordered"]


def test_delete_on_the_subresource_is_405(sim: KubeSim) -> None:
    status, body = raw(sim, "DELETE", PATH)
    assert status == 405 and body["reason"] == "MethodNotAllowed" and body["kind"] == "Status"


def test_seed_1_16_ephemeral_containers_kind_is_a_bad_request(sim: KubeSim) -> None:
    seed = {
        "apiVersion": "v1",
        "kind": "EphemeralContainers",
        "metadata": {"name": "cowweb"},
        "ephemeralContainers": [debugger("jdebug")],
    }
    status, body = raw(sim, "PUT", PATH, seed)
    assert status == 400 and body["reason"] == "BadRequest"
    assert 'no kind "EphemeralContainers" is registered' in body["message"]


def test_unsupported_patch_type_is_415(sim: KubeSim) -> None:
    status, body = raw(sim, "PATCH", PATH, {"spec": {}}, "text/plain")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"


@pytest.mark.parametrize(
    ("version", "gates"), [("1.31", {"EphemeralContainers": False}), ("1.22", {})]
)
def test_old_or_disabled_clusters_answer_404_with_empty_details(
    version: str, gates: dict[str, bool]
) -> None:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"], version=version, feature_gates=gates) as old:
        status, body = raw(
            old, "PATCH", PATH, {"spec": {"ephemeralContainers": [debugger("x")]}}, SMP
        )
        assert status == 404
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "details": {},
            "code": 404,
        }
        _, resources = raw(old, "GET", "/api/v1")
        assert "pods/ephemeralcontainers" not in [r["name"] for r in resources["resources"]]


def test_debug_containers_added_at_once_all_land(sim: KubeSim) -> None:
    """Concurrent patches each add their container; none overwrites another's (the load test
    lost one this way when twenty users debugged the same pod at once). The bodies are large,
    like the bot's (it sends every existing container back), so the server reads each in
    several chunks while the others arrive."""
    names = [f"at-once-{n}" for n in range(12)]
    # each below Linux's 128 kB limit for one argument; twelve stay below etcd's 1.5 MiB
    padding = ["#" * 50_000] * 2

    def add(name: str) -> tuple[int, Any]:
        body = {"spec": {"ephemeralContainers": [debugger(name, args=padding)]}}
        return raw(sim, "PATCH", PATH, body, SMP)

    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(add, names))
    assert [status for status, _ in results] == [200] * len(names)
    _, pod = raw(sim, "GET", PATH)
    present = {c["name"] for c in pod["spec"]["ephemeralContainers"]}
    assert set(names) <= present
