"""Deployments own ReplicaSets, which own pods, so kubectl's rollout commands work as on a real
cluster (pkg/controller/deployment/, kubectl/pkg/polymorphichelpers/history.go and
rollback.go), and deletion follows the propagation policy kubectl asks for
(pkg/controller/garbagecollector/).

Names and labels are checked for their form: `<deployment>-<hash>` and `<replicaset>-<5>`, the
hash in rand.SafeEncodeString's alphabet (kubesim hashes the template's JSON, not Go's struct,
so the values themselves differ from a real cluster's).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import watch

from kubesim import KubeSim
from tests.kubesim.conftest import core, kubectl, needs_root, raw
from tests.support.polling import wait_for

pytestmark = needs_root
HASH = r"[bcdfghjklmnpqrstvwxz2456789]{1,10}"


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    with KubeSim(grace_cap=0.5) as running:
        yield running


def deployment(name: str, version: str = "1", **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {
                            "name": "app",
                            "image": "jdebug.local/busybox",
                            "command": ["sleep", "600"],
                            "env": [{"name": "VERSION", "value": version}],
                        }
                    ],
                },
            },
            **spec,
        },
    }


def apply(sim: KubeSim, doc: dict[str, Any]) -> None:
    kubectl(sim, "apply", "-f", "-", stdin=json.dumps(doc), check=True)


def rollout_status(sim: KubeSim, name: str) -> str:
    out = kubectl(
        sim, "rollout", "status", f"deployment/{name}", "--timeout=60s", check=True, timeout=90
    )
    return out.stdout


def replicasets(sim: KubeSim, app: str) -> list[dict[str, Any]]:
    _, found = raw(
        sim, "GET", f"/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3D{app}"
    )
    return sorted(found["items"], key=lambda rs: rs["metadata"]["name"])


def pods(sim: KubeSim, app: str, live: bool = True) -> list[dict[str, Any]]:
    _, found = raw(sim, "GET", f"/api/v1/namespaces/default/pods?labelSelector=app%3D{app}")
    return [p for p in found["items"] if not (live and p["metadata"].get("deletionTimestamp"))]


def revision(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"])


def history(sim: KubeSim, name: str) -> list[tuple[str, str]]:
    out = kubectl(sim, "rollout", "history", f"deployment/{name}", check=True).stdout
    lines = out.strip().splitlines()
    assert lines[0].strip() == f"deployment.apps/{name}"
    assert lines[1].split() == ["REVISION", "CHANGE-CAUSE"]
    return [tuple(line.split(None, 1)) for line in lines[2:]]  # type: ignore[misc]


def test_a_deployment_owns_a_replicaset_that_owns_its_pods(sim: KubeSim) -> None:
    apply(sim, deployment("owned"))
    *waiting, done = rollout_status(sim, "owned").splitlines()
    # The pods take a moment to start (kubelet/pulling.py), so kubectl may report progress first.
    progress = r'Waiting for deployment "owned" rollout to finish: [01] of 2 updated replicas are '
    assert all(re.fullmatch(progress + r"available\.\.\.", line) for line in waiting), waiting
    assert done == 'deployment "owned" successfully rolled out'
    _, d = raw(sim, "GET", "/apis/apps/v1/namespaces/default/deployments/owned")
    (rs,) = replicasets(sim, "owned")
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert re.fullmatch(HASH, pod_hash)
    assert rs["metadata"]["name"] == f"owned-{pod_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "owned", "pod-template-hash": pod_hash}
    assert rs["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "owned",
            "uid": d["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert revision(rs) == revision(d) == "1"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "2"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "3"
    found = pods(sim, "owned")
    assert len(found) == 2
    for pod in found:
        assert re.fullmatch(
            rf"owned-{pod_hash}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", pod["metadata"]["name"]
        )
        assert pod["metadata"]["generateName"] == f"owned-{pod_hash}-"
        assert pod["metadata"]["labels"]["pod-template-hash"] == pod_hash
        assert pod["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": rs["metadata"]["name"],
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    table = kubectl(sim, "get", "rs", "-l", "app=owned", check=True).stdout.splitlines()
    assert table[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert table[1].split()[:4] == [rs["metadata"]["name"], "2", "2", "2"]


def test_history_and_undo_go_back_to_the_first_template(sim: KubeSim) -> None:
    apply(sim, deployment("hist"))
    rollout_status(sim, "hist")
    (first,) = replicasets(sim, "hist")
    kubectl(sim, "annotate", "deployment/hist", "kubernetes.io/change-cause=version 2", check=True)
    apply(sim, deployment("hist", "2"))
    rollout_status(sim, "hist")
    assert history(sim, "hist") == [("1", "<none>"), ("2", "version 2")]
    second = next(
        rs for rs in replicasets(sim, "hist") if rs["metadata"]["uid"] != first["metadata"]["uid"]
    )
    assert second["spec"]["replicas"] == 2 and revision(second) == "2"
    shown = kubectl(sim, "rollout", "history", "deployment/hist", "--revision=2", check=True).stdout
    assert "VERSION:\t2" in shown.replace(" ", "") or re.search(r"VERSION:\s+2", shown)
    undone = kubectl(sim, "rollout", "undo", "deployment/hist", check=True)
    assert undone.stdout == "deployment.apps/hist rolled back\n"
    rollout_status(sim, "hist")
    by_uid = {rs["metadata"]["uid"]: rs for rs in replicasets(sim, "hist")}
    back = by_uid[first["metadata"]["uid"]]
    assert revision(back) == "3"
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert back["spec"]["replicas"] == 2
    assert by_uid[second["metadata"]["uid"]]["spec"]["replicas"] == 0
    assert [h[0] for h in history(sim, "hist")] == ["2", "3"]
    hashes = {p["metadata"]["labels"]["pod-template-hash"] for p in pods(sim, "hist")}
    assert hashes == {first["metadata"]["labels"]["pod-template-hash"]}
    again = kubectl(sim, "rollout", "undo", "deployment/hist", "--to-revision=3", check=True)
    assert "skipped rollback (current template already matches revision 3)" in again.stdout


def pod_events(
    sim: KubeSim, app: str, change: Callable[[], None]
) -> tuple[set[str], list[tuple[str, str, bool]]]:
    """The app's pods before `change`, and every pod event during it, in the store's order:
    (type, name, being deleted). A sentinel pod's creation marks the end of the change."""
    api = core(sim)
    listed = api.list_namespaced_pod("default", label_selector=f"app={app}")
    sentinel = f"{app}-sentinel"
    events: list[tuple[str, str, bool]] = []

    def follow() -> None:
        for event in watch.Watch().stream(
            api.list_namespaced_pod,
            "default",
            label_selector=f"app={app}",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=90,
        ):
            pod = event["object"]
            if pod.metadata.name == sentinel:
                return
            events.append((event["type"], pod.metadata.name, bool(pod.metadata.deletion_timestamp)))

    follower = threading.Thread(target=follow)
    follower.start()
    change()
    marker = deployment(app)["spec"]["template"]
    api.create_namespaced_pod(
        "default", {**marker, "metadata": {**marker["metadata"], "name": sentinel}}
    )
    follower.join(100)
    api.delete_namespaced_pod(sentinel, "default")
    return {p.metadata.name for p in listed.items}, events


def test_a_rolling_update_keeps_the_pods_within_surge_and_availability(sim: KubeSim) -> None:
    """maxSurge 1, maxUnavailable 0: never more than 3 pods that are not terminating (the
    controllers no longer count a pod once it is being deleted, on a real cluster too)."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    apply(sim, deployment("rolling", strategy=strategy))
    rollout_status(sim, "rolling")

    def roll() -> None:
        apply(sim, deployment("rolling", "2", strategy=strategy))
        rollout_status(sim, "rolling")

    before, events = pod_events(sim, "rolling", roll)
    live = set(before)
    most = len(live)
    for kind, name, deleting in events:
        if kind == "DELETED" or deleting:
            live.discard(name)
        else:
            live.add(name)
        most = max(most, len(live))
    assert most == 3  # the surge was used, and never exceeded
    assert len(live) == 2 and not live & before


def test_recreate_starts_no_new_pod_while_an_old_one_exists(sim: KubeSim) -> None:
    apply(sim, deployment("recreated", strategy={"type": "Recreate"}))
    rollout_status(sim, "recreated")

    def recreate() -> None:
        apply(sim, deployment("recreated", "2", strategy={"type": "Recreate"}))
        rollout_status(sim, "recreated")

    before, events = pod_events(sim, "recreated", recreate)
    old = set(before)
    started = []
    for kind, name, _ in events:
        if kind == "DELETED":
            old.discard(name)
        elif kind == "ADDED":
            started.append((name, sorted(old)))
    assert len(started) == 2
    assert [still for _, still in started] == [[], []]


def test_a_paused_deployment_rolls_out_only_once_resumed(sim: KubeSim) -> None:
    apply(sim, deployment("paused"))
    rollout_status(sim, "paused")
    kubectl(sim, "rollout", "pause", "deployment/paused", check=True)
    apply(
        sim,
        {
            **deployment("paused", "2"),
            "spec": {**deployment("paused", "2")["spec"], "paused": True},
        },
    )
    _, d = raw(sim, "GET", "/apis/apps/v1/namespaces/default/deployments/paused")
    wait_for(
        lambda: (
            raw(sim, "GET", "/apis/apps/v1/namespaces/default/deployments/paused")[1]
            .get("status", {})
            .get("observedGeneration")
            == d["metadata"]["generation"]
        ),
        what="the paused spec observed",
    )
    assert len(replicasets(sim, "paused")) == 1
    progressing = [
        c
        for c in raw(sim, "GET", "/apis/apps/v1/namespaces/default/deployments/paused")[1][
            "status"
        ]["conditions"]
        if c["type"] == "Progressing"
    ]
    assert [(c["status"], c["reason"]) for c in progressing] == [("Unknown", "DeploymentPaused")]
    kubectl(sim, "rollout", "resume", "deployment/paused", check=True)
    rollout_status(sim, "paused")
    assert len(replicasets(sim, "paused")) == 2


def test_rollout_status_fails_when_the_progress_deadline_passes(sim: KubeSim) -> None:
    stuck = deployment("stuck", progressDeadlineSeconds=2)
    # An image that never pulls: the pods never run, so nothing progresses.
    stuck["spec"]["template"]["spec"]["containers"][0]["image"] = "jdebug.local/missing:1"
    apply(sim, stuck)
    out = kubectl(sim, "rollout", "status", "deployment/stuck", "--timeout=60s", timeout=90)
    assert out.returncode == 1
    assert out.stderr.strip() == 'error: deployment "stuck" exceeded its progress deadline'
    _, d = raw(sim, "GET", "/apis/apps/v1/namespaces/default/deployments/stuck")
    (cond,) = [c for c in d["status"]["conditions"] if c["type"] == "Progressing"]
    (rs,) = replicasets(sim, "stuck")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False",
        "ProgressDeadlineExceeded",
        f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.',
    )


def test_old_replicasets_beyond_the_history_limit_are_deleted(sim: KubeSim) -> None:
    apply(sim, deployment("limited", revisionHistoryLimit=1))
    for version in ("2", "3"):
        rollout_status(sim, "limited")
        apply(sim, deployment("limited", version, revisionHistoryLimit=1))
    rollout_status(sim, "limited")
    wait_for(
        lambda: len(replicasets(sim, "limited")) == 2, what="history cut to one old ReplicaSet"
    )
    assert sorted(revision(rs) for rs in replicasets(sim, "limited")) == ["2", "3"]


def test_deleting_a_deployment_in_the_background_takes_its_replicasets_and_pods(
    sim: KubeSim,
) -> None:
    apply(sim, deployment("gone"))
    rollout_status(sim, "gone")
    kubectl(sim, "delete", "deployment/gone", check=True)
    wait_for(
        lambda: not replicasets(sim, "gone") and not pods(sim, "gone", live=False), what="all gone"
    )


def test_foreground_deletion_returns_once_every_dependent_is_gone(sim: KubeSim) -> None:
    """kubectl waits for the Deployment itself; in the foreground it goes last, after its
    ReplicaSet, which goes after its pods."""
    apply(sim, deployment("fore"))
    rollout_status(sim, "fore")
    out = kubectl(sim, "delete", "deployment/fore", "--cascade=foreground", check=True, timeout=90)
    assert out.stdout == 'deployment.apps "fore" deleted\n'
    assert replicasets(sim, "fore") == []
    assert pods(sim, "fore", live=False) == []


def test_orphaning_keeps_the_replicaset_and_its_pods(sim: KubeSim) -> None:
    apply(sim, deployment("orphans"))
    rollout_status(sim, "orphans")
    kubectl(sim, "delete", "deployment/orphans", "--cascade=orphan", check=True, timeout=90)
    (rs,) = replicasets(sim, "orphans")
    assert "ownerReferences" not in rs["metadata"]
    assert len(pods(sim, "orphans")) == 2
    kubectl(sim, "delete", "rs", rs["metadata"]["name"], check=True)
    wait_for(lambda: not pods(sim, "orphans", live=False), what="the orphaned pods collected")
