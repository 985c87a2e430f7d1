"""`?watch=1` streams: one JSON event per line, filtered by namespace and selectors.

Without a resourceVersion (or with "0") current objects come first as ADDED, as a real
apiserver's watch cache does; with one, every kept event after it is replayed first (a list
then a watch from its resourceVersion misses nothing), or a 410 Expired ERROR event when it is
older than what is kept. The stream ends after `timeoutSeconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kubesim.apiserver.context import Ctx
from kubesim.store import Event, Obj, revision_of


async def stream(ctx: Ctx, resource: str, matches: Callable[[Obj], bool]) -> web.StreamResponse:
    store = ctx.cluster.store
    namespace = ctx.info.namespace or None
    queue = store.subscribe()
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(ctx.request)
    timeout = float(ctx.query.get("timeoutSeconds", 1800))

    async def send(kind: str, obj: Any) -> None:
        await response.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

    def wanted(event: Event) -> bool:
        if event.resource != resource or (namespace and event.namespace != namespace):
            return False
        return matches(event.obj)

    async def pump() -> None:
        since = ctx.query.get("resourceVersion", "")
        sent = 0  # the latest revision already sent: a replayed event may be queued too
        if since in ("", "0"):
            for obj in list(store.items(resource, namespace)):
                if matches(obj):
                    await send("ADDED", obj)
        elif since.isdigit():
            # Everything after `since`, as the watch cache replays it, then live events.
            kept = store.events_since(int(since))
            if kept is None:
                await send("ERROR", too_old(int(since), revision_of(store.history[0])))
                return
            for event in kept:
                if wanted(event):
                    await send(event.type, event.obj)
                sent = revision_of(event)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    event = await queue.get()
                    if revision_of(event) > sent and wanted(event):
                        await send(event.type, event.obj)

    try:
        await pump()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.unsubscribe(queue)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


def too_old(asked: int, oldest: int) -> dict[str, Any]:
    """The watch cache's refusal of a resourceVersion it no longer holds (watch_cache.go:
    errors.NewResourceExpired("too old resource version: %d (%d)")), as a watch ERROR event."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"too old resource version: {asked} ({oldest - 1})",
        "reason": "Expired",
        "code": 410,
    }
