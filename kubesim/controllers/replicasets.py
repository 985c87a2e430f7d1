"""The ReplicaSet controller: keeps `spec.replicas` pods of the template, owned by the ReplicaSet,
and reports the status the Deployment controller and kubectl read.

As pkg/controller/replicaset/replica_set.go (manageReplicas, calculateStatus): pods are named
`<replicaset>-<5 random characters>` (generateName), carry the template's labels (the
pod-template-hash among them) and an ownerReference with controller: true; surplus pods go
not-ready first, then the newest; a refused create shows as the ReplicaFailure condition
(reason FailedCreate, the API's message) and is retried. A pod counts as available once Ready
(minReadySeconds is not modelled). Orphans matching the selector are not adopted.
"""

from __future__ import annotations

import contextlib
import copy

from kubesim.cluster import Cluster
from kubesim.controllers import namespaces, workqueue
from kubesim.status import ApiError
from kubesim.store import Event, Obj, now_iso

# Seconds before a refused pod is tried again (the controller's workqueue backs off).
RETRY = 5.0
FAILURE = "ReplicaFailure"


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def controller_of(obj: Obj) -> Obj | None:
    """metav1.GetControllerOf: the ownerReference with controller: true."""
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


def active_pods(cluster: Cluster, rs: Obj) -> list[Obj]:
    """The pods this ReplicaSet controls that still count: not being deleted, not finished
    (controller.FilterActivePods)."""
    uid = rs["metadata"]["uid"]
    return [
        p
        for p in cluster.store.items("pods", rs["metadata"]["namespace"])
        if (controller_of(p) or {}).get("uid") == uid
        and not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def _new_pod(rs: Obj) -> Obj:
    meta = rs["metadata"]
    template: Obj = copy.deepcopy(rs["spec"]["template"])
    pod_meta = template.setdefault("metadata", {})
    pod_meta.pop("name", None)
    pod_meta["generateName"] = f"{meta['name']}-"
    pod_meta["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return template


def deletion_order(pods: list[Obj]) -> list[Obj]:
    """getPodsToDelete's ranking, simplified: not running, then not ready, then newest."""
    newest = sorted(pods, key=lambda p: str(p["metadata"].get("creationTimestamp")), reverse=True)
    return sorted(
        newest, key=lambda p: ((p.get("status") or {}).get("phase") == "Running", is_ready(p))
    )


async def reconcile(cluster: Cluster, namespace: str, name: str, strict: bool = False) -> None:
    """One pass for one ReplicaSet. With `strict`, a pod the API refuses raises (the manifest
    loader reports it); otherwise it shows as ReplicaFailure and is retried."""
    async with workqueue.lock(cluster, ("replicasets", namespace, name)):
        await _reconcile(cluster, namespace, name, strict)


async def _reconcile(cluster: Cluster, namespace: str, name: str, strict: bool) -> None:
    rs = cluster.store.get("replicasets", namespace, name)
    if rs is None or rs["metadata"].get("deletionTimestamp"):
        return
    wanted = int(rs["spec"].get("replicas", 1))
    pods = active_pods(cluster, rs)
    failure = ""
    if len(pods) > wanted:
        for pod in deletion_order(pods)[: len(pods) - wanted]:
            with contextlib.suppress(ApiError):  # already gone
                await cluster.delete_pod(namespace, pod["metadata"]["name"])
    for _ in range(wanted - len(pods)):
        try:
            pod = _new_pod(rs)
            namespaces.admit(cluster, namespace, "pods", "")
            await cluster.create_pod(pod, namespace)
        except ApiError as exc:
            if strict:
                raise
            failure = exc.message
            workqueue.after(
                cluster,
                ("replicasets", namespace, name),
                RETRY,
                lambda: reconcile(cluster, namespace, name),
            )
            break
    publish(cluster, namespace, name, failure)


def publish(cluster: Cluster, namespace: str, name: str, failure: str = "") -> None:
    rs = cluster.store.get("replicasets", namespace, name)
    if rs is None:
        return
    pods = active_pods(cluster, rs)
    labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    ready = sum(is_ready(p) for p in pods)
    status: Obj = {
        "replicas": len(pods),
        "fullyLabeledReplicas": sum(
            all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
            for p in pods
        ),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    old = rs.get("status") or {}
    conditions = [c for c in old.get("conditions") or [] if c.get("type") != FAILURE]
    if failure:
        before = next((c for c in old.get("conditions") or [] if c["type"] == FAILURE), None)
        conditions.append(
            {
                "type": FAILURE,
                "status": "True",
                "lastTransitionTime": before["lastTransitionTime"] if before else now_iso(),
                "reason": "FailedCreate",
                "message": failure,
            }
        )
    if conditions:
        status["conditions"] = conditions
    if status == old:
        return
    cluster.store.update("replicasets", namespace, {**rs, "status": status})


def _owner_of_pod(event: Event) -> list[str]:
    owner = controller_of(event.obj) or {}
    return (
        [str(owner["name"])]
        if event.resource == "pods" and owner.get("kind") == "ReplicaSet"
        else []
    )


async def run(cluster: Cluster) -> None:
    """React to every new ReplicaSet and change of its spec, and to every change of a pod a
    ReplicaSet controls."""
    await workqueue.serve(
        cluster, "replicasets", _owner_of_pod, lambda c, ns, name: reconcile(c, ns, name)
    )
