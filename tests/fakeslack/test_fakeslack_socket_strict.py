"""The fake's Socket Mode is as strict as Slack's: 3 s to ack, unacknowledged events sent again
with `retry_attempt`/`retry_reason`, at most 10 connections, Slack's disconnect reasons, and
ack payloads judged like messages. Driven by slack_sdk's own SocketModeClient."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakeslack import FakeSlack, OperationTimeout
from tests.fakeslack.test_fakeslack_socket_mode import acking_listener, close_socket, open_socket


@pytest_asyncio.fixture
async def clients() -> AsyncIterator[list[SocketModeClient]]:
    made: list[SocketModeClient] = []
    yield made
    for client in made:
        await close_socket(client)


def new_client(slack: FakeSlack, made: list[SocketModeClient]) -> SocketModeClient:
    client = SocketModeClient(app_token=slack.app_token, web_client=slack.client())
    made.append(client)
    return client


async def test_an_ack_after_3_seconds_is_operation_timeout(
    fake_slack: FakeSlack, clients: list[SocketModeClient]
) -> None:
    slow = new_client(fake_slack, clients)
    acked = asyncio.Event()

    async def acks_after_3_5_s(client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        await asyncio.sleep(3.5)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        acked.set()

    slow.socket_mode_request_listeners.append(acks_after_3_5_s)
    await open_socket(slow)
    await fake_slack.wait_for_connections(1)

    with pytest.raises(OperationTimeout, match="operation_timeout"):
        await fake_slack.send_slash_command(text="help")
    await asyncio.wait_for(acked.wait(), 10)  # it did ack, too late; nothing counts it
    assert fake_slack.acks == []
    assert len(fake_slack.envelopes) == 1  # a slash command is never sent twice


async def test_an_unacknowledged_event_is_sent_again_with_retry_attempt_and_reason(
    clients: list[SocketModeClient],
) -> None:
    async with FakeSlack(event_retry_delays=(0.0, 0.0, 0.0)) as slack:
        client = new_client(slack, clients)
        seen: list[tuple[int | None, str | None]] = []

        async def acks_only_the_retry(
            socket: AsyncBaseSocketModeClient, req: SocketModeRequest
        ) -> None:
            seen.append((req.retry_attempt, req.retry_reason))
            if req.retry_attempt:
                await socket.send_socket_mode_response(
                    SocketModeResponse(envelope_id=req.envelope_id)
                )

        client.socket_mode_request_listeners.append(acks_only_the_retry)
        await open_socket(client)
        await slack.wait_for_connections(1)

        ack = await slack.send_event({"type": "app_home_opened", "user": "U0ALICE001"})

        assert seen == [(0, ""), (1, "timeout")]
        first, second = slack.envelopes
        assert first.envelope_id != second.envelope_id and ack.envelope_id == second.envelope_id
        assert first.payload == second.payload


async def test_an_event_never_acknowledged_is_tried_four_times_in_all(
    clients: list[SocketModeClient],
) -> None:
    async with FakeSlack(event_retry_delays=(0.0, 0.0, 0.0)) as slack:
        client = new_client(slack, clients)
        seen: list[int | None] = []

        async def never_acks(socket: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
            seen.append(req.retry_attempt)

        client.socket_mode_request_listeners.append(never_acks)
        await open_socket(client)
        await slack.wait_for_connections(1)
        with pytest.raises(OperationTimeout):
            await slack.send_event({"type": "app_home_opened", "user": "U0ALICE001"})
        assert seen == [0, 1, 2, 3]


async def test_the_eleventh_connection_is_refused(
    fake_slack: FakeSlack, clients: list[SocketModeClient]
) -> None:
    for _ in range(10):
        client = new_client(fake_slack, clients)
        await open_socket(client)
    await fake_slack.wait_for_connections(10)
    # slack_sdk would retry the refused handshake forever: open the 11th by hand.
    app = AsyncWebClient(token=fake_slack.app_token, base_url=fake_slack.api_url)
    url = (await app.apps_connections_open(app_token=fake_slack.app_token))["url"]
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
    assert refused.value.status == 409
    assert fake_slack.socket.refused_links == 1
    assert len(fake_slack.connections) == 10


@pytest.mark.parametrize("reason", ["warning", "refresh_requested"])
async def test_the_sdk_reconnects_on_warning_and_refresh_requested(
    fake_slack: FakeSlack, clients: list[SocketModeClient], reason: str
) -> None:
    client = new_client(fake_slack, clients)
    seen: list[SocketModeRequest] = []
    client.socket_mode_request_listeners.append(acking_listener(seen))
    await open_socket(client)
    [first] = await fake_slack.wait_for_connections(1)

    await fake_slack.send_disconnect(reason)
    await fake_slack.wait_for(lambda s: [c for c in s.connections if c.id != first.id], timeout=10)

    ack = await fake_slack.send_slash_command(text="help")
    assert ack.connection != first.id and len(seen) == 1


async def test_after_link_disabled_no_connection_is_accepted(
    fake_slack: FakeSlack, clients: list[SocketModeClient]
) -> None:
    client = new_client(fake_slack, clients)
    await open_socket(client)
    await fake_slack.wait_for_connections(1)

    await fake_slack.send_disconnect("link_disabled", close_after=0)
    await fake_slack.wait_for(lambda s: s.socket.refused_links >= 1, timeout=10)
    assert fake_slack.connections == []
    # An admin turns Socket Mode back on: the SDK, still retrying, gets in (and can be closed).
    fake_slack.socket.link_disabled = False
    await fake_slack.wait_for_connections(1, timeout=30)


async def test_slack_sends_no_other_disconnect_reason(fake_slack: FakeSlack) -> None:
    with pytest.raises(ValueError, match="no disconnect reason"):
        await fake_slack.send_disconnect("because")


async def test_an_ack_with_blocks_slack_cannot_show_is_recorded_as_refused(
    fake_slack: FakeSlack, clients: list[SocketModeClient]
) -> None:
    client = new_client(fake_slack, clients)
    bad = {"text": "t", "blocks": [{"type": "no_such_block"}]}
    client.socket_mode_request_listeners.append(acking_listener([], bad))
    await open_socket(client)
    await fake_slack.wait_for_connections(1)

    ack = await fake_slack.send_slash_command(text="help")

    assert ack.refusal == "invalid_blocks"
    assert fake_slack.mentions == []
