"""What kubesim's controllers share from client-go's informers and workqueue: the loop that turns
store events into passes (every new object and change of its spec, not its status writes, and
whatever related objects' events name it), one pass at a time per object (two passes counting
the same missing pods would create them twice), and a pass again later (AddAfter: a refused
pod retried, a progress deadline checked), at most one waiting per object.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from kubesim.cluster import Cluster
from kubesim.store import Event

log = structlog.get_logger("kubesim.controllers")

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


async def serve(
    cluster: Cluster,
    resource: str,
    related: Callable[[Event], list[str]],
    reconcile: Callable[[Cluster, str, str], Awaitable[None]],
) -> None:
    """Run `reconcile(cluster, namespace, name)` for each object of `resource` that is new or
    whose spec changed (its generation), and for the names `related` finds in other events."""
    queue = cluster.store.subscribe()
    seen: dict[tuple[str, str], Any] = {}
    try:
        while True:
            event = await queue.get()
            if event.resource == resource:
                if event.type == "DELETED":
                    continue
                meta = event.obj.get("metadata") or {}
                key = (event.namespace, str(meta.get("name", "")))
                generation = meta.get("generation") if event.type == "MODIFIED" else None
                if generation is not None and seen.get(key) == generation:
                    continue
                seen[key] = generation
                names = [key[1]]
            else:
                names = related(event)
            for name in names:
                try:
                    await reconcile(cluster, event.namespace, name)
                except Exception:  # a controller bug must not stop the controller
                    log.exception("reconcile failed", resource=resource, name=name)
    except asyncio.CancelledError:
        pass
    finally:
        cluster.store.unsubscribe(queue)
