"""Pod lifecycle on real processes: deadlines, restarts, owner garbage collection, clean shutdown,
the CLI, and clear errors for broken manifests and images (never a crash)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesim import KubeSim
from kubesim.kubelet.images import ImageCatalogError, load_catalog
from kubesim.manifests import ManifestError
from tests.kubesim.conftest import MANIFESTS, core, kubectl, needs_root, pod_running, wait_for


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(grace_cap=0.5) as running:
        yield running


def shell_pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "main", "image": "jdebug.local/busybox", "command": ["sh", "-c", script]}
            ],
            **spec,
        },
    }


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@needs_root
def test_active_deadline_kills_the_pod(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod(
        "default", shell_pod("deadline", "sleep 600", activeDeadlineSeconds=1)
    )
    pod_running(api, "deadline")
    pids = sim.process_ids()
    pod = wait_for(
        lambda: (p := api.read_namespaced_pod("deadline", "default")).status.reason and p
    )
    assert pod.status.phase == "Failed" and pod.status.reason == "DeadlineExceeded"
    assert pod.status.message == "Pod was active on the node longer than the specified deadline"
    state = wait_for(
        lambda: (
            api.read_namespaced_pod("deadline", "default")
            .status.container_statuses[0]
            .state.terminated
        )
    )
    assert state.exit_code != 0
    assert not [pid for pid in pids if alive(pid) and pid not in sim.process_ids()]


def test_restart_policy_never_records_the_exit_code(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod(
        "default", shell_pod("once", "echo bye; exit 2", restartPolicy="Never")
    )
    pod = wait_for(
        lambda: (p := api.read_namespaced_pod("once", "default")).status.phase == "Failed" and p
    )
    state = pod.status.container_statuses[0].state.terminated
    assert (state.exit_code, state.reason, pod.status.container_statuses[0].restart_count) == (
        2,
        "Error",
        0,
    )
    assert state.started_at and state.finished_at
    assert api.read_namespaced_pod_log("once", "default") == "bye\n"


def test_restart_policy_on_failure_restarts_and_keeps_previous_log(sim: KubeSim) -> None:
    api = core(sim)
    api.create_namespaced_pod(
        "default", shell_pod("flaky", "echo run; exit 1", restartPolicy="OnFailure")
    )
    pod = wait_for(
        lambda: (
            (p := api.read_namespaced_pod("flaky", "default"))
            .status.container_statuses[0]
            .restart_count
            >= 1
            and p
        )
    )
    assert pod.status.container_statuses[0].last_state.terminated.exit_code == 1
    assert api.read_namespaced_pod_log("flaky", "default", previous=True) == "run\n"


def test_deleting_an_owner_collects_its_dependents(sim: KubeSim) -> None:
    api = core(sim)
    owner = api.create_namespaced_pod("default", shell_pod("owner", "sleep 600"))
    dependent = shell_pod("dependent", "sleep 600")
    dependent["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "Pod", "name": "owner", "uid": owner.metadata.uid}
    ]
    api.create_namespaced_pod("default", dependent)
    pod_running(api, "dependent")
    api.delete_namespaced_pod("owner", "default")
    wait_for(
        lambda: (
            not [
                p
                for p in api.list_namespaced_pod("default").items
                if p.metadata.name in ("owner", "dependent")
            ]
        ),
        what="owner and dependent gone",
    )


def test_stopping_kubesim_leaves_no_process(tmp_path: Path) -> None:
    with KubeSim(manifests=[MANIFESTS / "small.yaml"]) as running:
        pod_running(core(running), "other")
        pids = running.process_ids()
        assert len(pids) >= 4
    assert [pid for pid in pids if alive(pid)] == []


def test_cli_serves_until_sigterm_and_stops_its_processes(tmp_path: Path) -> None:
    config = tmp_path / "admin.yaml"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubesim",
            "serve",
            "--manifests",
            str(MANIFESTS / "small.yaml"),
            "--kubeconfig-out",
            str(config),
            "--in-cluster",
            f"default/debugger:{tmp_path / 'sa'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("kubesim serving https://127.0.0.1:")
        assert (tmp_path / "sa" / "namespace").read_text() == "default"
        out = subprocess.run(
            ["kubectl", "--kubeconfig", str(config), "get", "pods", "-o", "name"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert sorted(out.split()) == ["pod/cowweb", "pod/other"]
        children = [
            int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    assert [pid for pid in children if alive(pid)] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Pod\nmetadata: {name: x\n", "cannot read YAML"),
        ("apiVersion: v1\nkind: Gadget\nmetadata: {name: x}\n", "does not support kind 'Gadget'"),
        ("- just\n- a list\n", "expected a mapping, got list"),
        (
            "kind: Pod\nmetadata: {name: Bad}\nspec: {containers: [{name: c, image: x}]}\n",
            'Pod "Bad" is invalid: metadata.name: Invalid value: "Bad"',
        ),
        (
            "kind: Namespace\nmetadata: {name: strict, labels: {pod-security.kubernetes.io/enforce: baseline}}\n---\n"  # noqa: E501
            "kind: Pod\nmetadata: {name: p, namespace: strict}\nspec: {hostPID: true, containers: [{name: c, image: x}]}\n",  # noqa: E501
            'violates PodSecurity "baseline:latest": host namespaces (hostPID=true)',
        ),
    ],
)
def test_broken_manifests_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError) as caught, KubeSim(manifests=[path]):
        pass
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_broken_image_catalog_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "images.yaml"
    path.write_text("images:\n  x:1: {runtime: {kind: jdk, version: 17, path: srv/java}}\n")
    with pytest.raises(ImageCatalogError, match="runtime path must be absolute"):
        load_catalog(path)
    path.write_text("images:\n  x:1: {base: alpine}\n")
    with pytest.raises(ImageCatalogError, match="base must be one of debian, distroless"):
        load_catalog(path)
    path.write_text("images:\n  x:1: {tools: [no-such-tool]}\n")
    with pytest.raises(ImageCatalogError, match=r"tools \['no-such-tool'\] are not installed"):
        load_catalog(path)


def test_default_catalog_covers_the_seed_and_current_images() -> None:
    catalog = load_catalog()
    cowweb = catalog.find("registry.hub.docker.com/hhayakaw/cowweb:v2.1")
    assert (
        cowweb is not None and cowweb.user == 0 and cowweb.runtime and cowweb.runtime.kind == "jre"
    )
    assert catalog.find("docker.io/library/openjdk:11-jdk-slim") is not None
    assert catalog.find("hhayakaw/jdk11-debug") is not None
    for version in (11, 17, 21, 25):
        for kind in ("jdk", "jre"):
            image = catalog.find(f"eclipse-temurin:{version}-{kind}")
            assert (
                image
                and image.runtime
                and (image.runtime.kind, image.runtime.version) == (kind, version)
            )
        uid = catalog.find(f"jdebug.local/cowweb:{version}-uid1000")
        assert uid is not None and uid.user == 1000


def test_kubectl_get_works_against_an_empty_cluster(sim: KubeSim) -> None:
    # The namespaces every cluster starts with (kube-node-lease holds the node's Lease).
    assert kubectl(sim, "get", "namespaces", "-o", "name", check=True).stdout.split()[:3] == [
        "namespace/default",
        "namespace/kube-node-lease",
        "namespace/kube-system",
    ]
