"""The fake's Socket Mode side: the websocket behind the `apps.connections.open` URL.

Like Slack it greets each connection with `hello`, hands every envelope to exactly one
connection (round robin here, "any one" at Slack), matches acks by `envelope_id`, and can
ask clients to reconnect with a `disconnect` message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakeslack.records import Ack, Connection, Envelope, JsonDict
from tests.fakeslack.workspace import Workspace


class SocketHub:
    """Live Socket Mode connections and the envelopes waiting for their acks."""

    def __init__(self, workspace: Workspace, origin: Callable[[], str]) -> None:
        self.ws = workspace
        self.origin = origin
        self.history: list[Connection] = []
        self.unmatched: list[JsonDict] = []  # messages from the app that acked nothing we sent
        self._tickets: set[str] = set()
        self._live: dict[int, web.WebSocketResponse] = {}
        self._records: dict[int, Connection] = {}
        self._pending: dict[str, tuple[asyncio.Future[Ack], Envelope]] = {}
        self._next_id = 1
        self._turn = 0

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/link/", self.link), web.get("/link", self.link)]

    def issue_url(self) -> str:
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        host = self.origin().removeprefix("http://")
        return f"ws://{host}/link/?ticket={ticket}&app_id={self.ws.identity.app_id}"

    @property
    def connections(self) -> list[Connection]:
        return [self._records[i] for i in sorted(self._live)]

    # --- the websocket -----------------------------------------------------------------------

    async def link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="invalid ticket")
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        conn = Connection(
            id=self._next_id,
            ticket=ticket,
            opened_at=time.monotonic(),
            peer_port=int(peer[1]) if peer else None,
        )
        self._next_id += 1
        self._live[conn.id] = socket
        self._records[conn.id] = conn
        self.history.append(conn)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._live),
                "debug_info": {
                    "host": f"applink-fake-{conn.id}",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.ws.identity.app_id},
            }
        )
        self.ws.changed()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._on_text(conn.id, message.data)
        finally:
            self._live.pop(conn.id, None)
            closed = replace(conn, closed_at=time.monotonic())
            self._records[conn.id] = closed
            self.history[self.history.index(conn)] = closed
            self.ws.changed()
        return socket

    def _on_text(self, connection: int, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            self.unmatched.append({"raw": data})
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        waiting = self._pending.pop(str(envelope_id), None)
        if waiting is None:
            self.unmatched.append(message if isinstance(message, dict) else {"raw": data})
            self.ws.changed()
            return
        future, envelope = waiting
        ack = Ack(
            envelope_id=envelope.envelope_id,
            type=envelope.type,
            payload=message.get("payload"),
            elapsed=time.monotonic() - envelope.sent_at,
            connection=connection,
        )
        self.ws.acks.append(ack)
        if not future.done():
            future.set_result(ack)
        self.ws.changed()

    # --- sending -----------------------------------------------------------------------------

    async def _pick(
        self, connect_timeout: float, connection: int | None = None
    ) -> tuple[int, web.WebSocketResponse]:
        if connection is not None:  # the test plays Slack's "any one" choice itself
            socket = self._live.get(connection)
            if socket is None:
                raise ValueError(f"fake Slack: connection {connection} is not open")
            return connection, socket
        await self.ws.wait_for(lambda _: self._live, timeout=connect_timeout)
        ids = sorted(self._live)
        chosen = ids[self._turn % len(ids)]
        self._turn += 1
        return chosen, self._live[chosen]

    async def send(
        self,
        kind: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool,
        timeout: float,
        connect_timeout: float,
        connection: int | None = None,
    ) -> Ack:
        """Send one envelope to one connection (`connection`, else the next in turn) and wait
        for its ack. Without one in `timeout` (Slack: 3 s) Slack shows the user
        `operation_timeout`; it does not deliver a slash command again (facts/slack.md)."""
        connection, socket = await self._pick(connect_timeout, connection)
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=kind,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            connection=connection,
            sent_at=time.monotonic(),
        )
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[envelope.envelope_id] = (future, envelope)
        self.ws.envelopes.append(envelope)
        try:
            await socket.send_json(envelope.wire())
            self.ws.changed()
            return await asyncio.wait_for(future, timeout=timeout)
        except TimeoutError:
            raise TimeoutError(
                f"fake Slack: no ack for {kind} envelope {envelope.envelope_id} within {timeout}s"
            ) from None
        finally:
            self._pending.pop(envelope.envelope_id, None)

    async def send_disconnect(
        self, reason: str, connection: int | None, close_after: float | None
    ) -> None:
        targets = [connection] if connection is not None else sorted(self._live)
        for conn_id in targets:
            socket = self._live.get(conn_id)
            if socket is None:
                continue
            await socket.send_json(
                {
                    "type": "disconnect",
                    "reason": reason,
                    "debug_info": {"host": f"applink-fake-{conn_id}"},
                }
            )
            if close_after is not None:
                await asyncio.sleep(close_after)
                await socket.close(code=WSCloseCode.GOING_AWAY)

    async def close_all(self) -> None:
        for socket in list(self._live.values()):
            with contextlib.suppress(ConnectionError):
                await socket.close(code=WSCloseCode.GOING_AWAY)
        for future, _ in self._pending.values():
            future.cancel()
        self._pending.clear()
