"""The `nodes` resource: kubesim's one node as its kubelet registers it, through kubectl and the
official client; cluster-scoped RBAC applies to it.

Expected figures come from this machine, read here independently of kubesim: `uname -r` and
`uname -m` (Go's names: x86_64 is amd64, aarch64 arm64), /etc/os-release and /proc/meminfo.
The condition texts are the kubelet's (pkg/kubelet/nodestatus/setters.go).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, watch

from kubesim import KubeSim
from tests.kubesim.conftest import MANIFESTS, api_client, core, kubectl, raw
from tests.support.polling import wait_for

GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"], grace_cap=0.5) as running:
        yield running


def uname(flag: str) -> str:
    return subprocess.run(
        ["uname", flag], capture_output=True, text=True, check=True
    ).stdout.strip()


def os_image() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    raise AssertionError("no PRETTY_NAME in /etc/os-release")


def test_kubectl_get_nodes_shows_the_one_ready_node(sim: KubeSim) -> None:
    out = kubectl(sim, "get", "nodes", check=True).stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    name, status, roles, _age, version = out[1].split()
    assert (name, status, roles, version) == ("kubesim", "Ready", "<none>", "v1.31.0-kubesim")
    assert len(out) == 2


def test_kubectl_get_nodes_wide_reads_this_machine(sim: KubeSim) -> None:
    out = kubectl(sim, "get", "nodes", "-o", "wide", check=True).stdout.splitlines()
    assert re.split(r"\s{2,}", out[0].strip())[5:] == [
        "INTERNAL-IP",
        "EXTERNAL-IP",
        "OS-IMAGE",
        "KERNEL-VERSION",
        "CONTAINER-RUNTIME",
    ]
    cells = re.split(r"\s{2,}", out[1].strip())
    assert cells[5:9] == ["127.0.0.1", "<none>", os_image(), uname("-r")]
    assert cells[9].startswith("kubesim://")


def test_kubectl_describe_node_has_system_info_conditions_pods_and_lease(sim: KubeSim) -> None:
    out = kubectl(sim, "describe", "node", "kubesim", check=True).stdout
    arch = GO_ARCH.get(uname("-m"), uname("-m"))
    for line in (
        r"Name:\s+kubesim",
        r"Roles:\s+<none>",
        rf"kubernetes.io/arch={arch}",
        r"kubernetes.io/hostname=kubesim",
        r"kubernetes.io/os=linux",
        r"HolderIdentity:\s+kubesim",
        rf"Kernel Version:\s+{re.escape(uname('-r'))}",
        rf"OS Image:\s+{re.escape(os_image())}",
        r"Operating System:\s+linux",
        rf"Architecture:\s+{arch}",
        r"Kubelet Version:\s+v1.31.0-kubesim",
        r"Ready\s+True\s.*KubeletReady\s+kubelet is posting ready status",
        r"MemoryPressure\s+False\s.*KubeletHasSufficientMemory",
        r"InternalIP:\s+127.0.0.1",
        r"default\s+cowweb\s",
    ):
        assert re.search(line, out), f"{line!r} not in:\n{out}"


def test_the_official_client_reads_labels_capacity_and_node_info(sim: KubeSim) -> None:
    (node,) = core(sim).list_node().items
    arch = GO_ARCH.get(uname("-m"), uname("-m"))
    assert node.metadata.name == "kubesim"
    assert node.metadata.labels["kubernetes.io/arch"] == arch
    assert node.metadata.labels["kubernetes.io/hostname"] == "kubesim"
    info = node.status.node_info
    assert (info.architecture, info.kernel_version, info.operating_system) == (
        arch,
        uname("-r"),
        "linux",
    )
    assert info.kubelet_version == "v1.31.0-kubesim"
    mem_kb = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    assert node.status.capacity["memory"] == f"{mem_kb}Ki"
    assert node.status.allocatable["memory"] == f"{int(mem_kb) - 102400}Ki"
    ready = [c for c in node.status.conditions if c.type == "Ready"]
    assert [(c.status, c.reason) for c in ready] == [("True", "KubeletReady")]
    assert raw(sim, "GET", "/version")[1]["platform"] == f"linux/{arch}"


def test_a_node_watch_sees_a_label_change(sim: KubeSim) -> None:
    api = core(sim)
    listed = api.list_node()
    seen: list[tuple[str, dict[str, str]]] = []

    def follow() -> None:
        for event in watch.Watch().stream(
            api.list_node, resource_version=listed.metadata.resource_version, timeout_seconds=10
        ):
            seen.append((event["type"], event["object"].metadata.labels))
            if "zone" in (event["object"].metadata.labels or {}):
                return

    follower = threading.Thread(target=follow)
    follower.start()
    kubectl(sim, "label", "node", "kubesim", "zone=here", check=True)
    follower.join(20)
    assert ("MODIFIED", "here") in [(t, labels.get("zone")) for t, labels in seen]


def test_nodes_are_cluster_scoped_for_rbac(sim: KubeSim) -> None:
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "node-reader"},
        "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}],
    }
    assert raw(sim, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role)[0] == 201
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "node-reader"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "node-reader",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "default"}],
    }
    rbs = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings"
    assert raw(sim, "POST", rbs, {**binding, "kind": "RoleBinding"})[0] == 201
    reader = client.CoreV1Api(api_client(sim, "default/reader"))
    with pytest.raises(client.ApiException) as refused:
        reader.list_node()
    assert refused.value.status == 403
    assert json.loads(refused.value.body)["message"] == (
        'nodes is forbidden: User "system:serviceaccount:default:reader" cannot list resource '
        '"nodes" in API group "" at the cluster scope'
    )
    crbs = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
    assert raw(sim, "POST", crbs, {**binding, "kind": "ClusterRoleBinding"})[0] == 201
    assert [n.metadata.name for n in reader.list_node().items] == ["kubesim"]


def test_the_node_lists_the_images_it_holds_largest_first(sim: KubeSim) -> None:
    """status.images as the kubelet reports them (nodestatus.Images): by size, each named by
    its repository digest then its tag, with the compressed size the catalog declares
    (kubesim/kubelet/images.yaml: 205 MB for the JDK image, 95 MB for the JRE); an image
    the node drops (`crictl rmi`) leaves the list."""
    api = core(sim)
    for name, image in (("jre", "eclipse-temurin:25-jre"), ("jdk", "eclipse-temurin:25-jdk")):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"uses-{name}"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": image, "command": ["true"]}],
            },
        }
        api.create_namespaced_pod("default", pod)
    ids = {
        name: wait_for(
            lambda name=name: image_id(api, f"uses-{name}"), what=f"uses-{name} to start"
        )
        for name in ("jre", "jdk")
    }

    def listed() -> list[tuple[list[str], int]]:
        images = api.read_node("kubesim").status.images or []
        return [(i.names, i.size_bytes) for i in images if "eclipse-temurin" in i.names[-1]]

    assert listed() == [
        ([ids["jdk"], "docker.io/library/eclipse-temurin:25-jdk"], 205_000_000),
        ([ids["jre"], "docker.io/library/eclipse-temurin:25-jre"], 95_000_000),
    ]
    assert ids["jdk"].startswith("docker.io/library/eclipse-temurin@sha256:")
    assert sim.remove_image("eclipse-temurin:25-jdk")
    assert [names[-1] for names, _ in listed()] == ["docker.io/library/eclipse-temurin:25-jre"]


def image_id(api: client.CoreV1Api, pod: str) -> str | None:
    statuses = api.read_namespaced_pod(pod, "default").status.container_statuses or []
    return next((s.image_id for s in statuses if s.image_id), None)


def test_nodes_have_no_namespaced_path(sim: KubeSim) -> None:
    status, body = raw(sim, "GET", "/api/v1/namespaces/default/nodes")
    assert (status, body["message"]) == (404, "the server could not find the requested resource")
