"""The cluster's state and the operations both the API and the manifest loader go through.

Creating a pod always means: defaults -> validation -> PodSecurity -> store -> kubelet, and
deleting one stops its processes before it leaves the store (the garbage collector then
deletes what it owned).
"""

from __future__ import annotations

import asyncio
import copy
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubesim import node
from kubesim.admission import podsecurity
from kubesim.admission.validation import validate_ephemeral_update, validate_new_pod
from kubesim.apiserver.accounting import RequestLedger
from kubesim.apiserver.auth import Tokens
from kubesim.apiserver.discovery import version_info
from kubesim.apiserver.rbac import Rbac
from kubesim.faults import Faults
from kubesim.kubelet.images import Catalog
from kubesim.kubelet.kubelet import VOLUME_SYNC, Kubelet
from kubesim.kubelet.pulls import PullModel
from kubesim.status import StorageError, already_exists, invalid, not_found
from kubesim.store import MAX_REQUEST_BYTES, Obj, Store, now_iso

# KEP-4006's gate (pkg/features/kube_features.go): beta and on by default from 1.35.
CONNECT_CREATE_GATE = "AuthorizePodWebsocketUpgradeCreatePermission"


@dataclass(frozen=True)
class Config:
    version: str = "1.31"
    feature_gates: dict[str, bool] = field(default_factory=dict)
    grace_cap: float = 2.0
    # The node's pull model (kubesim/kubelet/pulls.py); None: from KUBESIM_PULL* variables.
    pulls: PullModel | None = None
    # How soon a changed ConfigMap or Secret reaches its volumes (the kubelet's sync period).
    volume_sync: float = VOLUME_SYNC
    # etcd's --max-request-bytes: writes whose stored form is larger are refused (store.py).
    max_request_bytes: int = MAX_REQUEST_BYTES

    def __post_init__(self) -> None:
        if CONNECT_CREATE_GATE in self.feature_gates and self.release < (1, 35):
            raise ValueError(
                f"unrecognized feature gate: {CONNECT_CREATE_GATE} (it exists from 1.35; "
                f"this cluster is {self.version}): drop it or use --version 1.35"
            )

    @property
    def release(self) -> tuple[int, int]:
        major, minor = (int(x) for x in self.version.split(".")[:2])
        return major, minor

    @property
    def ephemeral_enabled(self) -> bool:
        if self.feature_gates.get("EphemeralContainers") is False:
            return False
        return self.release >= (1, 23) or bool(self.feature_gates.get("EphemeralContainers"))

    @property
    def connect_needs_create(self) -> bool:
        """Whether pods/exec, attach and portforward also need `create` when the request's
        own verb is `get` (a websocket upgrade): from 1.35, unless the gate is turned off."""
        return self.release >= (1, 35) and self.feature_gates.get(CONNECT_CREATE_GATE) is not False


def random_suffix(n: int = 5) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(secrets.choice(alphabet) for _ in range(n))


def default_container(c: dict[str, Any]) -> dict[str, Any]:
    c = copy.deepcopy(c)
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    image = str(c.get("image", ""))
    tag = image.rsplit("/", 1)[-1]
    latest = ":" not in tag or tag.endswith(":latest")
    c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    if c.get("resources") in (None, {}) and "resources" in c:
        c.pop("resources")
    return c


class Cluster:
    def __init__(self, config: Config, catalog: Catalog, state_dir: Path) -> None:
        self.config = config
        self.catalog = catalog
        self.state_dir = state_dir
        self.store = Store(max_request_bytes=config.max_request_bytes)
        self.tokens = Tokens()
        self.rbac = Rbac(self.store)
        self.faults = Faults()
        # Every API request served, per User-Agent and kind (kubesim/apiserver/accounting.py).
        self.requests = RequestLedger()
        self.kubelet = Kubelet(
            self.store,
            catalog,
            state_dir,
            config.grace_cap,
            self.tokens,
            pulls=config.pulls,
            volume_sync=config.volume_sync,
        )
        self.kubelet.pull_error = self.faults.pull_error
        self.kubelet.images.changed = lambda: node.report_images(self)
        self.background: set[asyncio.Task[None]] = set()
        # The controllers' work queue (kubesim/controllers/workqueue.py), which lives and dies
        # with this cluster: one pass at a time per object, and the passes waiting to run.
        self.controller_locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self.controller_timers: set[tuple[str, str, str]] = set()
        self.ensure_namespace("default")
        self.ensure_namespace("kube-system")
        node.register(self, version_info(config.version)["gitVersion"])

    def ensure_namespace(self, name: str, labels: dict[str, str] | None = None) -> Obj:
        existing = self.store.get("namespaces", "", name)
        if existing is not None:
            return existing
        ns = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/metadata.name": name, **(labels or {})},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        self.store.create("namespaces", "", ns)
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
        self.store.create("serviceaccounts", name, sa)
        return ns

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    # -- pods -----------------------------------------------------------------
    def prepare_pod(self, body: Obj, namespace: str) -> Obj:
        pod = copy.deepcopy(body)
        pod["apiVersion"], pod["kind"] = "v1", "Pod"
        meta = pod.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + random_suffix()
        meta["namespace"] = namespace
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        causes = validate_new_pod(pod)
        if causes:
            raise invalid("Pod", str(meta.get("name", "")), causes)
        spec = pod["spec"]
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("serviceAccountName", spec.get("serviceAccount", "default"))
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("securityContext", {})
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec["nodeName"] = spec.get("nodeName") or node.NAME
        spec["containers"] = [default_container(c) for c in spec["containers"]]
        if spec.get("initContainers"):
            spec["initContainers"] = [default_container(c) for c in spec["initContainers"]]
        pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        return pod

    async def create_pod(self, body: Obj, namespace: str) -> Obj:
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            raise not_found("namespaces", namespace)
        pod = self.prepare_pod(body, namespace)
        name = pod["metadata"]["name"]
        if self.store.get("pods", namespace, name) is not None:
            raise already_exists("pods", name)
        podsecurity.enforce(pod, ns)
        created = self.store.create("pods", namespace, pod)
        await self.kubelet.start_pod(created)
        return created

    async def delete_pod(self, namespace: str, name: str, grace: float | None = None) -> Obj:
        pod = self.store.get("pods", namespace, name)
        if pod is None:
            raise not_found("pods", name)
        if not pod["metadata"].get("deletionTimestamp"):
            pod = copy.deepcopy(pod)
            pod["metadata"]["deletionTimestamp"] = now_iso()
            pod["metadata"]["deletionGracePeriodSeconds"] = int(
                grace if grace is not None else pod["spec"].get("terminationGracePeriodSeconds", 30)
            )
            try:
                pod = self.store.update("pods", namespace, pod)
            except StorageError:
                # A graceful delete is an update, which etcd refuses for a pod at its size
                # limit; a forced one (grace 0) is a plain etcd delete, which it never refuses.
                if grace != 0:
                    raise
            self.spawn(self._finish_delete(pod, grace))
        return copy.deepcopy(pod)

    async def _finish_delete(self, pod: Obj, grace: float | None) -> None:
        meta = pod["metadata"]
        await self.kubelet.stop_pod(meta["uid"], grace)
        current = self.store.get("pods", meta["namespace"], meta["name"])
        if current is not None and current["metadata"]["uid"] == meta["uid"]:
            # Its dependents go with it (kubesim/controllers/garbage.py).
            self.store.delete("pods", meta["namespace"], meta["name"])

    def update_ephemeral(self, pod: Obj, new_list: list[dict[str, Any]]) -> Obj:
        """Validate and store a new `spec.ephemeralContainers`; the kubelet starts the new ones."""
        new_list = [default_container(c) for c in new_list]
        name = pod["metadata"]["name"]
        causes = validate_ephemeral_update(pod["spec"], new_list, pod["spec"])
        if causes:
            raise invalid("Pod", name, causes)
        candidate = copy.deepcopy(pod)
        candidate["spec"]["ephemeralContainers"] = new_list
        podsecurity.enforce(
            candidate, self.store.get("namespaces", "", pod["metadata"]["namespace"])
        )
        candidate["metadata"]["generation"] = int(pod["metadata"].get("generation", 1)) + 1
        stored = self.store.update("pods", pod["metadata"]["namespace"], candidate)
        self.kubelet.add_ephemeral(stored)
        return stored

    async def shutdown(self) -> None:
        await self.kubelet.shutdown()
        for task in list(self.background):
            task.cancel()


__all__ = ["Cluster", "Config"]
