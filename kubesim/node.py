"""The cluster's one Node, as its kubelet registers it: this machine's name in the cluster
(`kubesim`, every pod's spec.nodeName), labels, nodeInfo, capacity and conditions, read from
this machine, the images its kubelet holds, and the node Lease the kubelet renews in
kube-node-lease.

Figures follow pkg/kubelet/nodestatus/setters.go (MachineInfo, NodeAddress, ReadyCondition...)
and pkg/kubelet/kubelet_node_status.go (initialNode's labels); architecture is Go's name for
`uname -m` (runtime.GOARCH), as the kubelet reports it.
"""

from __future__ import annotations

import asyncio
import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from kubesim.kubelet.images import qualified
from kubesim.store import Obj, now_iso

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kubesim.cluster import Cluster
    from kubesim.kubelet.pulls import NodeImage

NAME = "kubesim"
LEASE_NAMESPACE = "kube-node-lease"
# The kubelet's node lease: 40 s long, renewed every quarter of that (pkg/kubelet/kubelet.go,
# nodeLeaseRenewIntervalFraction).
LEASE_SECONDS = 40
RENEW_SECONDS = LEASE_SECONDS / 4
# `uname -m` to Go's GOARCH.
GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
# The kubelet's default hard eviction thresholds (pkg/kubelet/eviction/defaults_linux.go), which
# allocatable leaves out: memory.available<100Mi and nodefs.available<10%.
EVICTION_MEMORY_KI = 100 * 1024
EVICTION_NODEFS = 0.10
# kubelet --max-pods default.
MAX_PODS = "110"
# How many images status.images lists (the kubelet's nodeStatusMaxImages default) and how many
# names each keeps (pkg/kubelet/nodestatus/setters.go, MaxNamesPerImageInNodeStatus).
MAX_IMAGES = 50
MAX_NAMES = 5


def architecture() -> str:
    machine = platform.machine()
    return GOARCH.get(machine, machine)


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        key, _, value = line.partition("=")
        if key == "PRETTY_NAME":
            return value.strip('"')
    return "Linux"


def _memory_ki() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _micro_time() -> str:
    """metav1.MicroTime's format, as a Lease's renewTime is written."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_object(kubelet_version: str) -> Obj:
    started = now_iso()
    disk = os.statvfs("/")
    disk_bytes = disk.f_blocks * disk.f_frsize
    memory_ki = _memory_ki()
    cpus = str(os.cpu_count() or 1)
    arch = architecture()
    machine_id = _read("/etc/machine-id")
    capacity = {
        "cpu": cpus,
        "ephemeral-storage": f"{disk_bytes // 1024}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{memory_ki}Ki",
        "pods": MAX_PODS,
    }
    allocatable = {
        **capacity,
        "ephemeral-storage": str(int(disk_bytes * (1 - EVICTION_NODEFS))),
        "memory": f"{max(0, memory_ki - EVICTION_MEMORY_KI)}Ki",
    }

    def condition(kind: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": kind,
            "status": status,
            "lastHeartbeatTime": started,
            "lastTransitionTime": started,
            "reason": reason,
            "message": message,
        }

    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NAME,
            "labels": {
                "beta.kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "kubernetes.io/hostname": NAME,
                "kubernetes.io/os": "linux",
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                condition(
                    "MemoryPressure",
                    "False",
                    "KubeletHasSufficientMemory",
                    "kubelet has sufficient memory available",
                ),
                condition(
                    "DiskPressure",
                    "False",
                    "KubeletHasNoDiskPressure",
                    "kubelet has no disk pressure",
                ),
                condition(
                    "PIDPressure",
                    "False",
                    "KubeletHasSufficientPID",
                    "kubelet has sufficient PID available",
                ),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": NAME},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": machine_id,
                "systemUUID": _read("/sys/class/dmi/id/product_uuid").lower() or machine_id,
                "bootID": _read("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": platform.release(),
                "osImage": _os_image(),
                "containerRuntimeVersion": f"kubesim://{metadata.version('jdebug')}",
                "kubeletVersion": kubelet_version,
                # Deprecated, but the official Python client requires it.
                "kubeProxyVersion": kubelet_version,
                "operatingSystem": "linux",
                "architecture": arch,
            },
        },
    }


def images_status(present: Iterable[NodeImage]) -> list[Obj]:
    """nodestatus.Images (pkg/kubelet/nodestatus/setters.go): the node's images largest first
    (the image manager's list is sorted by size), each named by its repository digest, then
    its tag, as containerd reports RepoDigests and RepoTags; its size is the compressed one
    containerd counts."""
    largest = sorted(present, key=lambda held: held.size, reverse=True)[:MAX_IMAGES]
    return [
        {
            "names": [held.image.image_id, qualified(held.image.ref)][:MAX_NAMES],
            "sizeBytes": held.size,
        }
        for held in largest
    ]


def report_images(cluster: Cluster) -> None:
    """Write the kubelet's images into the Node's status when they changed."""
    stored = cluster.store.get("nodes", "", NAME)
    if stored is None:
        return
    images = images_status(cluster.kubelet.images.present.values())
    if stored["status"].get("images") != images:
        status = {**stored["status"], "images": images}
        cluster.store.update("nodes", "", {**stored, "status": status})


def register(cluster: Cluster, kubelet_version: str) -> Obj:
    """Store the Node and its Lease (the namespace kube-node-lease comes with them)."""
    node = cluster.store.create("nodes", "", node_object(kubelet_version))
    cluster.ensure_namespace(LEASE_NAMESPACE)
    lease = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": NAME,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": NAME, "uid": node["metadata"]["uid"]}
            ],
        },
        "spec": {
            "holderIdentity": NAME,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _micro_time(),
        },
    }
    cluster.store.create("leases", LEASE_NAMESPACE, lease)
    return node


async def renew_lease(cluster: Cluster) -> None:
    """The kubelet's heartbeat: renew the node Lease for as long as the cluster runs."""
    try:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            lease = cluster.store.get("leases", LEASE_NAMESPACE, NAME)
            if lease is None:
                continue
            renewed = {**lease, "spec": {**lease["spec"], "renewTime": _micro_time()}}
            cluster.store.update("leases", LEASE_NAMESPACE, renewed)
    except asyncio.CancelledError:
        pass
