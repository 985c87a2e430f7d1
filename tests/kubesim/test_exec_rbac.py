"""Exec and attach RBAC follow the server version kubesim reports, through kubectl and the
official client.

The authorization filter judges a request by its own verb (endpoints/request/requestinfo.go):
a websocket exec is a GET, so `get pods/exec`; kubectl's SPDY fallback is a POST, so `create`.
Up to 1.34 that is all. From 1.35 the pod registry's Connect also authorizes `create` for
exec, attach and portforward (pkg/registry/core/pod/rest/subresources.go and authorization.go,
ensureAuthorizedForVerb; gate AuthorizePodWebsocketUpgradeCreatePermission, beta and on by
default in 1.35, kubernetes/kubernetes#134577), and its 403 carries the authorizer's reason
alone, which RBAC leaves empty. Attach is checked here like exec; kubesim serves no
portforward.

kubectl (client-go's FallbackExecutor) retries a refused websocket upgrade over SPDY, which
kubesim does not serve; so kubectl is shown where its answer does not need SPDY.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.stream import stream

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, core, kubectl, needs_root, pod_running, raw

pytestmark = needs_root
EXEC = "/api/v1/namespaces/default/pods/shell/exec?command=true&stdout=true"


def world(version: str, gates: dict[str, bool] | None = None) -> Iterator[KubeSim]:
    with KubeSim(
        manifests=[MANIFESTS / "exec_rbac.yaml"], version=version, feature_gates=gates
    ) as running:
        pod_running(core(running), "shell")
        yield running


@pytest.fixture(scope="module")
def v131() -> Iterator[KubeSim]:
    yield from world("1.31")


@pytest.fixture(scope="module")
def v135() -> Iterator[KubeSim]:
    yield from world("1.35")


def python_exec(sim: KubeSim, account: str) -> str:
    api = core(sim, f"default/{account}")
    out: str = stream(
        api.connect_get_namespaced_pod_exec,
        "shell",
        "default",
        command=["sh", "-c", "echo in-the-pod"],
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
    )
    return out


def refusal(sim: KubeSim, account: str) -> tuple[int, str]:
    """What the upgrade request is answered before any stream starts."""
    status, body = raw(sim, "GET", EXEC, identity=f"default/{account}")
    return status, body["message"] if isinstance(body, dict) else body


def denied(account: str, verb: str) -> str:
    return (
        f'pods "shell" is forbidden: User "system:serviceaccount:default:{account}" cannot '
        f'{verb} resource "pods/exec" in API group "" in the namespace "default"'
    )


def test_up_to_134_a_websocket_exec_needs_get_alone(v131: KubeSim) -> None:
    assert python_exec(v131, "exec-get") == "in-the-pod\n"
    out = kubectl(v131, "exec", "shell", "--", "echo", "via-kubectl", identity="default/exec-get")
    assert (out.returncode, out.stdout) == (0, "via-kubectl\n")


def test_up_to_134_create_alone_is_refused_the_websocket_upgrade(v131: KubeSim) -> None:
    assert refusal(v131, "exec-create") == (403, denied("exec-create", "get"))
    with pytest.raises(client.ApiException) as refused:
        python_exec(v131, "exec-create")
    assert "Handshake status 403 Forbidden" in str(refused.value)
    assert json.dumps(denied("exec-create", "get"))[1:-1] in str(refused.value)


def test_from_135_get_alone_is_refused_by_the_registrys_create_check(v135: KubeSim) -> None:
    status, body = raw(v135, "GET", EXEC, identity="default/exec-get")
    assert status == 403
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "shell" is forbidden: ',
        "reason": "Forbidden",
        "details": {"name": "shell", "kind": "pods"},
        "code": 403,
    }
    with pytest.raises(client.ApiException) as refused:
        python_exec(v135, "exec-get")
    assert '"message": "pods \\"shell\\" is forbidden: "' in str(refused.value)
    # kubectl falls back to SPDY, a POST the filter judges as `create`, and prints that refusal.
    out = kubectl(v135, "exec", "shell", "--", "true", identity="default/exec-get")
    assert out.returncode == 1
    assert out.stderr.strip() == f"Error from server (Forbidden): {denied('exec-get', 'create')}"


def test_from_135_get_and_create_together_exec(v135: KubeSim) -> None:
    assert python_exec(v135, "exec-both") == "in-the-pod\n"
    out = kubectl(v135, "exec", "shell", "--", "echo", "via-kubectl", identity="default/exec-both")
    assert (out.returncode, out.stdout) == (0, "via-kubectl\n")
    assert refusal(v135, "exec-create") == (403, denied("exec-create", "get"))


def attach_refusal(sim: KubeSim, account: str) -> tuple[int, str]:
    path = "/api/v1/namespaces/default/pods/shell/attach?container=main&stdout=true"
    status, body = raw(sim, "GET", path, identity=f"default/{account}")
    return status, body["message"]


def python_attach(sim: KubeSim, account: str) -> None:
    """Open an attach websocket to the shell pod's container and close it again."""
    ws = stream(
        core(sim, f"default/{account}").connect_get_namespaced_pod_attach,
        "shell",
        "default",
        container="main",
        stdout=True,
        _preload_content=False,
    )
    assert ws.is_open()
    ws.close()


def test_attach_follows_the_same_rule_as_exec_on_131(v131: KubeSim) -> None:
    """A websocket attach is a GET: `get` on pods/attach lets it through authorization (it
    then fails only for want of the upgrade), `create` alone does not."""
    assert attach_refusal(v131, "exec-get") == (400, "Upgrade request required")
    python_attach(v131, "exec-get")
    assert attach_refusal(v131, "exec-create") == (
        403,
        denied("exec-create", "get").replace("pods/exec", "pods/attach"),
    )


def test_attach_follows_the_same_rule_as_exec_from_135(v135: KubeSim) -> None:
    assert attach_refusal(v135, "exec-get") == (403, 'pods "shell" is forbidden: ')
    with pytest.raises(client.ApiException) as refused:
        python_attach(v135, "exec-get")
    assert "Handshake status 403 Forbidden" in str(refused.value)
    assert attach_refusal(v135, "exec-both") == (400, "Upgrade request required")
    python_attach(v135, "exec-both")


def test_the_135_check_can_be_turned_off_with_its_feature_gate() -> None:
    gates = {"AuthorizePodWebsocketUpgradeCreatePermission": False}
    for sim in world("1.35", gates):
        assert python_exec(sim, "exec-get") == "in-the-pod\n"


def test_the_gate_is_unknown_before_135() -> None:
    gates = {"AuthorizePodWebsocketUpgradeCreatePermission": True}
    with pytest.raises(ValueError, match="unrecognized feature gate"):
        KubeSim(version="1.34", feature_gates=gates)


def test_access_reviews_judge_each_verb_on_its_own(v135: KubeSim) -> None:
    """SelfSubjectAccessReview asks RBAC about one verb: the compound check is the
    registry's, so `get` still reads as allowed for exec-get on 1.35."""
    for verb, allowed in (("get", True), ("create", False)):
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": "default",
                    "verb": verb,
                    "resource": "pods",
                    "subresource": "exec",
                }
            },
        }
        path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        status, body = raw(v135, "POST", path, review, identity="default/exec-get")
        assert status == 201, json.dumps(body)
        assert body["status"]["allowed"] is allowed
