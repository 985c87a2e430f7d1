"""The fields of a Pod that jdebug reads, as TypedDicts, and the few questions asked of them.

The API answers with whole Pod objects; these types name only what the targets and the
strategies look at, so a reader sees which fields matter and mypy checks each use.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast


class Capabilities(TypedDict, total=False):
    add: list[str]
    drop: list[str]


class SecurityContext(TypedDict, total=False):
    runAsUser: int
    runAsGroup: int
    runAsNonRoot: bool
    capabilities: Capabilities


class Resources(TypedDict, total=False):
    limits: dict[str, str]
    requests: dict[str, str]


class ContainerSpec(TypedDict, total=False):
    name: str
    image: str
    securityContext: SecurityContext
    resources: Resources


class LocalObjectReference(TypedDict, total=False):
    name: str


class PodSpec(TypedDict, total=False):
    containers: list[ContainerSpec]
    ephemeralContainers: list[dict[str, Any]]
    shareProcessNamespace: bool
    nodeName: str
    securityContext: SecurityContext
    imagePullSecrets: list[LocalObjectReference]


class ContainerState(TypedDict, total=False):
    waiting: dict[str, Any]
    running: dict[str, Any]
    terminated: dict[str, Any]


class ContainerStatus(TypedDict, total=False):
    name: str
    image: str
    imageID: str
    containerID: str
    state: ContainerState


class PodStatus(TypedDict, total=False):
    phase: str
    reason: str
    message: str
    containerStatuses: list[ContainerStatus]
    ephemeralContainerStatuses: list[ContainerStatus]


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    labels: dict[str, str]
    annotations: dict[str, str]


class PodJson(TypedDict, total=False):
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


def as_pod(value: dict[str, Any]) -> PodJson:
    """The API's answer, typed by the fields we read (the rest is ignored)."""
    return cast(PodJson, value)


def pod_name(pod: PodJson) -> str:
    return pod.get("metadata", {}).get("name", "")


def pod_namespace(pod: PodJson) -> str:
    return pod.get("metadata", {}).get("namespace", "")


def container_spec(pod: PodJson, name: str) -> ContainerSpec:
    for container in pod.get("spec", {}).get("containers", []):
        if container.get("name") == name:
            return container
    return {}


def container_status(pod: PodJson, name: str, key: str = "containerStatuses") -> ContainerStatus:
    """The status of container `name` in `status.<key>` (or of an ephemeral container)."""
    statuses = pod.get("status", {}).get(key)
    for status in cast(list[ContainerStatus], statuses or []):
        if status.get("name") == name:
            return status
    return {}


def container_image(pod: PodJson, container: str) -> str:
    """The image ID (digest) when the kubelet reports it, else the image reference."""
    status = container_status(pod, container)
    return (
        status.get("imageID")
        or status.get("image")
        or container_spec(pod, container).get("image", "")
    )


def container_id(pod: PodJson, container: str) -> str | None:
    """The runtime's ID without its scheme (`containerd://abc…` → `abc…`)."""
    cid = container_status(pod, container).get("containerID")
    return cid.split("://", 1)[-1] if cid else None


def running_image_ref(pod: PodJson, container: str) -> str | None:
    """The container's image by the digest the kubelet reports (`imageID`), which a node that
    runs it already has; None when the kubelet reported none."""
    image_id = container_status(pod, container).get("imageID") or ""
    ref = image_id.split("://", 1)[-1]  # docker-pullable://repo@sha256:... in older runtimes
    return ref if "@sha256:" in ref else None
