"""The fake Slack's Socket Mode, driven by the real slack_sdk and slack_bolt clients: hello,
envelopes and acks, round robin between connections, closed connections and reconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakeslack import DEFAULT_CHANNEL, FakeSlack, OperationTimeout

Listener = Callable[[AsyncBaseSocketModeClient, SocketModeRequest], Awaitable[None]]


def acking_listener(seen: list[SocketModeRequest], reply: dict[str, Any] | None = None) -> Listener:
    async def listener(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        seen.append(req)
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload=reply)
        )

    return listener


# slack_sdk leaves these coroutines unannotated; wrapping them keeps the tests typed.
async def open_socket(client: SocketModeClient) -> None:
    await client.connect()  # type: ignore[no-untyped-call]


async def close_socket(client: SocketModeClient) -> None:
    await client.close()  # type: ignore[no-untyped-call]


@pytest_asyncio.fixture
async def socket_client(fake_slack: FakeSlack) -> AsyncIterator[SocketModeClient]:
    client = SocketModeClient(app_token=fake_slack.app_token, web_client=fake_slack.client())
    yield client
    await close_socket(client)


# --- Socket Mode -------------------------------------------------------------------------------


async def test_socket_mode_client_gets_hello_then_a_slash_command_and_its_ack_comes_back(
    fake_slack: FakeSlack, socket_client: SocketModeClient
) -> None:
    raw: list[dict[str, Any]] = []

    async def record_raw(message: Any) -> None:
        raw.append(json.loads(message.data))

    seen: list[SocketModeRequest] = []
    socket_client.on_message_listeners.append(record_raw)
    socket_client.socket_mode_request_listeners.append(acking_listener(seen, {"text": "on it"}))
    await open_socket(socket_client)

    ack = await fake_slack.send_slash_command(text="threaddump pod=cowweb", user_id="U0ALICE001")

    assert raw[0]["type"] == "hello"
    assert (
        fake_slack.calls_to("apps.connections.open")[0]
        .headers["Authorization"]
        .endswith(fake_slack.app_token)
    )
    [req] = seen
    assert (req.type, req.envelope_id, req.accepts_response_payload) == (
        "slash_commands",
        ack.envelope_id,
        True,
    )
    assert req.payload["command"] == "/jdebug"
    assert req.payload["text"] == "threaddump pod=cowweb"
    assert req.payload["user_name"] == "alice"
    assert req.payload["channel_id"] == DEFAULT_CHANNEL
    assert req.payload["response_url"].startswith(fake_slack.api_url.removesuffix("api/"))
    assert ack.payload == {"text": "on it"}
    assert 0 <= ack.elapsed < 3
    assert fake_slack.acks == [ack]


async def test_envelopes_are_shared_round_robin_between_connections(fake_slack: FakeSlack) -> None:
    seen_a: list[SocketModeRequest] = []
    seen_b: list[SocketModeRequest] = []
    a = SocketModeClient(app_token=fake_slack.app_token, web_client=fake_slack.client())
    b = SocketModeClient(app_token=fake_slack.app_token, web_client=fake_slack.client())
    a.socket_mode_request_listeners.append(acking_listener(seen_a))
    b.socket_mode_request_listeners.append(acking_listener(seen_b))
    try:
        await open_socket(a)
        await open_socket(b)
        await fake_slack.wait_for_connections(2)
        acks = [await fake_slack.send_event({"type": "app_home_opened", "user": "U0ALICE001"})]
        acks += [await fake_slack.send_event({"type": "app_home_opened", "user": "U0BOB00002"})]
        acks += [await fake_slack.send_interactive({"type": "block_actions", "actions": []})]
    finally:
        await close_socket(a)
        await close_socket(b)
    assert len({ack.connection for ack in acks}) == 2
    assert len(seen_a) + len(seen_b) == 3 and seen_a and seen_b
    assert {r.payload.get("type") for r in seen_a + seen_b} == {"event_callback", "block_actions"}


async def test_an_unacked_slash_command_times_out_and_the_retyped_one_reaches_the_live_socket(
    fake_slack: FakeSlack,
) -> None:
    # What the failover test relies on: a slash command sent to a connection that closes
    # without acking ends in the sender's `no ack` timeout (facts/slack.md: Slack shows the
    # user `operation_timeout` and does not deliver it again, and the fake has no redelivery to
    # switch off), and the command typed again goes to the connection still open.
    seen_live: list[SocketModeRequest] = []
    got_it = asyncio.Event()

    async def dies_without_acking(
        client: AsyncBaseSocketModeClient, req: SocketModeRequest
    ) -> None:
        got_it.set()

    dying = SocketModeClient(app_token=fake_slack.app_token, web_client=fake_slack.client())
    live = SocketModeClient(app_token=fake_slack.app_token, web_client=fake_slack.client())
    dying.auto_reconnect_enabled = False
    dying.socket_mode_request_listeners.append(dies_without_acking)
    live.socket_mode_request_listeners.append(acking_listener(seen_live))
    try:
        await open_socket(dying)
        [doomed] = await fake_slack.wait_for_connections(1)
        await open_socket(live)
        await fake_slack.wait_for_connections(2)
        sent = asyncio.create_task(fake_slack.send_slash_command(text="help", connection=doomed.id))
        await asyncio.wait_for(got_it.wait(), 5)
        await close_socket(dying)
        with pytest.raises(OperationTimeout, match="operation_timeout"):
            await sent
        retried = await fake_slack.send_slash_command(text="help")
    finally:
        await close_socket(live)
    assert [e.connection for e in fake_slack.envelopes] == [doomed.id, retried.connection]
    assert retried.connection != doomed.id and len(seen_live) == 1
    assert [a.envelope_id for a in fake_slack.acks] == [retried.envelope_id]


async def test_disconnect_makes_the_sdk_reconnect_with_a_new_ticket(
    fake_slack: FakeSlack, socket_client: SocketModeClient
) -> None:
    seen: list[SocketModeRequest] = []
    socket_client.socket_mode_request_listeners.append(acking_listener(seen))
    await open_socket(socket_client)
    [first] = await fake_slack.wait_for_connections(1)
    await fake_slack.send_disconnect()
    await fake_slack.wait_for(
        lambda _: [c for c in fake_slack.connections if c.id != first.id], timeout=5
    )
    [second] = fake_slack.connections
    assert second.ticket != first.ticket
    assert len(fake_slack.calls_to("apps.connections.open")) == 2
    ack = await fake_slack.send_slash_command(text="help")
    assert ack.connection == second.id


async def test_bolt_app_acks_posts_and_handles_a_button_click(fake_slack: FakeSlack) -> None:
    app = AsyncApp(client=fake_slack.client())

    @app.command("/jdebug")
    async def command(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack("working on it")
        button = {
            "type": "button",
            "action_id": "retake",
            "value": body["text"],
            "text": {"type": "plain_text", "text": "Take another"},
        }
        await client.chat_postMessage(
            channel=body["channel_id"],
            text=f"<@{body['user_id']}> {body['text']}",
            blocks=[{"type": "actions", "block_id": "buttons", "elements": [button]}],
        )

    @app.action("retake")
    async def retake(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await respond(text=f"again: {body['actions'][0]['value']}")

    handler = AsyncSocketModeHandler(app, fake_slack.app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        ack = await fake_slack.send_slash_command(text="threaddump pod=cowweb")
        [parent] = await fake_slack.wait_for(lambda s: s.top_level_messages(), timeout=3)
        click = await fake_slack.click_button(parent.ts, "retake", user_id="U0BOB00002")
        [reply] = await fake_slack.wait_for(lambda s: s.responses, timeout=3)
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
    assert ack.payload == {"text": "working on it"}
    assert parent.text == "<@U0ALICE001> threaddump pod=cowweb"
    assert click.type == "interactive"
    assert reply.text == "again: threaddump pod=cowweb"
    assert reply.user_id == "U0BOB00002"
