"""`pods/attach` over websocket: the container's own stdin, stdout and stderr, live.

What `kubectl attach` and `kubectl debug -i` use. The client sees the container's output from
the moment it attaches (earlier output is in the log), and writes to the container's stdin
when the container was created with `stdin: true`. With `stdinOnce: true` the runtime closes
the container's stdin when the first attached client closes its stdin or leaves
(CRI ContainerConfig.stdin_once, cri-api/pkg/apis/runtime/v1/api.proto); otherwise stdin
stays open for the next client. The stream ends with a Success Status when the container exits.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from kubesim.apiserver.context import Ctx
from kubesim.apiserver.pods import get_pod
from kubesim.kubelet import streams
from kubesim.kubelet.logs import _pick_container
from kubesim.status import bad_request

CHANNELS = {"stdout": streams.STDOUT, "stderr": streams.STDERR}


async def handle(ctx: Ctx) -> web.StreamResponse:
    pod = get_pod(ctx)
    name = _pick_container(ctx, pod)
    run = ctx.cluster.kubelet.run_of(pod)
    record = run.records.get(name) if run else None
    if record is None or record.process is None or not record.is_running:
        raise bad_request(f'unable to upgrade connection: container not found ("{name}")')
    process = record.process
    ws = await streams.open_stream(ctx)
    wanted = {s for s in CHANNELS if streams.flag(ctx, s)}
    attach_stdin = streams.flag(ctx, "stdin") and process.proc.stdin is not None
    stdin_once = bool(record.spec.get("stdinOnce"))
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    end = ("", b"")  # put after the last output, once the container's streams have ended
    process.listeners.add(queue)

    async def to_stdin(data: bytes) -> None:
        stdin = process.proc.stdin
        if attach_stdin and stdin is not None and not stdin.is_closing():
            stdin.write(data)
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                await stdin.drain()

    def close_stdin() -> None:
        stdin = process.proc.stdin
        if attach_stdin and stdin_once and stdin is not None:
            stdin.close()

    async def forward() -> None:
        while (item := await queue.get()) != end:
            stream, chunk = item
            if stream in wanted:
                await streams.send(ws, CHANNELS[stream], chunk)

    reader = asyncio.create_task(streams.read_client(ws, to_stdin, close_stdin))
    writer = asyncio.create_task(forward())
    exited = asyncio.create_task(process.output_done.wait())
    try:
        await asyncio.wait({reader, exited}, return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            queue.put_nowait(end)
            await writer  # everything the container wrote before it ended
            await streams.send_status(ws, streams.SUCCESS)
    finally:
        process.listeners.discard(queue)
        close_stdin()
        for task in (reader, writer, exited):
            task.cancel()
        await ws.close()
    return ws
