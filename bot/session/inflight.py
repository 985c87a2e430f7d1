"""Requests being worked on, so SIGTERM can stop new work and let running work finish.

A listener enters `track()` before it decides whether to take a request, so a request is
either seen by `drain()` or refused as draining; none slips between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class InFlight:
    def __init__(self) -> None:
        self.draining = False
        self._tasks: set[asyncio.Task[object]] = set()

    @contextlib.asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, grace_s: float) -> int:
        """Refuse new work, wait up to `grace_s` for running work; return how many remain."""
        self.draining = True
        pending = {t for t in self._tasks if not t.done()}
        if not pending:
            return 0
        _, still = await asyncio.wait(pending, timeout=grace_s)
        return len(still)

    async def cancel_remaining(self, wait_s: float = 10.0) -> None:
        """Cancel what outlived the grace period; each request's `finally` cleans up
        (kills its agent, tells its user) within `wait_s`."""
        pending = {t for t in self._tasks if not t.done()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=wait_s)
