"""`meta.k8s.io/v1` Table responses, which `kubectl get` asks for (`Accept: ...;as=Table`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def age(timestamp: str) -> str:
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return "<unknown>"
    seconds = int((datetime.now(UTC) - then).total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _pod_status(pod: Obj) -> str:
    status = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp"):
        return "Terminating"
    reason = status.get("reason") or status.get("phase", "Pending")
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason") not in (None, "ContainerCreating"):
            return str(state["waiting"]["reason"])
        if "waiting" in state and reason == "Pending":
            reason = "ContainerCreating"
        if "terminated" in state and reason == "Running":
            reason = str(state["terminated"].get("reason", "Completed"))
    return str(reason)


def _pod_row(pod: Obj) -> list[Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount", 0)) for cs in statuses)
    total = len(pod["spec"].get("containers") or [])
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        _pod_status(pod),
        restarts,
        age(pod["metadata"].get("creationTimestamp", "")),
        "127.0.0.1",
        "kubesim",
    ]


def _deployment_cells(d: Obj) -> list[Any]:
    status = d.get("status") or {}
    wanted = int((d.get("spec") or {}).get("replicas", 1))
    ready = int(status.get("readyReplicas", 0))
    return [
        f"{ready}/{wanted}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
    ]


# The printer columns `kubectl get` shows for these kinds besides Name and Age
# (pkg/printers/internalversion/printers.go).
EXTRA: dict[str, tuple[tuple[str, ...], Callable[[Obj], list[Any]]]] = {
    "namespaces": (("Status",), lambda o: [(o.get("status") or {}).get("phase", "Active")]),
    "deployments": (("Ready", "Up-to-date", "Available"), _deployment_cells),
}


def _event_row(e: Obj) -> list[Any]:
    involved = e.get("involvedObject") or {}
    kind, name = str(involved.get("kind", "")).lower(), involved.get("name", "")
    last = e.get("lastTimestamp") or e.get("eventTime") or ""
    source = e.get("source") or {}
    return [
        age(str(last)),
        e.get("type", ""),
        e.get("reason", ""),
        f"{kind}/{name}",
        involved.get("fieldPath", ""),
        f"{source.get('component', '')}, {source.get('host', '')}",
        e.get("message", ""),
        age(str(e.get("firstTimestamp") or last)),
        e.get("count", 1),
        e["metadata"]["name"],
    ]


def _column(name: str, kind: str = "string", fmt: str = "", priority: int = 0) -> Obj:
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


def table(resource: str, objects: list[Obj], resource_version: str) -> Obj:
    if resource == "pods":
        columns = [
            _column("Name", fmt="name"),
            _column("Ready"),
            _column("Status"),
            _column("Restarts", "string"),
            _column("Age"),
            _column("IP", priority=1),
            _column("Node", priority=1),
        ]
        rows = [{"cells": _pod_row(o), "object": o} for o in objects]
    elif resource == "events":
        # pkg/printers/internalversion/printers.go, eventColumnDefinitions.
        columns = [
            _column("Last Seen"),
            _column("Type"),
            _column("Reason"),
            _column("Object"),
            _column("Subobject", priority=1),
            _column("Source", priority=1),
            _column("Message"),
            _column("First Seen", priority=1),
            _column("Count", "integer", priority=1),
            _column("Name", fmt="name", priority=1),
        ]
        rows = [{"cells": _event_row(o), "object": o} for o in objects]
    elif resource in EXTRA:
        heads, cells = EXTRA[resource]
        columns = [_column("Name", fmt="name"), *(_column(h) for h in heads), _column("Age")]
        rows = [
            {
                "cells": [
                    o["metadata"]["name"],
                    *cells(o),
                    age(o["metadata"].get("creationTimestamp", "")),
                ],
                "object": o,
            }
            for o in objects
        ]
    else:
        columns = [_column("Name", fmt="name"), _column("Age")]
        rows = [
            {
                "cells": [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp", ""))],
                "object": o,
            }
            for o in objects
        ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
