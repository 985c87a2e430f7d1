"""Namespace lifecycle as the apiserver and the namespace controller run it.

Create keeps the body's labels and annotations (kubectl's last-applied-configuration). DELETE
marks the namespace Terminating (deletionTimestamp, finalizer `kubernetes`); from then on the
NamespaceLifecycle admission plugin refuses new content (plugin/pkg/admission/namespace/
lifecycle/admission.go), and the controller (pkg/controller/namespace/deletion/) deletes every
object in it (5 s later, as upstream), waits for its pods to stop, then removes the namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy

import structlog

from kubesim.apiserver import discovery
from kubesim.cluster import Cluster
from kubesim.status import ApiError, already_exists, forbidden, not_found
from kubesim.store import Obj, now_iso

log = structlog.get_logger("kubesim.namespaces")
# The namespace controller starts on a deleted namespace only this many seconds later
# (namespaceDeletionGracePeriod in pkg/controller/namespace/namespace_controller.go), so the
# content stays meanwhile: `kubectl delete -k` deletes it object by object without NotFound.
DELETION_GRACE = 5.0
# The NamespaceLifecycle plugin's immortal namespaces.
IMMORTAL = ("default", "kube-system", "kube-public")
STILL_FINALIZING = (
    "The system is ensuring all content is removed from this namespace.  Upon completion, "
    "this namespace will automatically be purged by the system."
)


def create(cluster: Cluster, body: Obj) -> Obj:
    meta = body.get("metadata") or {}
    name = str(meta["name"])
    if cluster.store.get("namespaces", "", name) is not None:
        raise already_exists("namespaces", name)
    ns = cluster.ensure_namespace(name, meta.get("labels") or {})
    if meta.get("annotations"):
        ns["metadata"]["annotations"] = dict(meta["annotations"])
        ns = cluster.store.update("namespaces", "", ns)
    return ns


def admit(cluster: Cluster, namespace: str, resource: str, name: str, group: str = "") -> None:
    """Refuse to create content in a namespace that is missing or being terminated."""
    ns = cluster.store.get("namespaces", "", namespace)
    if ns is None:
        raise not_found("namespaces", namespace)
    if ns["metadata"].get("deletionTimestamp"):
        qualified = f"{resource}.{group}" if group else resource
        subject = f'{qualified} "{name}"' if name else qualified
        details = {"name": name, "kind": resource, **({"group": group} if group else {})}
        raise ApiError(
            403,
            f"{subject} is forbidden: unable to create new content in namespace {namespace} "
            "because it is being terminated",
            "Forbidden",
            details,
        )


def delete(cluster: Cluster, name: str, dry_run: bool = False) -> Obj:
    """Start deleting namespace `name`; returns it as the apiserver does (Terminating). A dry
    run answers the same (the registry's update is dry-run, not skipped) and stores nothing."""
    ns = cluster.store.get("namespaces", "", name)
    if ns is None:
        raise not_found("namespaces", name)
    if name in IMMORTAL:
        raise forbidden("namespaces", name, "this namespace may not be deleted")
    if ns["metadata"].get("deletionTimestamp"):
        # A second delete while the `kubernetes` finalizer is still there is refused: REST.Delete
        # in pkg/registry/core/namespace/storage/storage.go answers errors.NewConflict with this
        # text (two spaces after the first sentence, as upstream). kubesim's controller deletes
        # the namespace as soon as it drops the finalizer, so a namespace still stored still has it.
        if (ns.get("spec") or {}).get("finalizers"):
            raise ApiError(
                409,
                f'Operation cannot be fulfilled on namespaces "{name}": {STILL_FINALIZING}',
                "Conflict",
                {"name": name, "kind": "namespaces"},
            )
        return copy.deepcopy(ns)
    ns = copy.deepcopy(ns)
    ns["metadata"]["deletionTimestamp"] = now_iso()
    ns["metadata"]["deletionGracePeriodSeconds"] = 0
    ns["status"] = {"phase": "Terminating"}
    if dry_run:
        return ns
    ns = cluster.store.update("namespaces", "", ns)
    cluster.spawn(_finalize(cluster, name, ns["metadata"]["uid"]))
    return copy.deepcopy(ns)


async def _finalize(cluster: Cluster, name: str, uid: str) -> None:
    await asyncio.sleep(DELETION_GRACE)
    store = cluster.store
    events = store.subscribe()
    try:
        # Pods first (their processes stop within their grace period), then everything else.
        for pod in list(store.items("pods", name)):
            with contextlib.suppress(ApiError):  # already gone
                await cluster.delete_pod(name, pod["metadata"]["name"])
        for resource in (r.name for r in discovery.RESOURCES if r.namespaced and r.name != "pods"):
            for obj in list(store.items(resource, name)):
                store.delete(resource, name, obj["metadata"]["name"])
        while any(True for _ in store.items("pods", name)):
            await events.get()
    finally:
        store.unsubscribe(events)
    current = store.get("namespaces", "", name)
    if current is not None and current["metadata"]["uid"] == uid:
        store.delete("namespaces", "", name)
        log.info("namespace deleted", namespace=name)
