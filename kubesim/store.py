"""The object store: API objects by (resource, namespace, name), with resourceVersions and watches.

One global counter gives resourceVersions as a real etcd-backed apiserver would (increasing,
opaque strings); watchers get ADDED/MODIFIED/DELETED events through asyncio queues. Every write,
the kubelet's and the controllers' included, is refused as etcd refuses it once the stored form
is over etcd's request limit.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubesim.status import request_too_large

Obj = dict[str, Any]
# etcd's --max-request-bytes default (server/embed/config.go, DefaultMaxRequestBytes = 1.5 MiB;
# https://etcd.io/docs/v3.5/dev-guide/limit/).
MAX_REQUEST_BYTES = 1572864


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    type: str
    resource: str
    namespace: str
    obj: Obj


# How many recent events a watch from a resourceVersion can be replayed from, as the
# apiserver's watch cache keeps a window of them (apiserver/pkg/storage/cacher/watch_cache.go);
# older resourceVersions are "too old" (410 Expired).
HISTORY_EVENTS = 10_000


@dataclass
class Store:
    objects: dict[tuple[str, str, str], Obj] = field(default_factory=dict)
    revision: int = 1
    watchers: set[asyncio.Queue[Event]] = field(default_factory=set)
    max_request_bytes: int = MAX_REQUEST_BYTES
    history: collections.deque[Event] = field(
        default_factory=lambda: collections.deque(maxlen=HISTORY_EVENTS)
    )

    def stored_size(self, resource: str, namespace: str, obj: Obj) -> int:
        """The bytes etcd would be asked to store for `obj`: its key and its serialised form.
        kubesim serialises as compact JSON; a real apiserver stores core kinds as protobuf,
        which is smaller, so kubesim reaches the limit somewhat earlier (kubesim/README.md)."""
        name = obj.get("metadata", {}).get("name", "")
        key = "/".join(("/registry", resource, *([namespace] if namespace else []), name))
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        return len(key.encode()) + len(body.encode())

    def _check_size(self, resource: str, namespace: str, obj: Obj) -> None:
        if self.stored_size(resource, namespace, obj) > self.max_request_bytes:
            raise request_too_large()

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
        self._check_size(resource, namespace, obj)
        self._bump(obj)
        self.objects[(resource, namespace, meta["name"])] = obj
        self._notify("ADDED", resource, namespace, obj)
        return obj

    def update(self, resource: str, namespace: str, obj: Obj) -> Obj:
        self._check_size(resource, namespace, obj)
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
        self.history.append(event)
        for queue in list(self.watchers):
            queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self.watchers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self.watchers.discard(queue)

    def events_since(self, revision: int) -> list[Event] | None:
        """The kept events after `revision`, oldest first; None when `revision` is older than
        what is kept (the apiserver's 410 "too old resource version")."""
        if self.history and revision_of(self.history[0]) > revision + 1:
            return None
        return [e for e in self.history if revision_of(e) > revision]


def revision_of(event: Event) -> int:
    return int(event.obj.get("metadata", {}).get("resourceVersion", "0"))
