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


def _selector(obj: Obj) -> str:
    """metav1.FormatLabelSelector: matchLabels as `k=v`, sorted, comma-joined."""
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def _containers(obj: Obj, key: str) -> str:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return ",".join(str(c.get(key, "")) for c in spec.get("containers") or [])


def _node_status(node: Obj) -> str:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c["status"] for c in conditions if c.get("type") == "Ready"), "Unknown")
    text = {"True": "Ready", "False": "NotReady"}.get(ready, "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        text += ",SchedulingDisabled"
    return text


def _node_roles(node: Obj) -> str:
    labels = node["metadata"].get("labels") or {}
    roles = {k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return ",".join(sorted(r for r in roles if r)) or "<none>"


def _node_address(node: Obj, kind: str) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == kind:
            return str(address.get("address"))
    return "<none>"


def _node_info(node: Obj, key: str) -> str:
    return str(((node.get("status") or {}).get("nodeInfo") or {}).get(key, ""))


def _age(obj: Obj) -> str:
    return age(obj["metadata"].get("creationTimestamp", ""))


Cell = Callable[[Obj], Any]
# The printer columns `kubectl get` shows for these kinds (pkg/printers/internalversion/
# printers.go: nodeColumnDefinitions, deploymentColumnDefinitions, replicaSetColumnDefinitions,
# namespaceColumnDefinitions): (name, priority, cell). Priority 1 is `-o wide` only.
COLUMNS: dict[str, tuple[tuple[str, int, Cell], ...]] = {
    "namespaces": (
        ("Status", 0, lambda o: (o.get("status") or {}).get("phase", "Active")),
        ("Age", 0, _age),
    ),
    "deployments": (
        (
            "Ready",
            0,
            lambda o: (
                f"{(o.get('status') or {}).get('readyReplicas', 0)}/"
                f"{(o.get('spec') or {}).get('replicas', 1)}"
            ),
        ),
        ("Up-to-date", 0, lambda o: (o.get("status") or {}).get("updatedReplicas", 0)),
        ("Available", 0, lambda o: (o.get("status") or {}).get("availableReplicas", 0)),
        ("Age", 0, _age),
        ("Containers", 1, lambda o: _containers(o, "name")),
        ("Images", 1, lambda o: _containers(o, "image")),
        ("Selector", 1, _selector),
    ),
    "replicasets": (
        ("Desired", 0, lambda o: (o.get("spec") or {}).get("replicas", 1)),
        ("Current", 0, lambda o: (o.get("status") or {}).get("replicas", 0)),
        ("Ready", 0, lambda o: (o.get("status") or {}).get("readyReplicas", 0)),
        ("Age", 0, _age),
        ("Containers", 1, lambda o: _containers(o, "name")),
        ("Images", 1, lambda o: _containers(o, "image")),
        ("Selector", 1, _selector),
    ),
    "nodes": (
        ("Status", 0, _node_status),
        ("Roles", 0, _node_roles),
        ("Age", 0, _age),
        ("Version", 0, lambda o: _node_info(o, "kubeletVersion")),
        ("Internal-IP", 1, lambda o: _node_address(o, "InternalIP")),
        ("External-IP", 1, lambda o: _node_address(o, "ExternalIP")),
        ("OS-Image", 1, lambda o: _node_info(o, "osImage")),
        ("Kernel-Version", 1, lambda o: _node_info(o, "kernelVersion")),
        ("Container-Runtime", 1, lambda o: _node_info(o, "containerRuntimeVersion")),
    ),
}
DEFAULT_COLUMNS: tuple[tuple[str, int, Cell], ...] = (("Age", 0, _age),)


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
    else:
        spec = COLUMNS.get(resource, DEFAULT_COLUMNS)
        columns = [_column("Name", fmt="name"), *(_column(n, priority=p) for n, p, _ in spec)]
        rows = [
            {"cells": [o["metadata"]["name"], *(cell(o) for _, _, cell in spec)], "object": o}
            for o in objects
        ]
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": columns,
        "rows": rows,
    }
