"""kubectl's writes against kubesim, as `kubectl apply -k deploy/...` and the README's install
make them: client-side apply (create, then strategic-merge patches), server-side field
validation, namespace deletion, and Deployments rolled out by kubesim's controller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubesim import KubeSim
from tests.kubesim.conftest import kubectl, needs_root, raw, wait_for

IMAGE = "jdebug.local/busybox:latest"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@pytest.fixture
def cluster() -> Iterator[KubeSim]:
    with KubeSim() as sim:
        yield sim


def manifest(*docs: dict[str, object]) -> str:
    return yaml.safe_dump_all(docs)


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}


def settings(data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "shop"},
        "data": data,
    }


def test_apply_creates_then_reports_unchanged_then_patches(cluster: KubeSim) -> None:
    first = kubectl(
        cluster, "apply", "-f", "-", stdin=manifest(NS, settings({"A": "1"})), check=True
    )
    assert first.stdout.split("\n")[:2] == ["namespace/shop created", "configmap/settings created"]
    again = kubectl(
        cluster, "apply", "-f", "-", stdin=manifest(NS, settings({"A": "1"})), check=True
    )
    assert "configmap/settings unchanged" in again.stdout
    assert "namespace/shop unchanged" in again.stdout
    changed = kubectl(
        cluster, "apply", "-f", "-", stdin=manifest(NS, settings({"B": "2"})), check=True
    )
    assert "configmap/settings configured" in changed.stdout
    stored = json.loads(
        kubectl(cluster, "get", "-n", "shop", "cm/settings", "-o", "json", check=True).stdout
    )
    # The three-way patch removed what the last applied configuration had and this one lacks.
    assert stored["data"] == {"B": "2"}
    applied = stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert json.loads(applied)["data"] == {"B": "2"}


def service(target_port: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": target_port},
                {"name": "admin", "port": 81, "targetPort": "admin"},
            ],
        },
    }


def test_patches_merge_lists_by_each_kinds_own_merge_key(cluster: KubeSim) -> None:
    # A Service's ports merge by `port` (a Pod's by containerPort): the kind's schema decides.
    kubectl(cluster, "apply", "-f", "-", stdin=manifest(NS, service("http")), check=True)
    changed = kubectl(cluster, "apply", "-f", "-", stdin=manifest(NS, service("web")), check=True)
    assert "service/web configured" in changed.stdout
    stored = json.loads(
        kubectl(cluster, "get", "-n", "shop", "svc/web", "-o", "json", check=True).stdout
    )
    ports = [(p["port"], p["targetPort"]) for p in stored["spec"]["ports"]]
    assert ports == [(80, "web"), (81, "admin")]


def test_unknown_fields_are_refused_with_the_apiservers_strict_decoding_error(
    cluster: KubeSim,
) -> None:
    typo = settings({"A": "1"}) | {"dataa": {"B": "2"}}
    refused = kubectl(cluster, "apply", "-f", "-", stdin=manifest(NS, typo), check=False)
    assert refused.returncode != 0
    assert (
        'Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" '
        'cannot be handled as a ConfigMap: strict decoding error: unknown field "dataa"'
    ) in refused.stderr
    # Without validation kubectl sends fieldValidation=Ignore: stored, the unknown field dropped.
    kubectl(cluster, "apply", "--validate=false", "-f", "-", stdin=manifest(NS, typo), check=True)
    stored = json.loads(
        kubectl(cluster, "get", "-n", "shop", "cm/settings", "-o", "json", check=True).stdout
    )
    assert "dataa" not in stored and stored["data"] == {"A": "1"}


@needs_root
def test_a_pod_with_a_misspelt_field_is_refused_and_warned_about_without_validation(
    cluster: KubeSim,
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "typo"},
        "spec": {"containers": [{"name": "c", "image": IMAGE, "comand": ["sleep", "60"]}]},
    }
    refused = kubectl(cluster, "apply", "-f", "-", stdin=manifest(pod), check=False)
    assert 'strict decoding error: unknown field "spec.containers[0].comand"' in refused.stderr
    warned = kubectl(
        cluster, "create", "--validate=warn", "-f", "-", stdin=manifest(pod), check=True
    )
    assert 'Warning: unknown field "spec.containers[0].comand"' in warned.stderr
    stored = json.loads(kubectl(cluster, "get", "pod/typo", "-o", "json", check=True).stdout)
    assert "comand" not in stored["spec"]["containers"][0]


def test_a_deleted_namespace_refuses_new_content_and_goes_with_everything_in_it(
    cluster: KubeSim,
) -> None:
    kubectl(cluster, "apply", "-f", "-", stdin=manifest(NS, settings({"A": "1"})), check=True)
    kubectl(cluster, "delete", "namespace", "shop", "--wait=false", check=True)
    # The controller starts DELETION_GRACE (5 s) after the delete, so the namespace is still
    # there, Terminating, and refuses new content.
    late = kubectl(cluster, "create", "configmap", "late", "-n", "shop", check=False)
    assert late.returncode != 0
    assert (
        'configmaps "late" is forbidden: unable to create new content in namespace shop '
        "because it is being terminated"
    ) in late.stderr
    gone = kubectl(cluster, "get", "namespace", "shop", "-o", "json", check=True)
    assert json.loads(gone.stdout)["status"]["phase"] == "Terminating"
    kubectl(
        cluster, "wait", "--for=delete", "namespace/shop", "--timeout=60s", check=True, timeout=120
    )
    left = kubectl(cluster, "get", "configmaps", "-A", "-o", "json", check=True)
    assert [i["metadata"]["name"] for i in json.loads(left.stdout)["items"]] == []


def test_deleting_a_terminating_namespace_again_is_a_conflict_even_ignoring_not_found(
    cluster: KubeSim, tmp_path: Path
) -> None:
    """What README step 8 warns of: `kubectl delete -k` run again while the namespace is being
    emptied fails on the apiserver's 409, `--ignore-not-found` or not; once the namespace is
    gone it succeeds."""
    (tmp_path / "all.yaml").write_text(manifest(NS, settings({"A": "1"})))
    (tmp_path / "kustomization.yaml").write_text("resources: [all.yaml]\n")
    kubectl(cluster, "apply", "-k", str(tmp_path), check=True)
    kubectl(cluster, "delete", "-k", str(tmp_path), "--wait=false", check=True)
    again = kubectl(cluster, "delete", "-k", str(tmp_path), "--ignore-not-found", check=False)
    assert again.returncode != 0
    assert (
        'Error from server (Conflict): error when deleting "' in again.stderr
        and 'Operation cannot be fulfilled on namespaces "shop": The system is ensuring all '
        "content is removed from this namespace.  Upon completion, this namespace will "
        "automatically be purged by the system."
        in again.stderr
    ), again.stderr
    status, body = raw(cluster, "DELETE", "/api/v1/namespaces/shop")
    assert status == 409
    assert body["reason"] == "Conflict"
    assert body["details"] == {"name": "shop", "kind": "namespaces"}
    # A dry run is refused alike: the registry's check comes before the dry-run update.
    status, body = raw(cluster, "DELETE", "/api/v1/namespaces/shop?dryRun=All")
    assert (status, body["reason"]) == (409, "Conflict")
    kubectl(
        cluster, "wait", "--for=delete", "namespace/shop", "--timeout=60s", check=True, timeout=120
    )
    kubectl(cluster, "delete", "-k", str(tmp_path), "--ignore-not-found", check=True)


def test_a_dry_run_namespace_delete_answers_it_terminating_and_changes_nothing(
    cluster: KubeSim,
) -> None:
    kubectl(cluster, "create", "namespace", "shop", check=True)
    status, body = raw(cluster, "DELETE", "/api/v1/namespaces/shop?dryRun=All")
    assert status == 200, body
    assert body["kind"] == "Namespace" and body["status"]["phase"] == "Terminating"
    assert body["metadata"]["deletionTimestamp"]
    got = kubectl(cluster, "get", "namespace", "shop", "-o", "json", check=True)
    stored = json.loads(got.stdout)
    assert stored["status"]["phase"] == "Active"
    assert "deletionTimestamp" not in stored["metadata"]
    kubectl(cluster, "create", "configmap", "still-welcome", "-n", "shop", check=True)


@pytest.mark.parametrize("overlay", ["socket-mode", "http-mode", "namespaced"])
def test_every_kind_of_every_overlay_passes_a_server_side_dry_run_and_nothing_is_stored(
    cluster: KubeSim, overlay: str
) -> None:
    # As on a real apiserver, a dry run cannot create into namespaces that do not exist yet.
    kubectl(cluster, "create", "namespace", "jdebug", check=True)
    kubectl(cluster, "create", "namespace", "apps", check=True)
    before = kubectl(
        cluster, "get", "all,cm,secret,sa,role,rolebinding", "-A", "-o", "name", check=True
    ).stdout
    dry = kubectl(
        cluster, "apply", "--dry-run=server", "-k", str(DEPLOY / "overlays" / overlay), check=True
    )
    assert "deployment.apps/jdebug created (server dry run)" in dry.stdout
    assert "namespace/jdebug configured (server dry run)" in dry.stdout
    after = kubectl(
        cluster, "get", "all,cm,secret,sa,role,rolebinding", "-A", "-o", "name", check=True
    ).stdout
    assert after == before
    for kind in ("clusterrole/jdebug", "networkpolicy/jdebug", "deployment/jdebug"):
        missing = kubectl(cluster, "get", "-n", "jdebug", kind, check=False)
        assert "NotFound" in missing.stderr


def test_the_default_namespace_may_not_be_deleted(cluster: KubeSim) -> None:
    refused = kubectl(cluster, "delete", "namespace", "default", check=False)
    assert (
        'Error from server (Forbidden): namespaces "default" is forbidden: '
        "this namespace may not be deleted"
    ) in refused.stderr


def deployment(env_value: str) -> dict[str, object]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": IMAGE,
                            "command": ["sleep", "3600"],
                            "env": [{"name": "VERSION", "value": env_value}],
                        }
                    ]
                },
            },
        },
    }


def pods(sim: KubeSim) -> list[dict[str, Any]]:
    out = kubectl(
        sim, "get", "pods", "-n", "shop", "-l", "app=web", "-o", "json", check=True
    ).stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


@needs_root
def test_deployment_rolls_out_a_changed_template_and_deletion_takes_its_pods(
    cluster: KubeSim, tmp_path: Path
) -> None:
    kubectl(cluster, "apply", "-f", "-", stdin=manifest(NS, deployment("1")), check=True)
    kubectl(
        cluster,
        "rollout",
        "status",
        "-n",
        "shop",
        "deployment/web",
        "--timeout=60s",
        check=True,
        timeout=120,
    )
    first = {p["metadata"]["uid"] for p in pods(cluster)}
    assert len(first) == 2
    kubectl(cluster, "apply", "-f", "-", stdin=manifest(NS, deployment("2")), check=True)
    kubectl(
        cluster,
        "rollout",
        "status",
        "-n",
        "shop",
        "deployment/web",
        "--timeout=60s",
        check=True,
        timeout=120,
    )
    live = [p for p in pods(cluster) if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 2 and not first & {p["metadata"]["uid"] for p in live}
    assert all(p["spec"]["containers"][0]["env"][0]["value"] == "2" for p in live)
    status = json.loads(
        kubectl(cluster, "get", "-n", "shop", "deployment/web", "-o", "json", check=True).stdout
    )["status"]
    assert status["updatedReplicas"] == status["availableReplicas"] == 2
    assert status["observedGeneration"] == 2
    kubectl(cluster, "delete", "-n", "shop", "deployment/web", check=True)
    kubectl(
        cluster,
        "wait",
        "--for=delete",
        "-n",
        "shop",
        "pod",
        "-l",
        "app=web",
        "--timeout=60s",
        check=True,
        timeout=120,
    )
    assert pods(cluster) == []
    assert cluster.process_ids() == set()


def test_patches_sent_at_once_each_land(cluster: KubeSim) -> None:
    """Concurrent merge patches of one ConfigMap each add their key; none starts from an
    object another has already replaced. The bodies are large, so the server reads each
    in several chunks while the others arrive (the race the load test found in pods)."""
    path = "/api/v1/namespaces/default/configmaps/many"
    status, _ = raw(
        cluster,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "many"}, "data": {}},
    )
    assert status == 201
    keys = [f"key-{n}" for n in range(12)]

    def add(key: str) -> int:
        body = {"data": {key: "#" * 100_000}}  # twelve stay below etcd's 1.5 MiB
        return raw(cluster, "PATCH", path, body, "application/merge-patch+json")[0]

    with ThreadPoolExecutor(len(keys)) as pool:
        assert list(pool.map(add, keys)) == [200] * len(keys)
    _, stored = raw(cluster, "GET", path)
    assert set(stored["data"]) == set(keys)


@needs_root
def test_a_deployment_whose_pods_are_refused_reports_it_and_retries(cluster: KubeSim) -> None:
    """PodSecurity refuses the template's pods: the Deployment shows ReplicaFailure; once the
    namespace allows them, the controller's retry (deployments.RETRY later) creates them."""
    restricted = {
        **NS,
        "metadata": {
            "name": "shop",
            "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
        },
    }
    kubectl(cluster, "apply", "-f", "-", stdin=manifest(restricted, deployment("1")), check=True)

    def failure() -> str:
        got = kubectl(cluster, "get", "-n", "shop", "deployment/web", "-o", "json", check=True)
        conditions = json.loads(got.stdout).get("status", {}).get("conditions") or []
        refused = [c for c in conditions if c["type"] == "ReplicaFailure"]
        return str(refused[0]["message"]) if refused else ""

    assert "violates PodSecurity" in wait_for(failure, what="ReplicaFailure")
    assert pods(cluster) == []
    kubectl(
        cluster,
        "label",
        "namespace",
        "shop",
        "pod-security.kubernetes.io/enforce=privileged",
        "--overwrite",
        check=True,
    )
    kubectl(
        cluster,
        "rollout",
        "status",
        "-n",
        "shop",
        "deployment/web",
        "--timeout=60s",
        check=True,
        timeout=120,
    )
    assert len(pods(cluster)) == 2
