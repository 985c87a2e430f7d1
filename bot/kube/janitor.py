"""Delete leftover node debug pods: finished ones, and any past their own deadline.

A bot killed mid-request cannot run its `finally`; its node pod still ends by its
`activeDeadlineSeconds`, and this sweep (at start and periodically) deletes what is left.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from bot.kube.api import KubeApi
from bot.kube.strategies.node import MANAGED_BY

log = structlog.get_logger("jdebug.janitor")

# Grace beyond a pod's own deadline before it counts as abandoned.
SLACK_S = 30


def is_leftover(pod: dict[str, Any], now: datetime) -> bool:
    if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
        return True
    created = pod.get("metadata", {}).get("creationTimestamp")
    deadline = pod.get("spec", {}).get("activeDeadlineSeconds")
    if not created or not isinstance(deadline, int):
        return False
    born = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    return now > born + timedelta(seconds=deadline + SLACK_S)


async def sweep(api: KubeApi, namespace: str, now: datetime | None = None) -> list[str]:
    """Delete jdebug's finished or overdue pods in `namespace`; return their names."""
    now = now or datetime.now(UTC)
    deleted = []
    for pod in await api.list_pods(namespace, label_selector=f"{MANAGED_BY}=jdebug"):
        if is_leftover(pod, now):
            name = str(pod["metadata"]["name"])
            if await api.delete_pod(namespace, name):
                deleted.append(name)
    if deleted:
        log.info("janitor.swept", namespace=namespace, deleted=deleted)
    return deleted
