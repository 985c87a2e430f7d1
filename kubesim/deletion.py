"""Deleting an object as the registry does (k8s.io/apiserver/pkg/registry/generic/registry/
store.go, Delete and updateForGracefulDeletionAndFinalizers).

A DeleteOptions' propagationPolicy adds the garbage collector's finalizer: `foregroundDeletion`
for Foreground, `orphan` for Orphan; Background (the apps/v1 and core default) adds none. An
object with finalizers is only marked (deletionTimestamp) and returned, and goes once an update
removes the last one; one without goes at once. The garbage collector
(kubesim/controllers/garbage.py) acts on the marks. Pods keep their own graceful deletion
(Cluster.delete_pod).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kubesim.status import ApiError
from kubesim.store import Obj, Store, now_iso

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
POLICIES = ("Foreground", "Background", "Orphan")


def propagation(options: Mapping[str, Any], query: Mapping[str, str]) -> str:
    """The policy a DELETE asks for: DeleteOptions.propagationPolicy (body or query), else the
    legacy orphanDependents, else Background."""
    policy = options.get("propagationPolicy") or query.get("propagationPolicy")
    if policy is None and "orphanDependents" in options:
        policy = "Orphan" if options["orphanDependents"] else "Background"
    policy = str(policy or "Background")
    if policy not in POLICIES:
        supported = ", ".join(f'"{p}"' for p in POLICIES)
        why = f'propagationPolicy: Unsupported value: "{policy}": supported values: {supported}'
        raise ApiError(422, f'DeleteOptions.meta.k8s.io "" is invalid: {why}', "Invalid", {})
    return policy


def finalizers(obj: Obj) -> list[str]:
    return list(obj.get("metadata", {}).get("finalizers") or [])


def is_deleting(obj: Obj) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def delete(store: Store, resource: str, namespace: str, name: str, policy: str) -> Obj | None:
    """Delete or mark the object; the marked object when it stays, None when it is gone."""
    current = store.get(resource, namespace, name)
    if current is None:
        return None
    obj = copy.deepcopy(current)
    meta = obj["metadata"]
    wanted = finalizers(obj)
    extra = {"Foreground": FOREGROUND, "Orphan": ORPHAN}.get(policy)
    if extra and extra not in wanted:
        wanted.append(extra)
    if not wanted:
        store.delete(resource, namespace, name)
        return None
    meta["finalizers"] = wanted
    if not meta.get("deletionTimestamp"):
        meta["deletionTimestamp"] = now_iso()
        meta["deletionGracePeriodSeconds"] = 0
    return store.update(resource, namespace, obj)


def save(store: Store, resource: str, namespace: str, obj: Obj) -> Obj | None:
    """Store an update; an object being deleted whose last finalizer the update removes goes
    instead (None)."""
    if is_deleting(obj) and not finalizers(obj):
        store.delete(resource, namespace, obj["metadata"]["name"])
        return None
    return store.update(resource, namespace, obj)


def drop_finalizer(store: Store, resource: str, namespace: str, obj: Obj, name: str) -> None:
    updated = copy.deepcopy(obj)
    updated["metadata"]["finalizers"] = [f for f in finalizers(obj) if f != name]
    if not updated["metadata"]["finalizers"]:
        del updated["metadata"]["finalizers"]
    save(store, resource, namespace, updated)
