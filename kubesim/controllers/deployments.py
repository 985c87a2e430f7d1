"""The Deployment controller: one ReplicaSet per pod template, rolled out and reported as
pkg/controller/deployment/ does it (sync.go, rolling.go, recreate.go, progress.go and
util/deployment_util.go), so `kubectl rollout status`, `history` and `undo` work as on a real
cluster.

- The ReplicaSet is `<deployment>-<pod-template-hash>`; the hash is rand.SafeEncodeString of an
  FNV-32a hash (of the template's JSON here, of its Go struct upstream, so the values differ).
  Its template and selector carry the hash label, its ownerReference has controller: true.
- Revisions: `deployment.kubernetes.io/revision` on each ReplicaSet (the newest is the largest)
  and on the Deployment; a template seen before (rollout undo) reuses its ReplicaSet, which takes
  the next revision and keeps its old ones in `revision-history`.
- RollingUpdate scales the new ReplicaSet up within replicas+maxSurge and the old ones down while
  replicas-maxUnavailable stay available; Recreate scales the old ones to zero and waits for
  their pods to be gone first. A paused Deployment rolls nothing out.
- Status: replica counts from the ReplicaSets, the Available and Progressing conditions
  (ProgressDeadlineExceeded after progressDeadlineSeconds without progress), a ReplicaSet's
  ReplicaFailure copied up; old ReplicaSets beyond revisionHistoryLimit are deleted.

Not modelled: proportional scaling of several ReplicaSets mid-rollout (a scale goes to the new
one), minReadySeconds, and adopting ReplicaSets or pods that match the selector.
"""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

from kubesim import deletion
from kubesim.cluster import Cluster
from kubesim.controllers import replicasets, workqueue
from kubesim.controllers.replicasets import controller_of, is_ready
from kubesim.store import Event, Obj, now_iso

# The alphabet of apimachinery's rand.SafeEncodeString.
SAFE = "bcdfghjklmnpqrstvwxz2456789"
HASH_LABEL = "pod-template-hash"
PREFIX = "deployment.kubernetes.io/"
REVISION = PREFIX + "revision"
REVISION_HISTORY = PREFIX + "revision-history"
DESIRED = PREFIX + "desired-replicas"
MAX_REPLICAS = PREFIX + "max-replicas"
# Deployment annotations not copied to its ReplicaSets (deployment_util.go, annotationsToSkip).
SKIP_COPY = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)

__all__ = ["is_ready", "reconcile", "run", "template_hash"]


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _typed(node: Any) -> Any:
    """The template as the apiserver's types hold it: null, {} and [] are the zero values a
    decoded object does not tell apart from absent ones (apimachinery's Semantic.DeepEqual
    holds nil and empty maps and slices equal), so `creationTimestamp: null` or `resources: {}`
    from a client's marshalled template change nothing."""
    if isinstance(node, dict):
        kept = {k: _typed(v) for k, v in node.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    if isinstance(node, list):
        return [_typed(v) for v in node]
    return node


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """controller.ComputeHash: FNV-32a of the template (and the collision count, if any), as
    SafeEncodeString of its decimal form."""
    data = json.dumps(_typed(template), sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += collision_count.to_bytes(4, "little")
    return "".join(SAFE[ord(c) % len(SAFE)] for c in str(_fnv32a(data)))


def _without_hash(template: Obj) -> Obj:
    out: Obj = _typed(template)
    labels = (out.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    again: Obj = _typed(out)  # the labels may now be empty
    return again


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    return _without_hash(a) == _without_hash(b)


def revision(obj: Obj) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def owned_replicasets(cluster: Cluster, deployment: Obj) -> list[Obj]:
    """The ReplicaSets this Deployment controls, oldest first (ReplicaSetsByCreationTimestamp)."""
    meta = deployment["metadata"]
    owned = [
        rs
        for rs in cluster.store.items("replicasets", meta["namespace"])
        if (controller_of(rs) or {}).get("uid") == meta["uid"] and not deletion.is_deleting(rs)
    ]
    return sorted(
        owned, key=lambda rs: (str(rs["metadata"]["creationTimestamp"]), rs["metadata"]["name"])
    )


def _scaled(value: Any, replicas: int, round_up: bool) -> int:
    """An int-or-percent of rollingUpdate, as intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def fenceposts(deployment: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable): ResolveFenceposts, then MaxUnavailable's caps. Recreate
    has neither."""
    spec = deployment["spec"]
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge", "25%"), replicas, True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def _spec_replicas(rs: Obj) -> int:
    return int(rs["spec"].get("replicas", 1))


def _status(rs: Obj, key: str) -> int:
    return int((rs.get("status") or {}).get(key, 0))


async def reconcile(cluster: Cluster, namespace: str, name: str, strict: bool = False) -> None:
    """One pass of the controller for one Deployment. With `strict` (the manifest loader),
    its ReplicaSets make their pods at once, and a pod the API refuses raises."""
    async with workqueue.lock(cluster, ("deployments", namespace, name)):
        _sync(cluster, namespace, name)
    if strict:
        deployment = cluster.store.get("deployments", namespace, name)
        for rs in owned_replicasets(cluster, deployment) if deployment else []:
            await replicasets.reconcile(cluster, namespace, rs["metadata"]["name"], strict=True)


class Pass:
    """One sync of one Deployment: what it read and what it changed."""

    def __init__(self, cluster: Cluster, deployment: Obj) -> None:
        self.cluster = cluster
        self.store = cluster.store
        self.d = deployment
        self.namespace = str(deployment["metadata"]["namespace"])
        self.replicas = int(deployment["spec"].get("replicas", 1))
        self.surge, self.unavailable = fenceposts(deployment)
        self.created = ""  # the ReplicaSet this pass created, for the Progressing condition
        rss = owned_replicasets(cluster, deployment)
        template = deployment["spec"]["template"]
        self.new = next(
            (rs for rs in rss if equal_ignore_hash(rs["spec"]["template"], template)), None
        )
        self.old = [rs for rs in rss if rs is not self.new]

    # -- ReplicaSets ----------------------------------------------------------
    def scale(self, rs: Obj, replicas: int) -> Obj:
        if _spec_replicas(rs) == replicas and (rs["metadata"].get("annotations") or {}).get(
            DESIRED
        ) == str(self.replicas):
            return rs
        updated = copy.deepcopy(rs)
        changed = _spec_replicas(rs) != replicas
        updated["spec"]["replicas"] = replicas
        annotations = updated["metadata"].setdefault("annotations", {})
        annotations[DESIRED] = str(self.replicas)
        annotations[MAX_REPLICAS] = str(self.replicas + self.surge)
        if changed:
            updated["metadata"]["generation"] = int(rs["metadata"].get("generation", 1)) + 1
        stored = self.store.update("replicasets", self.namespace, updated)
        if rs is self.new:
            self.new = stored
        else:
            self.old = [stored if o is rs else o for o in self.old]
        return stored

    def _annotations(self, rs_annotations: dict[str, str], new_revision: int) -> dict[str, str]:
        """SetNewReplicaSetAnnotations: the Deployment's own annotations, the revision (the
        old one kept in the history when a template comes back), desired and max replicas."""
        out = dict(rs_annotations)
        for key, value in (self.d["metadata"].get("annotations") or {}).items():
            if key not in SKIP_COPY:
                out[key] = value
        old = int(out.get(REVISION, "0") or 0)
        if old < new_revision:
            if old:
                history = [h for h in out.get(REVISION_HISTORY, "").split(",") if h]
                out[REVISION_HISTORY] = ",".join([*history, str(old)])
            out[REVISION] = str(new_revision)
        out[DESIRED] = str(self.replicas)
        out[MAX_REPLICAS] = str(self.replicas + self.surge)
        return out

    def ensure_new(self, create: bool) -> None:
        """getNewReplicaSet: bring the template's ReplicaSet up to the next revision, or make
        it (when `create`)."""
        new_revision = max((revision(rs) for rs in self.old), default=0) + 1
        if self.new is not None:
            annotations = self._annotations(
                self.new["metadata"].get("annotations") or {}, new_revision
            )
            if annotations != (self.new["metadata"].get("annotations") or {}):
                updated = copy.deepcopy(self.new)
                updated["metadata"]["annotations"] = annotations
                self.new = self.store.update("replicasets", self.namespace, updated)
            self._set_revision(revision(self.new))
            return
        if not create:
            return
        meta, spec = self.d["metadata"], self.d["spec"]
        collisions = int((self.d.get("status") or {}).get("collisionCount", 0))
        pod_hash = template_hash(spec["template"], collisions)
        name = f"{meta['name']}-{pod_hash}"
        if self.store.get("replicasets", self.namespace, name) is not None:
            # Someone else's ReplicaSet has the name: count a collision, hash again next pass.
            status = {**(self.d.get("status") or {}), "collisionCount": collisions + 1}
            self.d = self.store.update("deployments", self.namespace, {**self.d, "status": status})
            return
        template = copy.deepcopy(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = copy.deepcopy(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        replicas = self.replicas if recreate else self._new_replicas(0)
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "generation": 1,
                "labels": dict(template["metadata"]["labels"]),
                "annotations": self._annotations({}, new_revision),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": int(spec.get("minReadySeconds", 0)),
                "selector": selector,
                "template": template,
            },
        }
        self.new = self.store.create("replicasets", self.namespace, rs)
        self.created = name
        self._set_revision(new_revision)

    def _set_revision(self, value: int) -> None:
        annotations = dict(self.d["metadata"].get("annotations") or {})
        if annotations.get(REVISION) == str(value):
            return
        annotations[REVISION] = str(value)
        updated = {**self.d, "metadata": {**self.d["metadata"], "annotations": annotations}}
        self.d = self.store.update("deployments", self.namespace, updated)

    def _new_replicas(self, new_now: int) -> int:
        """NewRSNewReplicas (RollingUpdate): grow the new ReplicaSet within replicas+maxSurge."""
        current = sum(_spec_replicas(rs) for rs in self.old) + new_now
        room = self.replicas + self.surge - current
        if room <= 0:
            return new_now
        return new_now + min(room, self.replicas - new_now)

    # -- strategies -----------------------------------------------------------
    def rolling(self) -> None:
        self.ensure_new(create=True)
        if self.new is None:
            return
        new_now = _spec_replicas(self.new)
        if new_now > self.replicas:
            self.scale(self.new, self.replicas)
            return
        if new_now < self.replicas:
            wanted = self._new_replicas(new_now)
            if wanted != new_now:
                self.scale(self.new, wanted)
                return
        self._scale_down_old()

    def _scale_down_old(self) -> None:
        """reconcileOldReplicaSets: first the old ReplicaSets' unavailable pods, then available
        ones while replicas-maxUnavailable stay available."""
        assert self.new is not None
        old_count = sum(_spec_replicas(rs) for rs in self.old)
        if old_count == 0:
            return
        all_count = old_count + _spec_replicas(self.new)
        min_available = self.replicas - self.unavailable
        new_unavailable = _spec_replicas(self.new) - _status(self.new, "availableReplicas")
        budget = all_count - min_available - new_unavailable
        if budget <= 0:
            return
        cleaned = 0
        for rs in list(self.old):
            if cleaned >= budget:
                break
            unhealthy = _spec_replicas(rs) - _status(rs, "availableReplicas")
            if _spec_replicas(rs) == 0 or unhealthy <= 0:
                continue
            down = min(budget - cleaned, unhealthy)
            self.scale(rs, _spec_replicas(rs) - down)
            cleaned += down
        available = sum(_status(rs, "availableReplicas") for rs in [*self.old, self.new])
        left = available - min_available
        for rs in list(self.old):
            if left <= 0:
                break
            if _spec_replicas(rs) == 0:
                continue
            down = min(_spec_replicas(rs), left)
            self.scale(rs, _spec_replicas(rs) - down)
            left -= down

    def recreate(self) -> None:
        scaled = False
        for rs in list(self.old):
            if _spec_replicas(rs) != 0:
                self.scale(rs, 0)
                scaled = True
        if scaled or self._old_pods_exist():
            if self.new is not None:
                self.ensure_new(create=False)
            return
        self.ensure_new(create=True)
        if self.new is not None and _spec_replicas(self.new) != self.replicas:
            self.scale(self.new, self.replicas)

    def _old_pods_exist(self) -> bool:
        """oldPodsRunning: any pod of an old ReplicaSet still in the API (terminating ones
        included) that has not finished."""
        uids = {rs["metadata"]["uid"] for rs in self.old}
        return any(
            (controller_of(p) or {}).get("uid") in uids
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            for p in self.store.items("pods", self.namespace)
        )

    def paused(self) -> None:
        """sync for a paused Deployment: no new ReplicaSet, the current one scaled only."""
        self.ensure_new(create=False)
        active = [rs for rs in [*self.old, self.new] if rs is not None and _spec_replicas(rs)]
        target = self.new if self.new is not None else (active[-1] if active else None)
        if target is not None and len(active) <= 1:
            self.scale(target, self.replicas)

    def cleanup(self) -> None:
        """cleanupDeployment: delete the oldest old ReplicaSets without pods beyond
        revisionHistoryLimit."""
        limit = self.d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        fresh = {rs["metadata"]["name"]: rs for rs in owned_replicasets(self.cluster, self.d)}
        cleanable = [
            fresh[rs["metadata"]["name"]]
            for rs in self.old
            if rs["metadata"]["name"] in fresh
            and _spec_replicas(fresh[rs["metadata"]["name"]]) == 0
            and _status(fresh[rs["metadata"]["name"]], "replicas") == 0
        ]
        cleanable.sort(key=revision)
        for rs in cleanable[: max(0, len(cleanable) - int(limit))]:
            deletion.delete(
                self.store, "replicasets", self.namespace, rs["metadata"]["name"], "Background"
            )


def _sync(cluster: Cluster, namespace: str, name: str) -> None:
    deployment = cluster.store.get("deployments", namespace, name)
    if deployment is None or deletion.is_deleting(deployment):
        return
    run = Pass(cluster, deployment)
    spec = deployment["spec"]
    if spec.get("paused"):
        run.paused()
    elif (spec.get("strategy") or {}).get("type") == "Recreate":
        run.recreate()
    else:
        run.rolling()
    complete = publish(run)
    if complete:
        run.cleanup()


# -- status -------------------------------------------------------------------
def _condition(kind: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }


def _set(conditions: list[Obj], cond: Obj) -> list[Obj]:
    """SetDeploymentCondition: unchanged when status and reason are; lastTransitionTime kept
    while the status is."""
    before = next((c for c in conditions if c["type"] == cond["type"]), None)
    if before and before["status"] == cond["status"] and before["reason"] == cond["reason"]:
        return conditions
    if before and before["status"] == cond["status"]:
        cond = {**cond, "lastTransitionTime": before["lastTransitionTime"]}
    return [*(c for c in conditions if c["type"] != cond["type"]), cond]


def _parse(ts: str) -> datetime:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def publish(run: Pass) -> bool:
    """calculateStatus and syncRolloutStatus; True when the rollout is complete."""
    cluster, d = run.cluster, run.d
    fresh = {rs["metadata"]["name"]: rs for rs in owned_replicasets(cluster, d)}
    new = fresh.get(run.new["metadata"]["name"]) if run.new is not None else None
    every = list(fresh.values())
    old_status = d.get("status") or {}
    counts = {
        "observedGeneration": int(d["metadata"].get("generation", 1)),
        "replicas": sum(_status(rs, "replicas") for rs in every),
        "updatedReplicas": _status(new, "replicas") if new else 0,
        "readyReplicas": sum(_status(rs, "readyReplicas") for rs in every),
        "availableReplicas": sum(_status(rs, "availableReplicas") for rs in every),
    }
    counts["unavailableReplicas"] = max(
        0, sum(_spec_replicas(rs) for rs in every) - counts["availableReplicas"]
    )
    status: Obj = {k: v for k, v in counts.items() if v}  # int32 fields are omitempty
    if old_status.get("collisionCount"):
        status["collisionCount"] = old_status["collisionCount"]
    now = now_iso()
    conditions = list(old_status.get("conditions") or [])
    if counts["availableReplicas"] >= run.replicas - run.unavailable:
        cond = _condition(
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        cond = _condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    conditions = _set(conditions, cond)
    complete = (
        counts["updatedReplicas"] == run.replicas
        and counts["replicas"] == run.replicas
        and counts["availableReplicas"] == run.replicas
        and counts["observedGeneration"] >= int(d["metadata"].get("generation", 1))
    )
    deadline = d["spec"].get("progressDeadlineSeconds")
    progressing = next((c for c in conditions if c["type"] == "Progressing"), None)
    what = (
        f'ReplicaSet "{new["metadata"]["name"]}"'
        if new
        else f'Deployment "{d["metadata"]["name"]}"'
    )
    if d["spec"].get("paused"):
        if not progressing or progressing["reason"] != "DeploymentPaused":
            conditions = _set(
                conditions,
                _condition(
                    "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now
                ),
            )
    elif progressing and progressing["reason"] == "DeploymentPaused":
        conditions = _set(
            conditions,
            _condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now),
        )
    elif run.created:
        conditions = _set(
            conditions,
            _condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{run.created}"',
                now,
            ),
        )
    elif deadline is not None:
        done = (
            counts["replicas"] == counts["updatedReplicas"]
            and progressing is not None
            and progressing["reason"] == "NewReplicaSetAvailable"
        )
        if not done:
            conditions = _progress(run, conditions, counts, old_status, complete, what, now)
    if deadline is None:
        conditions = [c for c in conditions if c["type"] != "Progressing"]
    failures = [
        c
        for rs in ([new] if new else []) + [r for r in every if r is not new]
        for c in (rs.get("status") or {}).get("conditions") or []
        if c.get("type") == "ReplicaFailure" and c.get("status") == "True"
    ]
    if failures:
        f = failures[0]
        conditions = _set(
            conditions, _condition("ReplicaFailure", "True", f["reason"], f.get("message", ""), now)
        )
    else:
        conditions = [c for c in conditions if c["type"] != "ReplicaFailure"]
    status["conditions"] = conditions
    if status != old_status:
        current = cluster.store.get("deployments", run.namespace, d["metadata"]["name"])
        if current is not None and current["metadata"]["uid"] == d["metadata"]["uid"]:
            cluster.store.update("deployments", run.namespace, {**current, "status": status})
    return complete


def _progress(
    run: Pass,
    conditions: list[Obj],
    counts: dict[str, int],
    old_status: Obj,
    complete: bool,
    what: str,
    now: str,
) -> list[Obj]:
    """syncRolloutStatus's Progressing condition, and a pass again at the deadline."""
    if complete:
        return _set(
            conditions,
            _condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f"{what} has successfully progressed.",
                now,
            ),
        )
    old_old = int(old_status.get("replicas", 0)) - int(old_status.get("updatedReplicas", 0))
    new_old = counts["replicas"] - counts["updatedReplicas"]
    moved = (
        counts["updatedReplicas"] > int(old_status.get("updatedReplicas", 0))
        or new_old < old_old
        or counts["readyReplicas"] > int(old_status.get("readyReplicas", 0))
        or counts["availableReplicas"] > int(old_status.get("availableReplicas", 0))
    )
    current = next((c for c in conditions if c["type"] == "Progressing"), None)
    if moved:
        cond = _condition(
            "Progressing", "True", "ReplicaSetUpdated", f"{what} is progressing.", now
        )
        if current is not None and current["status"] == "True":
            cond["lastTransitionTime"] = current["lastTransitionTime"]
        conditions = [*(c for c in conditions if c["type"] != "Progressing"), cond]
        current = cond
    seconds = int(run.d["spec"]["progressDeadlineSeconds"])
    if current is None or current["reason"] in (
        "NewReplicaSetAvailable",
        "ProgressDeadlineExceeded",
    ):
        return conditions
    waited = (datetime.now(UTC) - _parse(current["lastUpdateTime"])).total_seconds()
    if waited > seconds:
        return _set(
            conditions,
            _condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                f"{what} has timed out progressing.",
                now,
            ),
        )
    namespace, name = run.namespace, str(run.d["metadata"]["name"])
    workqueue.after(
        run.cluster,
        ("deployments/deadline", namespace, name),
        seconds - waited + 1,
        lambda: reconcile(run.cluster, namespace, name),
    )
    return conditions


def _deployment_of_pod(cluster: Cluster, namespace: str, pod: Obj) -> list[str]:
    owner = controller_of(pod) or {}
    if owner.get("kind") != "ReplicaSet":
        return []
    rs = cluster.store.get("replicasets", namespace, str(owner.get("name")))
    deployment = controller_of(rs) if rs is not None else None
    return (
        [str(deployment["name"])] if deployment and deployment.get("kind") == "Deployment" else []
    )


async def run(cluster: Cluster) -> None:
    """React to every new Deployment or change of its spec (not to status writes, its own
    included), to every change of a ReplicaSet a Deployment controls, and to the deletion of
    their pods (a Recreate waits for the old pods to be gone, which changes no ReplicaSet's
    status, as they no longer counted terminating pods: deletePod's enqueue)."""

    def related(event: Event) -> list[str]:
        if event.resource == "replicasets":
            owner = controller_of(event.obj) or {}
            return [str(owner["name"])] if owner.get("kind") == "Deployment" else []
        if event.resource == "pods" and event.type == "DELETED":
            return _deployment_of_pod(cluster, event.namespace, event.obj)
        return []

    await workqueue.serve(
        cluster, "deployments", related, lambda c, ns, name: reconcile(c, ns, name)
    )
