"""`pods/exec` over websocket (v5/v4.channel.k8s.io): run a command inside a container.

The command enters the container as `runc exec` does (kubesim/kubelet/enter.py): its
namespaces, root, uid/gid, capabilities and cgroups, so it sees exactly what the container
sees and its memory counts against it. A command the image does not have is the runtime's
failure, not an exit code: a `Failure` Status with reason InternalError and no ExitCode cause.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from kubesim.apiserver.context import Ctx
from kubesim.apiserver.pods import get_pod
from kubesim.kubelet import streams
from kubesim.kubelet.enter import start_in
from kubesim.kubelet.logs import _pick_container
from kubesim.status import bad_request


def exit_status(code: int, command: list[str]) -> dict[str, object]:
    if code == 0:
        return streams.SUCCESS
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: command "
        f"'{' '.join(command)}' exited with {code}: ",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


async def _pump(stream: asyncio.StreamReader, channel: int, ws: web.WebSocketResponse) -> None:
    while chunk := await stream.read(65536):
        await streams.send(ws, channel, chunk)


async def handle(ctx: Ctx) -> web.StreamResponse:
    pod = get_pod(ctx)
    name = _pick_container(ctx, pod)
    command = list(ctx.query.getall("command", []))
    if not command:
        raise bad_request("you must specify at least 1 command")
    run = ctx.cluster.kubelet.run_of(pod)
    record = run.records.get(name) if run else None
    if record is None or record.process is None or record.launch is None or not record.is_running:
        raise bad_request(f'unable to upgrade connection: container not found ("{name}")')
    ws = await streams.open_stream(ctx)
    want_stdin = streams.flag(ctx, "stdin")
    entered = await start_in(record, command, stdin=want_stdin)
    proc = entered.proc
    assert proc.stdout is not None and proc.stderr is not None

    async def to_stdin(data: bytes) -> None:
        if proc.stdin is not None:
            proc.stdin.write(data)
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                await proc.stdin.drain()

    def close_stdin() -> None:
        if proc.stdin is not None:
            proc.stdin.close()

    pumps = [
        asyncio.create_task(_pump(proc.stdout, streams.STDOUT, ws)),
        asyncio.create_task(_pump(proc.stderr, streams.STDERR, ws)),
    ]
    reader = asyncio.create_task(streams.read_client(ws, to_stdin, close_stdin))
    try:
        code = await proc.wait()
        await asyncio.gather(*pumps)
        failure = await entered.failure()
        if failure is not None:
            await streams.send_status(
                ws, streams.internal_error(failure, ctx.cluster.config.version)
            )
        else:
            await streams.send_status(ws, exit_status(128 - code if code < 0 else code, command))
    finally:
        reader.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        await ws.close()
    return ws
