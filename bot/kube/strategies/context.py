"""What every Kubernetes strategy shares: the API, the probe, the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.kube.api import KubeApi
from bot.kube.probe import Probe

# The agent bounds itself; this covers websocket set-up and log reading on top.
GRACE_S = 15
# deploy/debug-image/: a static busybox and jdebug-attach, about 1 MB (a release publishes it
# and pins this by digest; until then, build and push it, README "Mirror the debug image").
DEFAULT_DEBUG_IMAGE = "ghcr.io/jdebug-dev/jdebug-debug:0.1.0"


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
    helpers_dir: str | None = None
    # Start debug containers from the app's own image (no pull) when it has a shell.
    debug_from_app_image: bool = True
    # Secrets (in the node pods' namespace) a node debug pod pulls the debug image with.
    image_pull_secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class KubeContext:
    api: KubeApi
    probe: Probe
    settings: KubeSettings
