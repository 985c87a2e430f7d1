"""Background work of a long-running jdebug against a cluster: the janitor that deletes
leftover node debug pods (only on the replica holding the Lease), and the policy file watch.

Sweeping is idempotent (deleting a pod that is already gone is a no-op), so it is safe on any
replica; with leader election only the Lease holder sweeps.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from bot.kube.backend import KubeBackend
from bot.kube.janitor import sweep
from bot.kube.lease import LeaderElector
from bot.model.errors import JdebugError
from bot.session.metrics import Metrics
from bot.settings import JdebugSettings

log = structlog.get_logger("jdebug.housekeeping")

# How long a graceful stop waits for the Lease to be released before giving up on it.
LEASE_RELEASE_S = 5


async def janitor_loop(backend: KubeBackend, interval_s: float) -> None:
    """Sweep now, then every `interval_s`, until cancelled; a failed sweep is logged only."""
    namespace = backend.ctx.settings.node_namespace
    while True:
        try:
            await sweep(backend.ctx.api, namespace)
        except JdebugError as error:
            log.warning("janitor.failed", namespace=namespace, error=error.message)
        await asyncio.sleep(interval_s)


class Janitor:
    """The janitor under leader election, for the cluster jdebug runs in; `stop()` releases
    the Lease so another replica takes over at once."""

    def __init__(self, backend: KubeBackend, settings: JdebugSettings, metrics: Metrics) -> None:
        self.backend = backend
        self.settings = settings
        self.metrics = metrics
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.elector = LeaderElector(
            backend.ctx.api,
            settings.pod_namespace or backend.ctx.settings.node_namespace,
            lease_duration_s=settings.lease_duration_seconds,
            renew_deadline_s=settings.lease_renew_deadline_seconds,
            retry_period_s=settings.lease_retry_period_seconds,
        )

    def start(self) -> None:
        interval = self.settings.janitor_interval_seconds

        async def lead() -> None:
            self.metrics.leader.set(1)
            try:
                await janitor_loop(self.backend, interval)
            finally:
                self.metrics.leader.set(0)

        self._task = asyncio.create_task(self.elector.run(lead, self._stop))

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, LEASE_RELEASE_S)
        self._task = None
