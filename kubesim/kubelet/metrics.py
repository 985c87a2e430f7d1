"""What each container costs, as metrics-server serves it and as a benchmark reads it.

`/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods[/{name}]` answers PodMetrics as
metrics-server does (github.com/kubernetes-sigs/metrics-server, pkg/api/pod.go): per running
container its CPU in nanocores and its memory working set in Ki, which `kubectl top pod`
prints. `/kubesim/v1/namespaces/{ns}/pods/{name}/memory` (and `KubeSim.memory`) gives what a
benchmark needs and metrics-server does not keep: each container's peak (its memory cgroup's
max_usage_in_bytes, every process that ran in it included, `pods/exec` ones too), its
limit and its OOM kills, also after the container has ended.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from kubesim.apiserver.context import Ctx, ok
from kubesim.apiserver.pods import selector
from kubesim.kubelet.kubelet import Kubelet, PodRun
from kubesim.kubelet.podstatus import ContainerRecord
from kubesim.status import ApiError
from kubesim.store import Obj

API_VERSION = "metrics.k8s.io/v1beta1"
TICKS = os.sysconf("SC_CLK_TCK")
# Per container: (cpu seconds, wall clock) at the last scrape, for the rate metrics-server
# computes between two scrapes.
_last: dict[str, tuple[float, float]] = {}


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


def container_usage(record: ContainerRecord) -> dict[str, str]:
    groups = record.cgroups
    pids = groups.pids_inside() if groups else []
    if not pids and record.process is not None:
        pids = [record.process.pid]
    now, cpu = time.monotonic(), _cpu_seconds(pids)
    before_cpu, before = _last.get(record.container_id, (0.0, now - 1.0))
    _last[record.container_id] = (cpu, now)
    nanocores = max(0, int((cpu - before_cpu) / max(now - before, 1e-3) * 1e9))
    memory = (groups.working_set() if groups else None) or _rss(pids)
    return {"cpu": f"{nanocores}n", "memory": f"{memory // 1024}Ki"}


def pod_metrics(pod: Obj, run: PodRun) -> Obj | None:
    containers = [
        {"name": r.name, "usage": container_usage(r)} for r in run.records.values() if r.is_running
    ]
    if not containers:
        return None
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = pod["metadata"]
    return {
        "kind": "PodMetrics",
        "apiVersion": API_VERSION,
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "creationTimestamp": now,
            "labels": meta.get("labels") or {},
        },
        "timestamp": now,
        "window": "10s",
        "containers": containers,
    }


def _not_found(namespace: str, name: str) -> ApiError:
    return ApiError(
        404,
        f'podmetrics.metrics.k8s.io "{namespace}/{name}" not found',
        "NotFound",
        {"name": f"{namespace}/{name}", "group": "metrics.k8s.io", "kind": "pods"},
    )


async def handle(ctx: Ctx) -> web.StreamResponse:
    kubelet = ctx.cluster.kubelet
    store = ctx.cluster.store
    if ctx.info.verb == "get":
        pod = store.get("pods", ctx.info.namespace, ctx.info.name)
        run = kubelet.run_of(pod) if pod else None
        found = pod_metrics(pod, run) if pod and run else None
        if found is None:
            raise _not_found(ctx.info.namespace, ctx.info.name)
        return ok(found)
    matches = selector(ctx)
    items = []
    for pod in store.items("pods", ctx.info.namespace or None):
        run = kubelet.run_of(pod)
        if run is not None and matches(pod) and (found := pod_metrics(pod, run)) is not None:
            items.append(found)
    return ok({"kind": "PodMetricsList", "apiVersion": API_VERSION, "metadata": {}, "items": items})


def memory_document(kubelet: Kubelet, namespace: str, name: str) -> dict[str, Any] | None:
    containers = kubelet.memory(namespace, name)
    if not containers:
        return None
    return {
        "namespace": namespace,
        "pod": name,
        "containers": [{"name": n, **values} for n, values in containers.items()],
    }
