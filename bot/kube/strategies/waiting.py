"""Wait for a debug container (ephemeral, or a node pod's) to end, failing fast and clearly.

Shared by the ephemeral and node strategies: poll the pod, stop on `terminated`, turn image
pull errors and never-starting containers into one sentence within a bounded wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bot.kube.api import KubeApi
from bot.model.errors import DeadlineExceeded, StrategyUnavailable

IMAGE_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
POLL_S = 0.25

StatusOf = Callable[[dict[str, Any]], dict[str, Any] | None]


async def wait_until_started(
    api: KubeApi,
    namespace: str,
    pod: str,
    what: str,
    status_of: StatusOf,
    image: str,
    start_timeout_s: float,
    secrets_note: str = "",
) -> dict[str, Any]:
    """The container status once it runs, or once it ended without (a runtime's StartError:
    say an image without /bin/sh); `what` names it in errors."""
    start_by = time.monotonic() + start_timeout_s
    while True:
        status = status_of(await api.get_pod(namespace, pod)) or {}
        state = status.get("state") or {}
        if "running" in state or "terminated" in state:
            return status
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in IMAGE_FAILURES:
            raise pull_failed(image, waiting, secrets_note)
        if time.monotonic() > start_by:
            raise DeadlineExceeded(
                f"{what} did not start within {start_timeout_s:.0f}s "
                f"({waiting.get('reason') or 'no status yet'}); if it starts later, it ends by "
                "itself when nothing attaches to it"
            )
        await asyncio.sleep(POLL_S)


def pull_failed(image: str, waiting: dict[str, Any], secrets_note: str = "") -> StrategyUnavailable:
    """One sentence: which image, what the kubelet said, and the fixes."""
    return StrategyUnavailable(
        f"the debug image {image} could not be pulled ({waiting.get('reason')}: "
        f"{waiting.get('message') or 'no details'}); mirror it into a registry this cluster "
        "pulls from and set JDEBUG_DEBUG_IMAGE to the mirror"
        + (f"; {secrets_note}" if secrets_note else "")
    )


def pull_secrets(names: tuple[str, ...]) -> dict[str, Any]:
    """A pod spec's `imagePullSecrets` for `names`, or nothing."""
    return {"imagePullSecrets": [{"name": n} for n in names]} if names else {}


def pull_secrets_note(names: tuple[str, ...], what: str) -> str:
    """How `what` (a node debug pod) authenticates its pull, for the pull-failure sentence."""
    if names:
        held = ", ".join(names)
        return f"{what} pulls with JDEBUG_IMAGE_PULL_SECRETS ({held}): check they cover it"
    return "for a private registry, set JDEBUG_IMAGE_PULL_SECRETS to a secret that covers it"


def pod_secrets_note(pod: dict[str, Any]) -> str:
    """An ephemeral container pulls with its pod's own imagePullSecrets: say which."""
    names = [str(s.get("name")) for s in pod.get("spec", {}).get("imagePullSecrets") or []]
    held = f"({', '.join(names)})" if names else "(none)"
    return (
        f"an ephemeral container pulls with its pod's own imagePullSecrets {held}, which do not "
        "cover this image"
    )


async def wait_until_terminated(
    api: KubeApi,
    namespace: str,
    pod: str,
    what: str,
    status_of: StatusOf,
    image: str,
    start_timeout_s: float,
    run_timeout_s: float,
    secrets_note: str = "",
) -> dict[str, Any]:
    """The container status once terminated; `what` names it in errors."""
    start_by = time.monotonic() + start_timeout_s
    end_by = start_by + run_timeout_s
    while True:
        status = status_of(await api.get_pod(namespace, pod)) or {}
        state = status.get("state") or {}
        if "terminated" in state:
            return status
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in IMAGE_FAILURES:
            raise pull_failed(image, waiting, secrets_note)
        now = time.monotonic()
        if "running" not in state and now > start_by:
            raise DeadlineExceeded(
                f"{what} did not start within {start_timeout_s:.0f}s "
                f"({waiting.get('reason') or 'no status yet'}); if it starts later, its own "
                "deadline ends it"
            )
        if now > end_by:
            raise DeadlineExceeded(f"{what} did not finish within {run_timeout_s:.0f}s")
        await asyncio.sleep(POLL_S)


def named_status(key: str, name: str) -> StatusOf:
    """Find container `name` in `status.<key>` (containerStatuses, ephemeralContainerStatuses)."""

    def status_of(pod: dict[str, Any]) -> dict[str, Any] | None:
        for status in pod.get("status", {}).get(key) or []:
            if status.get("name") == name:
                return dict(status)
        return None

    return status_of
