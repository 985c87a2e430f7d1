"""What kubesim's controllers share from client-go's workqueue: one pass at a time per object
(two passes counting the same missing pods would create them twice), and a pass again later
(AddAfter: a refused pod retried, a progress deadline checked), at most one waiting per object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from kubesim.cluster import Cluster

Key = tuple[str, str, str]  # (resource, namespace, name)


def lock(cluster: Cluster, key: Key) -> asyncio.Lock:
    return cluster.controller_locks.setdefault(key, asyncio.Lock())


def after(cluster: Cluster, key: Key, seconds: float, again: Callable[[], Awaitable[None]]) -> None:
    """Run `again` in `seconds`, unless a run for `key` is already waiting."""
    if key in cluster.controller_timers:
        return
    cluster.controller_timers.add(key)

    async def later() -> None:
        try:
            await asyncio.sleep(seconds)
        finally:
            cluster.controller_timers.discard(key)
        await again()

    cluster.spawn(later())
