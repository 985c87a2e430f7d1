"""The rendered manifests loaded into kubesim: its PodSecurity admission accepts the bot's pods
in a namespace enforcing `restricted` (and refuses them when any securityContext line is
dropped), and the `namespaced` overlay's Roles grant access in the listed namespaces only."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from kubesim import KubeSim
from kubesim.manifests import KINDS, ManifestError
from tests.deploy.conftest import BOT_NAMESPACE, Obj, bot_deployment, secret_template
from tests.kubesim.conftest import needs_root, raw

# A catalog image: the bot's own image is not in kubesim's catalog, and admission is about
# the pod spec, not the image.
CATALOG_IMAGE = "jdebug.local/busybox:latest"
BOT_IDENTITY = f"{BOT_NAMESPACE}/jdebug"
ENFORCE = "pod-security.kubernetes.io/enforce"


def loadable(docs: list[Obj], enforce: str | None = None) -> list[Obj]:
    """The objects kubesim can hold (plus the Secret template where it can), the bot's image
    swapped for a catalog one and, if asked, jdebug's namespace relabelled."""
    out = []
    for doc in [*docs, secret_template()]:
        if doc["kind"] not in KINDS:
            continue
        doc = copy.deepcopy(doc)
        if doc["kind"] == "Namespace" and doc["metadata"]["name"] == BOT_NAMESPACE and enforce:
            doc["metadata"]["labels"][ENFORCE] = enforce
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                container["image"] = CATALOG_IMAGE
        out.append(doc)
    return out


def write(tmp: Path, docs: list[Obj]) -> Path:
    path = tmp / "rendered.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return path


def bot_pods(sim: KubeSim) -> list[Obj]:
    status, answer = raw(sim, "GET", f"/api/v1/namespaces/{BOT_NAMESPACE}/pods")
    assert status == 200, answer
    return [
        p
        for p in answer["items"]
        # A Deployment's pods are its ReplicaSet's, as on a real cluster.
        if any(r["kind"] == "ReplicaSet" for r in p["metadata"].get("ownerReferences", []))
    ]


@needs_root
@pytest.mark.parametrize(("overlay", "enforce"), [("base", "restricted"), ("namespaced", None)])
def test_bot_pods_are_admitted_where_restricted_is_enforced(
    rendered: dict[str, list[Obj]], tmp_path: Path, overlay: str, enforce: str | None
) -> None:
    docs = loadable(rendered[overlay], enforce)
    namespace = next(
        d for d in docs if d["kind"] == "Namespace" and d["metadata"]["name"] == BOT_NAMESPACE
    )
    assert namespace["metadata"]["labels"][ENFORCE] == "restricted"
    with KubeSim(manifests=[write(tmp_path, docs)]) as sim:
        pods = bot_pods(sim)
        assert len(pods) == bot_deployment(docs)["spec"]["replicas"] == 2
        for pod in pods:
            assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
            assert pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"]


def _pod(deployment: Obj) -> Obj:
    spec: Obj = deployment["spec"]["template"]["spec"]
    return spec


def drop_allow_privilege_escalation(d: Obj) -> None:
    del _pod(d)["containers"][0]["securityContext"]["allowPrivilegeEscalation"]


def drop_capabilities(d: Obj) -> None:
    del _pod(d)["containers"][0]["securityContext"]["capabilities"]


def drop_run_as_non_root(d: Obj) -> None:
    del _pod(d)["securityContext"]["runAsNonRoot"]
    del _pod(d)["containers"][0]["securityContext"]["runAsNonRoot"]


def drop_seccomp(d: Obj) -> None:
    del _pod(d)["securityContext"]["seccompProfile"]
    del _pod(d)["containers"][0]["securityContext"]["seccompProfile"]


def add_host_pid(d: Obj) -> None:
    _pod(d)["hostPID"] = True


@needs_root
@pytest.mark.parametrize(
    ("weaken", "reason"),
    [
        (drop_allow_privilege_escalation, "allowPrivilegeEscalation != false"),
        (drop_capabilities, "unrestricted capabilities"),
        (drop_run_as_non_root, "runAsNonRoot != true"),
        (drop_seccomp, "seccompProfile"),
        (add_host_pid, "host namespaces"),
    ],
)
def test_restricted_namespace_refuses_the_bot_pod_without_each_security_setting(
    rendered: dict[str, list[Obj]], tmp_path: Path, weaken: Callable[[Obj], None], reason: str
) -> None:
    docs = loadable(rendered["base"], "restricted")
    weaken(bot_deployment(docs))
    with pytest.raises(ManifestError) as refused, KubeSim(manifests=[write(tmp_path, docs)]):
        pass
    assert 'violates PodSecurity "restricted:latest"' in str(refused.value)
    assert reason in str(refused.value)


@pytest.fixture(scope="module")
def namespaced_sim(
    rendered: dict[str, list[Obj]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KubeSim]:
    """The namespaced overlay's RBAC (no pods, so no root needed) and two app namespaces."""
    docs = [d for d in loadable(rendered["namespaced"]) if d["kind"] != "Deployment"]
    for name in ("apps", "elsewhere"):
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    with KubeSim(manifests=[write(tmp_path_factory.mktemp("namespaced"), docs)]) as sim:
        yield sim


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/v1/namespaces/apps/pods", True),
        ("GET", "/api/v1/namespaces/elsewhere/pods", False),
        # A Role grants `get` on its own Namespace object (the namespace's PodSecurity level).
        ("GET", "/api/v1/namespaces/apps", True),
        ("GET", "/api/v1/namespaces/elsewhere", False),
        ("GET", "/apis/apps/v1/namespaces/apps/deployments/web", True),
        ("GET", "/apis/apps/v1/namespaces/elsewhere/deployments/web", False),
        # The node strategy is off: no debug pods may be created, not even in jdebug's namespace.
        ("POST", f"/api/v1/namespaces/{BOT_NAMESPACE}/pods", False),
        ("GET", "/api/v1/pods", False),
    ],
)
def test_namespaced_rbac_reaches_listed_namespaces_only(
    namespaced_sim: KubeSim, method: str, path: str, allowed: bool
) -> None:
    body = (
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}} if method == "POST" else None
    )
    status, answer = raw(namespaced_sim, method, path, body, identity=BOT_IDENTITY)
    if allowed:
        # 404 for the missing Deployment is past RBAC.
        assert status in (200, 404), answer
    else:
        assert status == 403, answer
        assert f"system:serviceaccount:{BOT_NAMESPACE}:jdebug" in answer["message"]
