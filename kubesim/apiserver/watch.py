"""`?watch=1` streams: one JSON event per line, filtered by namespace and selectors.

Without a resourceVersion (or with "0") current objects come first as ADDED, as a real
apiserver's watch cache does; the stream ends after `timeoutSeconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from kubesim.apiserver.context import Ctx
from kubesim.store import Obj


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

    try:
        if ctx.query.get("resourceVersion", "") in ("", "0"):
            for obj in list(store.items(resource, namespace)):
                if matches(obj):
                    await send("ADDED", obj)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    event = await queue.get()
                    if event.resource != resource or (namespace and event.namespace != namespace):
                        continue
                    if matches(event.obj):
                        await send(event.type, event.obj)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        store.unsubscribe(queue)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response
