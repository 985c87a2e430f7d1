"""RBAC denials and SelfSubjectAccessReview agree; PodSecurity rejects with the real 403 text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kubesim import KubeSim
from kubesim.admission.podsecurity import violations
from tests.kubesim.conftest import MANIFESTS, all_running, raw

DEBUGGER = "default/debugger"
EPHEMERAL = "/api/v1/namespaces/default/pods/{}/ephemeralcontainers"
SMP = "application/strategic-merge-patch+json"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"]) as running:
        yield all_running(running, "cowweb", "other")


def ssar(sim: KubeSim, identity: str, **attrs: str) -> dict[str, Any]:
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs},
    }
    status, out = raw(
        sim,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body,
        identity=identity,
    )
    assert status == 201
    result: dict[str, Any] = out["status"]
    return result


def add_debugger(sim: KubeSim, pod: str, identity: str, name: str) -> tuple[int, Any]:
    patch = {
        "spec": {
            "ephemeralContainers": [
                {"name": name, "image": "jdebug.local/busybox", "command": ["true"]}
            ]
        }
    }
    return raw(sim, "PATCH", EPHEMERAL.format(pod), patch, SMP, identity=identity)


def test_patch_ephemeral_allowed_by_role_and_ssar_agrees(sim: KubeSim) -> None:
    status, body = add_debugger(sim, "cowweb", DEBUGGER, "rbac-ok")
    assert status == 200, body
    review = ssar(
        sim,
        DEBUGGER,
        namespace="default",
        verb="patch",
        group="",
        resource="pods",
        subresource="ephemeralcontainers",
        name="cowweb",
    )
    assert review["allowed"] is True
    assert review["reason"] == (
        'RBAC: allowed by RoleBinding "debugger/default" of Role "debugger" '
        'to ServiceAccount "debugger/default"'
    )


def test_patch_ephemeral_outside_resource_names_is_denied_and_ssar_agrees(sim: KubeSim) -> None:
    status, body = add_debugger(sim, "other", DEBUGGER, "rbac-denied")
    assert status == 403
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        'pods "other" is forbidden: User "system:serviceaccount:default:debugger" cannot patch '
        'resource "pods/ephemeralcontainers" in API group "" in the namespace "default"'
    )
    assert body["details"] == {"name": "other", "kind": "pods"}
    review = ssar(
        sim,
        DEBUGGER,
        namespace="default",
        verb="patch",
        resource="pods",
        subresource="ephemeralcontainers",
        name="other",
    )
    assert review == {"allowed": False}


def test_exec_on_131_is_authorized_by_its_own_verb_get(sim: KubeSim) -> None:
    """Before 1.35 a websocket exec (a GET) needs `get` on pods/exec alone: the request
    passes authorization and fails only for want of an upgrade (tests/kubesim/
    test_exec_rbac.py has both versions)."""
    status, body = raw(
        sim, "GET", "/api/v1/namespaces/default/pods/other/exec?command=true", identity=DEBUGGER
    )
    assert (status, body["message"]) == (400, "Upgrade request required")
    assert ssar(
        sim, DEBUGGER, namespace="default", verb="get", resource="pods", subresource="exec"
    )["allowed"]
    assert not ssar(
        sim, DEBUGGER, namespace="default", verb="create", resource="pods", subresource="exec"
    )["allowed"]


def test_role_binding_to_cluster_role_is_namespaced(sim: KubeSim) -> None:
    reader = "default/reader"
    assert raw(sim, "GET", "/api/v1/namespaces/baseline/pods", identity=reader)[0] == 200
    status, body = raw(sim, "GET", "/api/v1/namespaces/default/pods", identity=reader)
    assert status == 403
    assert body["message"] == (
        'pods is forbidden: User "system:serviceaccount:default:reader" cannot '
        'list resource "pods" in API group "" in the namespace "default"'
    )
    status, body = raw(sim, "GET", "/api/v1/namespaces", identity=reader)
    assert status == 403 and body["message"].endswith("at the cluster scope")


def test_baseline_rejects_sys_ptrace_on_create(sim: KubeSim) -> None:
    pod = {
        "metadata": {"name": "ptrace"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "jdebug.local/busybox",
                    "securityContext": {"capabilities": {"add": ["SYS_PTRACE", "NET_ADMIN"]}},
                }
            ]
        },
    }
    status, body = raw(sim, "POST", "/api/v1/namespaces/baseline/pods", pod)
    assert status == 403 and body["reason"] == "Forbidden"
    assert body["message"] == (
        'pods "ptrace" is forbidden: violates PodSecurity "baseline:latest": non-default '
        'capabilities (container "app" must not include "NET_ADMIN", "SYS_PTRACE" in '
        "securityContext.capabilities.add)"
    )


def test_restricted_lists_every_failed_check_with_the_version_label(sim: KubeSim) -> None:
    pod = {
        "metadata": {"name": "loose"},
        "spec": {"containers": [{"name": "app", "image": "jdebug.local/busybox"}]},
    }
    status, body = raw(sim, "POST", "/api/v1/namespaces/restricted/pods", pod)
    assert status == 403
    assert body["message"] == (
        'pods "loose" is forbidden: violates PodSecurity "restricted:v1.30": '
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), '  # noqa: E501
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), '  # noqa: E501
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'  # noqa: E501
    )


def test_ephemeral_update_is_evaluated_with_the_whole_pod(sim: KubeSim) -> None:
    strict = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    pod = {
        "metadata": {"name": "compliant"},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "app",
                    "image": "jdebug.local/busybox",
                    "command": ["sleep", "600"],
                    "securityContext": strict,
                }
            ],
        },
    }
    assert raw(sim, "POST", "/api/v1/namespaces/restricted/pods", pod)[0] == 201
    patch = {
        "spec": {
            "ephemeralContainers": [
                {"name": "dbg", "image": "jdebug.local/busybox", "targetContainerName": "app"}
            ]
        }
    }
    path = "/api/v1/namespaces/restricted/pods/compliant/ephemeralcontainers"
    status, body = raw(sim, "PATCH", path, patch, SMP)
    assert status == 403
    assert body["message"].startswith(
        'pods "compliant" is forbidden: violates PodSecurity "restricted:v1.30": '
        'allowPrivilegeEscalation != false (container "dbg" must set'
    )
    assert '"app"' not in body["message"]
    patch["spec"]["ephemeralContainers"][0]["securityContext"] = strict
    assert raw(sim, "PATCH", path, patch, SMP)[0] == 200


@pytest.mark.parametrize(
    ("spec", "level", "expected"),
    [
        (
            {"hostPID": True, "containers": [{"name": "a"}]},
            "baseline",
            ["host namespaces (hostPID=true)"],
        ),
        (
            {"containers": [{"name": "a", "securityContext": {"privileged": True}}]},
            "baseline",
            ['privileged (container "a" must not set securityContext.privileged=true)'],
        ),
        (
            {
                "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                "containers": [{"name": "a"}],
            },
            "baseline",
            ['hostPath volumes (volume "root")'],
        ),
        (
            {
                "containers": [
                    {"name": "a", "securityContext": {"capabilities": {"add": ["CHOWN"]}}}
                ]
            },
            "baseline",
            [],
        ),
        ({"containers": [{"name": "a"}]}, "privileged", []),
    ],
)
def test_baseline_checks(spec: dict[str, Any], level: str, expected: list[str]) -> None:
    assert violations({"metadata": {"name": "p"}, "spec": spec}, level) == expected
