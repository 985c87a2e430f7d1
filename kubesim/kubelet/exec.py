"""`pods/exec` over websocket (v5/v4.channel.k8s.io): run a command inside a container.

The command is started with `nsenter` into the container's PID, mount, UTS and IPC namespaces
and `setpriv` with its uid/gid and capabilities, so it sees exactly what the container sees.
Channels: 0 stdin, 1 stdout, 2 stderr, 3 status JSON, 4 resize, 255 close (v5).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import WSMsgType, web

from kubesim.apiserver.context import Ctx
from kubesim.apiserver.pods import get_pod
from kubesim.kubelet.logs import _pick_container
from kubesim.kubelet.runtime import exec_argv
from kubesim.status import bad_request

PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
)


def _flag(ctx: Ctx, name: str) -> bool:
    return ctx.query.get(name, "") in ("true", "1")


def status_frame(code: int, command: list[str]) -> bytes:
    if code == 0:
        body: dict[str, object] = {"metadata": {}, "status": "Success"}
    else:
        body = {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: command "
            f"'{' '.join(command)}' exited with {code}: ",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
        }
    return b"\x03" + json.dumps(body).encode()


async def _pump(stream: asyncio.StreamReader, channel: int, ws: web.WebSocketResponse) -> None:
    while chunk := await stream.read(65536):
        with contextlib.suppress(ConnectionResetError):
            await ws.send_bytes(bytes([channel]) + chunk)


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
    if ctx.request.headers.get("Upgrade", "").lower() != "websocket":
        raise bad_request("Upgrade request required")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    await ws.prepare(ctx.request)
    want_stdin = _flag(ctx, "stdin")
    argv = exec_argv(record.process.pid, record.launch.identity, record.launch.env, command)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if want_stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    for channel, wanted in ((1, _flag(ctx, "stdout")), (2, _flag(ctx, "stderr")), (3, True)):
        if wanted:
            await ws.send_bytes(bytes([channel]))
    pumps = [
        asyncio.create_task(_pump(proc.stdout, 1, ws)),
        asyncio.create_task(_pump(proc.stderr, 2, ws)),
    ]
    reader = asyncio.create_task(_read_client(ws, proc))
    try:
        code = await proc.wait()
        await asyncio.gather(*pumps)
        await ws.send_bytes(status_frame(128 - code if code < 0 else code, command))
    finally:
        reader.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        await ws.close()
    return ws


async def _read_client(ws: web.WebSocketResponse, proc: asyncio.subprocess.Process) -> None:
    async for msg in ws:
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            continue
        data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
        if not data:
            continue
        channel, payload = data[0], data[1:]
        if channel == 0 and proc.stdin is not None and payload:
            proc.stdin.write(payload)
            with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                await proc.stdin.drain()
        elif channel == 255 and payload[:1] == b"\x00" and proc.stdin is not None:
            proc.stdin.close()
    if proc.stdin is not None:
        proc.stdin.close()
