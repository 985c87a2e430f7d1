"""The websocket remote-command protocol `pods/exec` and `pods/attach` share.

Subprotocols v5.channel.k8s.io down to channel.k8s.io; each binary frame is one channel byte
and its payload: 0 stdin, 1 stdout, 2 stderr, 3 status (a JSON Status), 4 resize, 255 close
(v5: the payload names the channel the client closed). On connect the server sends an empty
frame on each channel it will write (k8s.io/apiserver/pkg/util/wsstream/conn.go).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from kubesim.apiserver.context import Ctx
from kubesim.status import bad_request

PROTOCOLS = (
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
)
STDIN, STDOUT, STDERR, STATUS, CLOSE = 0, 1, 2, 3, 255


def flag(ctx: Ctx, name: str) -> bool:
    return str(ctx.query.get(name, "")) in ("true", "1")


async def open_stream(ctx: Ctx) -> web.WebSocketResponse:
    """Upgrade the request and announce the channels the server writes."""
    if ctx.request.headers.get("Upgrade", "").lower() != "websocket":
        raise bad_request("Upgrade request required")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, max_msg_size=0)
    await ws.prepare(ctx.request)
    for channel, wanted in ((STDOUT, flag(ctx, "stdout")), (STDERR, flag(ctx, "stderr"))):
        if wanted:
            await ws.send_bytes(bytes([channel]))
    await ws.send_bytes(bytes([STATUS]))
    return ws


async def send(ws: web.WebSocketResponse, channel: int, payload: bytes) -> None:
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await ws.send_bytes(bytes([channel]) + payload)


async def send_status(ws: web.WebSocketResponse, body: dict[str, object]) -> None:
    await send(ws, STATUS, json.dumps(body).encode())


SUCCESS: dict[str, object] = {"metadata": {}, "status": "Success"}


def internal_error(text: str, version: str) -> dict[str, object]:
    """The Status for a command the runtime could not run. The kubelet's streaming server
    (staging/src/k8s.io/kubelet/pkg/cri/streaming/remotecommand/exec.go, ServeExec) wraps the
    error in apierrors.NewInternalError; from 1.30 the apiserver's websocket stream translator
    (staging/src/k8s.io/apiserver/pkg/util/proxy/streamtranslator.go) wraps that once more."""
    inner = f"error executing command in container: {text}"
    message = f"Internal error occurred: {inner}"
    major, minor = (int(x) for x in version.split(".")[:2])
    if (major, minor) >= (1, 30):
        inner, message = message, f"Internal error occurred: {message}"
    return {
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "details": {"causes": [{"message": inner}]},
        "code": 500,
    }


async def read_client(
    ws: web.WebSocketResponse,
    on_stdin: Callable[[bytes], Awaitable[None]],
    on_close_stdin: Callable[[], None],
) -> None:
    """Feed the client's stdin frames to `on_stdin`; call `on_close_stdin` when the client
    closes stdin (v5) or goes away."""
    async for msg in ws:
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            continue
        data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
        if not data:
            continue
        channel, payload = data[0], data[1:]
        if channel == STDIN and payload:
            await on_stdin(payload)
        elif channel == CLOSE and payload[:1] == bytes([STDIN]):
            on_close_stdin()
    on_close_stdin()
