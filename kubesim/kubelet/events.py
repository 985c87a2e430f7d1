"""core/v1 Events as the kubelet records them: pulls, starts, kills, probe failures, back-off.

The kubelet's recorder (client-go tools/record) names an Event `<object>.<hex timestamp>`, sets
`source.component: kubelet` and the node as host, points `involvedObject.fieldPath` at the
container (`spec.containers{app}`), and folds a repeat of the same reason and message on the
same object into one Event whose `count` and `lastTimestamp` grow (events_cache.go, the
EventCorrelator's aggregation); `kubectl describe pod` shows those as `(x3 over 20s)`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from kubesim.node import NAME as NODE
from kubesim.store import Obj, Store

NORMAL, WARNING = "Normal", "Warning"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def field_path(kind: str, name: str) -> str:
    """`spec.containers{app}`, `spec.ephemeralContainers{debugger-x}`: the container's place."""
    section = {"ephemeral": "ephemeralContainers", "init": "initContainers"}.get(kind, "containers")
    return f"spec.{section}{{{name}}}"


class Recorder:
    """Writes Events into the store; `record` is what the kubelet calls."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # (namespace, involved uid, fieldPath, type, reason, message) -> the Event's name
        self._seen: dict[tuple[str, ...], str] = {}

    def record(
        self, pod: Obj, kind: str, container: str, type_: str, reason: str, message: str
    ) -> Obj:
        meta = pod["metadata"]
        involved = {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "apiVersion": "v1",
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if container:
            involved["fieldPath"] = field_path(kind, container)
        stamp = _now()
        namespace = meta["namespace"]
        key = (namespace, involved["uid"], involved.get("fieldPath", ""), type_, reason, message)
        if (name := self._seen.get(key)) and (
            existing := self.store.get("events", namespace, name)
        ):
            existing["count"] = int(existing.get("count", 1)) + 1
            existing["lastTimestamp"] = stamp
            return self.store.update("events", namespace, existing)
        name = f"{meta['name']}.{time.time_ns():x}"
        event: Obj = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": {"component": "kubelet", "host": NODE},
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": "kubelet",
            "reportingInstance": NODE,
        }
        self._seen[key] = name
        return self.store.create("events", namespace, event)
