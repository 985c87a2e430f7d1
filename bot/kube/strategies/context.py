"""What every Kubernetes strategy shares: the API, the probe, the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.kube.api import KubeApi
from bot.kube.probe import Probe

# The agent bounds itself; this covers websocket set-up and log reading on top.
GRACE_S = 15
DEFAULT_DEBUG_IMAGE = "eclipse-temurin:25-jdk"


@dataclass(frozen=True)
class KubeSettings:
    """`node_namespace` holds node debug pods; it must allow hostPID (PodSecurity privileged).
    `owner` is an ownerReference to the bot's own pod (same namespace), so deleting the bot
    garbage-collects its debug pods. `cluster` names this cluster in answers and audit."""

    debug_image: str = DEFAULT_DEBUG_IMAGE
    start_timeout_s: int = 60
    default_namespace: str = "default"
    node_namespace: str = "jdebug"
    owner: dict[str, Any] | None = None
    cluster: str | None = None


@dataclass(frozen=True)
class KubeContext:
    api: KubeApi
    probe: Probe
    settings: KubeSettings
