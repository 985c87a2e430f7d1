"""The fake's Socket Mode side: the websocket behind the `apps.connections.open` URL.

Like Slack (docs.slack.dev/apis/events-api/using-socket-mode) it greets each connection with
`hello`, hands every envelope to exactly one connection (round robin here, "any one" at
Slack), matches acks by `envelope_id` and gives up on one after 3 s (`operation_timeout`),
sends an unacknowledged `events_api` envelope again with `retry_attempt`/`retry_reason`
(as slack_sdk's SocketModeRequest reads them), allows 10 connections, validates what an ack
carries, and sends `disconnect` messages: `warning`, `refresh_requested`, `link_disabled`.
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

from tests.fakeslack import limits
from tests.fakeslack.blocks import check_message_blocks
from tests.fakeslack.errors import SlackError
from tests.fakeslack.mentions import mentions_in_message
from tests.fakeslack.records import Ack, Connection, Envelope, JsonDict
from tests.fakeslack.workspace import Workspace

DISCONNECT_REASONS = ("warning", "refresh_requested", "link_disabled")
# Slack's first delivery carries retry_attempt 0 and an empty reason; a redelivery after an
# unacknowledged one says "timeout" (the form slack_sdk, node-slack-sdk and java-slack-sdk
# tests use for Socket Mode).
RETRY_REASON = "timeout"


class OperationTimeout(TimeoutError):
    """No ack within Slack's 3 s: the user saw `operation_timeout` and the command failed."""


def ack_refusal(payload: object) -> str | None:
    """What Slack would say about an ack's payload it cannot show, else None."""
    if not isinstance(payload, dict):
        return None
    try:
        check_message_blocks(payload.get("blocks") or [], total_limit=False)
    except SlackError as e:
        return e.error
    return None


class SocketHub:
    """Live Socket Mode connections and the envelopes waiting for their acks."""

    def __init__(
        self,
        workspace: Workspace,
        origin: Callable[[], str],
        event_retry_delays: tuple[float, ...] = limits.EVENT_RETRY_DELAYS_S,
    ) -> None:
        self.ws = workspace
        self.origin = origin
        self.event_retry_delays = event_retry_delays
        self.refused_links = 0  # websocket upgrades refused (cap reached, or link disabled)
        self.link_disabled = False
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
        # Slack does not document what the 11th connection gets; the fake refuses it.
        if self.link_disabled or len(self._live) >= limits.MAX_SOCKET_CONNECTIONS:
            self.refused_links += 1
            self.ws.changed()
            return web.Response(status=409, text="too many connections or Socket Mode disabled")
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
        payload = message.get("payload")
        refusal = ack_refusal(payload)
        if refusal is None and isinstance(payload, dict):
            self.ws.mentions.extend(
                mentions_in_message("ack", payload.get("text"), payload.get("blocks") or [])
            )
        ack = Ack(
            envelope_id=envelope.envelope_id,
            type=envelope.type,
            payload=payload,
            elapsed=time.monotonic() - envelope.sent_at,
            connection=connection,
            refusal=refusal,
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
        connect_timeout: float,
        connection: int | None = None,
    ) -> Ack:
        """Send one envelope to one connection (`connection`, else the next in turn) and wait
        for its ack. Without one within 3 s the user sees `operation_timeout`
        (`OperationTimeout` here); slash commands and interactions are not sent again, events
        are, after `event_retry_delays`, each time as a new envelope with `retry_attempt`."""
        attempts = (0.0, *self.event_retry_delays) if kind == "events_api" else (0.0,)
        for attempt, delay in enumerate(attempts):
            if delay:
                await asyncio.sleep(delay)
            try:
                return await self._send_once(
                    kind, payload, accepts_response_payload, connect_timeout, connection, attempt
                )
            except OperationTimeout:
                if attempt == len(attempts) - 1:
                    raise
        raise AssertionError("unreachable")

    async def _send_once(
        self,
        kind: str,
        payload: JsonDict,
        accepts_response_payload: bool,
        connect_timeout: float,
        connection: int | None,
        attempt: int,
    ) -> Ack:
        connection, socket = await self._pick(connect_timeout, connection)
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=kind,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            connection=connection,
            sent_at=time.monotonic(),
            retry_attempt=attempt if kind == "events_api" else None,
            retry_reason=(RETRY_REASON if attempt else "") if kind == "events_api" else None,
        )
        future: asyncio.Future[Ack] = asyncio.get_running_loop().create_future()
        self._pending[envelope.envelope_id] = (future, envelope)
        self.ws.envelopes.append(envelope)
        try:
            await socket.send_json(envelope.wire())
            self.ws.changed()
            return await asyncio.wait_for(future, timeout=limits.ACK_DEADLINE_S)
        except TimeoutError:
            raise OperationTimeout(
                f"fake Slack: operation_timeout: no ack for {kind} envelope "
                f"{envelope.envelope_id} within {limits.ACK_DEADLINE_S:g} s"
            ) from None
        finally:
            self._pending.pop(envelope.envelope_id, None)

    async def send_disconnect(
        self, reason: str, connection: int | None, close_after: float | None
    ) -> None:
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"fake Slack: Slack sends no disconnect reason {reason!r}")
        if reason == "link_disabled":  # Socket Mode was turned off in the app's settings
            self.link_disabled = True
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
