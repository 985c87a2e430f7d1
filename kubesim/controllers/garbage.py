"""The garbage collector: dependents go with their owners, as pkg/controller/garbagecollector/
garbagecollector.go (attemptToDeleteItem, processDeletingDependentsItem, orphanDependents) has it.

- Background: the owner is gone; each dependent none of whose owners remains is deleted
  (pods gracefully), with Foreground if it has dependents of its own and its owner waited.
- Foreground: the owner is marked with `foregroundDeletion`; its dependents are deleted, and the
  finalizer comes off (so the owner goes) once no dependent with blockOwnerDeletion remains.
- Orphan: the owner is marked with `orphan`; its dependents lose their ownerReference to it,
  then the finalizer comes off.

Every deletion or deletion mark in the store starts one pass over all objects: kubesim's
clusters are small, so a pass is cheaper than keeping the collector's dependency graph.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass

import structlog

from kubesim import deletion
from kubesim.cluster import Cluster
from kubesim.status import ApiError
from kubesim.store import Event, Obj

log = structlog.get_logger("kubesim.garbage")


@dataclass(frozen=True)
class Item:
    resource: str
    namespace: str
    obj: Obj

    @property
    def uid(self) -> str:
        return str(self.obj["metadata"]["uid"])

    @property
    def refs(self) -> list[Obj]:
        return list(self.obj["metadata"].get("ownerReferences") or [])

    @property
    def waiting(self) -> bool:
        """Owner being deleted in the foreground: its dependents must go first."""
        return deletion.is_deleting(self.obj) and deletion.FOREGROUND in deletion.finalizers(
            self.obj
        )


def _items(cluster: Cluster) -> list[Item]:
    return [
        Item(resource, namespace, obj)
        for (resource, namespace, _), obj in list(cluster.store.objects.items())
    ]


async def _delete(cluster: Cluster, item: Item, policy: str) -> None:
    meta = item.obj["metadata"]
    try:
        if item.resource == "pods":
            await cluster.delete_pod(item.namespace, meta["name"])
        else:
            deletion.delete(cluster.store, item.resource, item.namespace, meta["name"], policy)
    except ApiError as exc:  # gone meanwhile, or refused: the next pass tries again
        log.info("could not collect", resource=item.resource, name=meta["name"], err=exc.message)


async def collect(cluster: Cluster) -> None:
    """One pass: delete ownerless dependents, orphan and release marked owners."""
    items = _items(cluster)
    by_uid = {i.uid: i for i in items}
    dependents: dict[str, list[Item]] = {}
    for item in items:
        for ref in item.refs:
            dependents.setdefault(str(ref.get("uid")), []).append(item)
    for item in items:
        if not item.refs or deletion.is_deleting(item.obj):
            continue
        owners = [by_uid.get(str(ref.get("uid"))) for ref in item.refs]
        solid = [o for o in owners if o is not None and not o.waiting]
        if solid:
            continue
        waited = any(o is not None and o.waiting for o in owners)
        has_own = bool(dependents.get(item.uid))
        await _delete(cluster, item, "Foreground" if waited and has_own else "Background")
    for owner in items:
        if not deletion.is_deleting(owner.obj):
            continue
        marks = deletion.finalizers(owner.obj)
        mine = dependents.get(owner.uid, [])
        if deletion.ORPHAN in marks:
            for dependent in mine:
                current = cluster.store.get(
                    dependent.resource, dependent.namespace, _name(dependent)
                )
                if current is None:
                    continue
                freed = copy.deepcopy(current)
                kept = [
                    r
                    for r in freed["metadata"].get("ownerReferences") or []
                    if r.get("uid") != owner.uid
                ]
                freed["metadata"]["ownerReferences"] = kept
                if not kept:
                    del freed["metadata"]["ownerReferences"]
                cluster.store.update(dependent.resource, dependent.namespace, freed)
            deletion.drop_finalizer(
                cluster.store, owner.resource, owner.namespace, owner.obj, deletion.ORPHAN
            )
        elif deletion.FOREGROUND in marks:
            blocking = [
                d
                for d in mine
                if any(r.get("uid") == owner.uid and r.get("blockOwnerDeletion") for r in d.refs)
            ]
            if not blocking:
                deletion.drop_finalizer(
                    cluster.store, owner.resource, owner.namespace, owner.obj, deletion.FOREGROUND
                )


def _name(item: Item) -> str:
    return str(item.obj["metadata"]["name"])


def _matters(event: Event) -> bool:
    if event.type == "DELETED":
        return True
    marks = deletion.finalizers(event.obj)
    return deletion.is_deleting(event.obj) and (
        deletion.FOREGROUND in marks or deletion.ORPHAN in marks
    )


async def run(cluster: Cluster) -> None:
    queue = cluster.store.subscribe()
    try:
        while True:
            event = await queue.get()
            wanted = _matters(event)
            while not queue.empty():  # one pass for a burst of events
                wanted = _matters(queue.get_nowait()) or wanted
            if wanted:
                try:
                    await collect(cluster)
                except Exception:  # a collector bug must not stop the collector
                    log.exception("garbage collection failed")
    except asyncio.CancelledError:
        pass
    finally:
        cluster.store.unsubscribe(queue)
