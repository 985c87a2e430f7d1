"""The object store: API objects by (resource, namespace, name), with resourceVersions and watches.

One global counter gives resourceVersions as a real etcd-backed apiserver would (increasing,
opaque strings); watchers get ADDED/MODIFIED/DELETED events through asyncio queues.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    type: str
    resource: str
    namespace: str
    obj: Obj


@dataclass
class Store:
    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    revision: int = 1
    watchers: set[asyncio.Queue[Event]] = field(default_factory=set)

    def _bump(self, obj: Obj) -> None:
        self.revision += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.revision)

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((resource, namespace, name))

    def items(self, resource: str, namespace: str | None = None) -> Iterator[Obj]:
        for (res, ns, _), obj in sorted(self.objects.items()):
            if res == resource and (namespace is None or ns == namespace):
                yield obj

    def create(self, resource: str, namespace: str, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_iso())
        if namespace:
            meta["namespace"] = namespace
        self._bump(obj)
        self.objects[(resource, namespace, meta["name"])] = obj
        self._notify("ADDED", resource, namespace, obj)
        return obj

    def update(self, resource: str, namespace: str, obj: Obj) -> Obj:
        self._bump(obj)
        self.objects[(resource, namespace, obj["metadata"]["name"])] = obj
        self._notify("MODIFIED", resource, namespace, obj)
        return obj

    def delete(self, resource: str, namespace: str, name: str) -> Obj | None:
        obj = self.objects.pop((resource, namespace, name), None)
        if obj is not None:
            self._bump(obj)
            self._notify("DELETED", resource, namespace, obj)
        return obj

    def _notify(self, kind: str, resource: str, namespace: str, obj: Obj) -> None:
        event = Event(kind, resource, namespace, copy.deepcopy(obj))
        for queue in list(self.watchers):
            queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self.watchers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self.watchers.discard(queue)
