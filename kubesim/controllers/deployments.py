"""The Deployment controller: keeps `spec.replicas` pods of the current template and reports the
status `kubectl rollout status` reads (observedGeneration, updated/ready/available replicas).

Simplified from pkg/controller/deployment/ (rolling.go, recreate.go, sync.go): pods are owned by
the Deployment itself (kubesim has no ReplicaSets); their `pod-template-hash` label marks the
template they came from, as the ReplicaSet's would. RollingUpdate keeps at most
replicas+maxSurge pods and at least replicas-maxUnavailable available; Recreate stops the old
pods before it starts new ones. A pod counts as available once Ready (minReadySeconds is 0).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
from typing import Any

import structlog

from kubesim.cluster import Cluster, random_suffix
from kubesim.controllers import namespaces
from kubesim.status import ApiError
from kubesim.store import Obj, now_iso

log = structlog.get_logger("kubesim.deployments")
# The alphabet of apimachinery's rand.SafeEncodeString, which names ReplicaSets and pods.
SAFE = "bcdfghjklmnpqrstvwxz2456789"
HASH_LABEL = "pod-template-hash"
# Seconds before a refused pod is tried again (the Deployments waiting for that are
# `Cluster.deployment_retries`).
RETRY = 5.0


def template_hash(template: Obj) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(SAFE[b % len(SAFE)] for b in digest[:10])


def _scaled(value: Any, replicas: int, round_up: bool) -> int:
    """An int-or-percent of rollingUpdate, as intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def _limits(spec: Obj, replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable); both default to 25%, and both 0 means one may be unavailable."""
    rolling = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def owned_pods(cluster: Cluster, deployment: Obj) -> list[Obj]:
    meta = deployment["metadata"]
    return [
        p
        for p in cluster.store.items("pods", meta["namespace"])
        if any(r.get("uid") == meta["uid"] for r in p["metadata"].get("ownerReferences") or [])
    ]


def _new_pod(deployment: Obj, pod_hash: str) -> Obj:
    meta = deployment["metadata"]
    pod: Obj = copy.deepcopy(deployment["spec"]["template"])
    pod_meta = pod.setdefault("metadata", {})
    pod_meta["name"] = f"{meta['name']}-{pod_hash}-{random_suffix()}"
    pod_meta.setdefault("labels", {})[HASH_LABEL] = pod_hash
    pod_meta["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return pod


async def reconcile(cluster: Cluster, namespace: str, name: str, strict: bool = False) -> None:
    """One pass of the controller for one Deployment. With `strict`, a pod the API refuses
    raises (the manifest loader reports it); otherwise it shows as ReplicaFailure."""
    # One pass at a time per Deployment: the loader's pass and the controller's must not both
    # count the same missing pods and create them twice.
    lock = cluster.deployment_locks.setdefault((namespace, name), asyncio.Lock())
    async with lock:
        await _reconcile(cluster, namespace, name, strict)


async def _reconcile(cluster: Cluster, namespace: str, name: str, strict: bool) -> None:
    deployment = cluster.store.get("deployments", namespace, name)
    if deployment is None or deployment["metadata"].get("deletionTimestamp"):
        return
    spec = deployment["spec"]
    replicas = int(spec.get("replicas", 1))
    pod_hash = template_hash(spec["template"])
    live = [
        p for p in owned_pods(cluster, deployment) if not p["metadata"].get("deletionTimestamp")
    ]
    new = [p for p in live if p["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash]
    old = [p for p in live if p not in new]
    recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
    surge, unavailable = (0, replicas) if recreate else _limits(spec, replicas)
    failure = ""
    # Scale down first: old pods while enough stay available, surplus new ones.
    available = sum(is_ready(p) for p in live)
    removable = available - (replicas - unavailable)
    doomed = [p for p in old if not is_ready(p)]
    doomed += [p for p in old if is_ready(p)][: max(0, removable)]
    doomed += sorted(new, key=is_ready)[: max(0, len(new) - replicas)]
    for pod in doomed:
        await cluster.delete_pod(namespace, pod["metadata"]["name"])
    waiting_for_old = recreate and any(
        p["metadata"].get("labels", {}).get(HASH_LABEL) != pod_hash
        for p in owned_pods(cluster, deployment)
    )
    missing = min(replicas - len(new), replicas + surge - (len(live) - len(doomed)))
    for _ in range(0 if waiting_for_old else max(0, missing)):
        try:
            pod = _new_pod(deployment, pod_hash)
            namespaces.admit(cluster, namespace, "pods", pod["metadata"]["name"])
            await cluster.create_pod(pod, namespace)
        except ApiError as exc:
            if strict:
                raise
            # The ReplicaSet controller's workqueue retries a refused pod with backoff.
            failure = exc.message
            if (namespace, name) not in cluster.deployment_retries:
                cluster.deployment_retries.add((namespace, name))
                cluster.spawn(_retry(cluster, namespace, name))
            break
    _publish(cluster, namespace, name, pod_hash, failure)


def _publish(cluster: Cluster, namespace: str, name: str, pod_hash: str, failure: str) -> None:
    deployment = cluster.store.get("deployments", namespace, name)
    if deployment is None:
        return
    replicas = int(deployment["spec"].get("replicas", 1))
    live = [
        p for p in owned_pods(cluster, deployment) if not p["metadata"].get("deletionTimestamp")
    ]
    updated = [p for p in live if p["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash]
    ready = sum(is_ready(p) for p in live)
    _, unavailable = _limits(deployment["spec"], replicas)
    complete = len(updated) == replicas == len(live) and ready >= replicas
    status: Obj = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": len(live),
        "updatedReplicas": len(updated),
        "readyReplicas": ready,
        "availableReplicas": ready,
    }
    if replicas - ready > 0:
        status["unavailableReplicas"] = replicas - ready
    conditions = [
        _condition(
            "Available",
            ready >= replicas - unavailable,
            "MinimumReplicasAvailable"
            if ready >= replicas - unavailable
            else "MinimumReplicasUnavailable",
        ),
        _condition(
            "Progressing", True, "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated"
        ),
    ]
    if failure:
        conditions.append(_condition("ReplicaFailure", True, "FailedCreate", failure))
    status["conditions"] = conditions
    old_status = deployment.get("status") or {}
    if _comparable(old_status) == _comparable(status):
        return
    for cond in conditions:
        before = next(
            (c for c in old_status.get("conditions") or [] if c["type"] == cond["type"]), None
        )
        if before and before["status"] == cond["status"] and before["reason"] == cond["reason"]:
            cond["lastTransitionTime"] = before["lastTransitionTime"]
    deployment["status"] = status
    cluster.store.update("deployments", namespace, deployment)


def _condition(kind: str, ok: bool, reason: str, message: str = "") -> Obj:
    now = now_iso()
    return {
        "type": kind,
        "status": str(ok),
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
    }


def _comparable(status: Obj) -> Any:
    conds = [
        (c["type"], c["status"], c["reason"], c.get("message", ""))
        for c in status.get("conditions") or []
    ]
    return ({k: v for k, v in status.items() if k != "conditions"}, conds)


async def _retry(cluster: Cluster, namespace: str, name: str) -> None:
    try:
        await asyncio.sleep(RETRY)
    finally:
        cluster.deployment_retries.discard((namespace, name))
    await reconcile(cluster, namespace, name)


async def run(cluster: Cluster) -> None:
    """React to every new Deployment or change of its spec (not to status writes, its own
    included), and to every change of a pod a Deployment owns."""
    queue = cluster.store.subscribe()
    seen: dict[tuple[str, str], Any] = {}
    try:
        while True:
            event = await queue.get()
            meta = event.obj.get("metadata") or {}
            if event.resource == "deployments":
                key = (event.namespace, str(meta.get("name", "")))
                generation = meta.get("generation") if event.type == "MODIFIED" else None
                if generation is not None and seen.get(key) == generation:
                    continue
                seen[key] = generation
                names = [key[1]]
            elif event.resource == "pods":
                refs = meta.get("ownerReferences") or []
                names = [r["name"] for r in refs if r.get("kind") == "Deployment"]
            else:
                continue
            for name in names:
                try:
                    await reconcile(cluster, event.namespace, name)
                except Exception:  # a controller bug must not stop the controller
                    log.exception("reconcile failed", namespace=event.namespace, name=name)
    except asyncio.CancelledError:
        pass
    finally:
        cluster.store.unsubscribe(queue)
