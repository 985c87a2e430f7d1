"""What every Kubernetes strategy shares for one request: the API, the probe, the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.backends.protocols import ResolvedTarget
from bot.kube.api import KubeApi
from bot.kube.probe import Probe

# The agent bounds itself; this covers websocket set-up and log reading on top.
GRACE_S = 15


@dataclass(frozen=True)
class KubeSettings:
    """`node_namespace` holds node debug pods; it must allow hostPID (PodSecurity privileged).
    `owner` is an ownerReference to the bot's own pod (same namespace), so deleting the bot
    garbage-collects its debug pods."""

    debug_image: str = "eclipse-temurin:25-jdk"
    start_timeout_s: int = 60
    default_namespace: str = "default"
    node_namespace: str = "jdebug"
    owner: dict[str, Any] | None = None


@dataclass(frozen=True)
class KubeContext:
    api: KubeApi
    probe: Probe
    settings: KubeSettings


def pod_of(target: ResolvedTarget) -> dict[str, Any]:
    """The resolved pod's JSON; Kubernetes strategies only get targets the backend resolved."""
    if target.pod_json is None or target.namespace is None or target.container is None:
        raise ValueError("a Kubernetes strategy got a target without a pod")
    return target.pod_json


def container_image(pod: dict[str, Any], container: str) -> str:
    """The image ID (digest) when the kubelet reports it, else the image reference."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return str(status.get("imageID") or status.get("image") or "")
    for spec in pod.get("spec", {}).get("containers") or []:
        if spec.get("name") == container:
            return str(spec.get("image", ""))
    return ""
