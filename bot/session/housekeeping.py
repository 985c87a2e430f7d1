"""Background work of `jdebug serve` against a cluster: the janitor that deletes leftover
node debug pods, at start and then periodically.

Sweeping is idempotent (deleting a pod that is already gone is a no-op), so it is safe on
any replica; with leader election only the Lease holder sweeps.
"""

from __future__ import annotations

import asyncio

import structlog

from bot.kube.backend import KubeBackend
from bot.kube.janitor import sweep
from bot.model.errors import JdebugError

log = structlog.get_logger("jdebug.housekeeping")


async def janitor_loop(backend: KubeBackend, interval_s: float) -> None:
    """Sweep now, then every `interval_s`, until cancelled; a failed sweep is logged only."""
    namespace = backend.ctx.settings.node_namespace
    while True:
        try:
            await sweep(backend.ctx.api, namespace)
        except JdebugError as error:
            log.warning("janitor.failed", namespace=namespace, error=error.message)
        await asyncio.sleep(interval_s)
