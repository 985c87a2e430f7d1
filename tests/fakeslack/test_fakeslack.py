"""Tests of the fake Slack itself, driven only by the real slack_sdk and slack_bolt clients.

If these pass, a bot test that fails against the fake fails because of the bot, not the fake.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakeslack import DEFAULT_CHANNEL, UPLOAD, FakeSlack, Signing

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


# --- Web API -----------------------------------------------------------------------------------


async def test_auth_test_names_the_bot_and_workspace(fake_slack: FakeSlack) -> None:
    answer = await fake_slack.client().auth_test()
    assert answer["ok"] is True
    assert answer["user_id"] == fake_slack.identity.bot_user_id
    assert answer["bot_id"] == fake_slack.identity.bot_id
    assert answer["team_id"] == fake_slack.identity.team_id
    assert answer["url"].startswith("https://")
    call = fake_slack.calls_to("auth.test")[0]
    assert call.headers["Authorization"] == f"Bearer {fake_slack.bot_token}"


async def test_unknown_token_is_refused_with_invalid_auth(fake_slack: FakeSlack) -> None:
    client = AsyncWebClient(token="xoxb-not-the-right-one", base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="hi")
    assert raised.value.response["error"] == "invalid_auth"
    assert fake_slack.messages == {}


async def test_post_then_update_keeps_one_message_with_its_history(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    posted = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="resolving target")
    again = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="second")
    assert float(again["ts"]) > float(posted["ts"])
    assert posted["channel"] == DEFAULT_CHANNEL
    assert posted["message"]["text"] == "resolving target"

    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*done*"}}]
    updated = await client.chat_update(
        channel=DEFAULT_CHANNEL, ts=posted["ts"], text="done", blocks=blocks
    )
    assert updated["ts"] == posted["ts"]
    message = fake_slack.messages[posted["ts"]]
    assert (message.text, message.blocks) == ("done", blocks)
    assert [v.text for v in message.history] == ["resolving target"]


async def test_update_over_4000_chars_or_of_unknown_ts_is_refused(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    posted = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="short")
    with pytest.raises(SlackApiError) as too_long:
        await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text="x" * 4001)
    assert too_long.value.response["error"] == "msg_too_long"
    await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text="x" * 4000)
    with pytest.raises(SlackApiError) as unknown:
        await client.chat_update(channel=DEFAULT_CHANNEL, ts="1.000001", text="x")
    assert unknown.value.response["error"] == "message_not_found"


async def test_blocks_over_slack_limits_are_refused_as_invalid_blocks(
    fake_slack: FakeSlack,
) -> None:
    client = fake_slack.client()
    big_section = [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}]
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="t", blocks=big_section)
    assert raised.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/text/text" in raised.value.response["errors"][0]
    many = [{"type": "divider"}] * 51
    with pytest.raises(SlackApiError):
        await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="t", blocks=many)
    assert fake_slack.messages == {}


async def test_ephemeral_home_view_and_user_lookup(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    eph = await client.chat_postEphemeral(channel=DEFAULT_CHANNEL, user="U0ALICE001", text="usage")
    assert eph["message_ts"]
    assert [e.text for e in fake_slack.ephemeral_for("U0ALICE001")] == ["usage"]

    view = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    published = await client.views_publish(user_id="U0ALICE001", view=view)
    assert published["view"]["type"] == "home"
    assert fake_slack.home_views["U0ALICE001"].view["blocks"] == view["blocks"]

    alice = await client.users_info(user="U0ALICE001")
    assert alice["user"]["profile"]["email"] == "alice@example.com"
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U0NOBODY00")
    assert raised.value.response["error"] == "user_not_found"


# --- Files -------------------------------------------------------------------------------------


async def test_files_upload_v2_puts_the_exact_bytes_in_the_thread(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    parent = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="thread dump")
    content = '"main" #1 prio=5 os_prio=0 tid=0x1 nid=0x2 runnable\n\tat Main.main(Main.java:1)\n'
    content += "ünïcode ✓\n"
    answer = await client.files_upload_v2(
        channel=DEFAULT_CHANNEL,
        thread_ts=parent["ts"],
        content=content,
        filename="threaddump-cowweb.txt",
        title="Thread dump",
        snippet_type="text",
    )
    assert answer["file"]["id"] in fake_slack.files
    [stored] = fake_slack.files_in_thread(parent["ts"])
    assert stored.data == content.encode()
    assert stored.length_declared == len(content.encode())
    assert (stored.channel, stored.filename, stored.title) == (
        DEFAULT_CHANNEL,
        "threaddump-cowweb.txt",
        "Thread dump",
    )
    assert stored.snippet_type == "text"
    assert fake_slack.pending_uploads == {}
    assert [c.method for c in fake_slack.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        UPLOAD,
        "files.completeUploadExternal",
    ]


async def test_completing_the_same_upload_twice_fails(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    answer = await client.files_upload_v2(channel=DEFAULT_CHANNEL, content="a", filename="a.txt")
    with pytest.raises(SlackApiError) as raised:
        await client.files_completeUploadExternal(
            files=[{"id": answer["file"]["id"], "title": "again"}], channel_id=DEFAULT_CHANNEL
        )
    assert raised.value.response["error"] == "file_not_found"


async def test_snippet_over_one_megabyte_is_refused(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    big = "x" * 1_000_001
    with pytest.raises(SlackApiError) as raised:
        await client.files_upload_v2(
            channel=DEFAULT_CHANNEL, content=big, filename="big.txt", snippet_type="text"
        )
    assert raised.value.response["error"] == "snippet_too_large"
    await client.files_upload_v2(channel=DEFAULT_CHANNEL, content=big, filename="big.txt")
    [stored] = fake_slack.files.values()
    assert stored.snippet_type is None
    assert len(stored.data or b"") == 1_000_001


async def test_not_in_channel_can_be_injected_for_the_upload(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("files.completeUploadExternal", error="not_in_channel")
    client = fake_slack.client()
    with pytest.raises(SlackApiError) as raised:
        await client.files_upload_v2(channel=DEFAULT_CHANNEL, content="x", filename="x.txt")
    assert raised.value.response["error"] == "not_in_channel"
    assert raised.value.response.status_code == 200
    assert fake_slack.files == {}


async def test_the_second_upload_of_a_batch_can_be_refused(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next(UPLOAD, status=500, after=1)
    client = fake_slack.client()
    with pytest.raises(SlackRequestError, match="status: 500"):
        await client.files_upload_v2(
            channel=DEFAULT_CHANNEL,
            file_uploads=[
                {"content": "one", "filename": "1.txt"},
                {"content": "two", "filename": "2.txt"},
            ],
        )
    assert [c.status for c in fake_slack.calls_to(UPLOAD)] == [200, 500]
    assert fake_slack.calls_to("files.completeUploadExternal") == []
    assert fake_slack.files == {}


async def test_a_dropped_connection_is_no_answer_at_all(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", drop=True)
    client = fake_slack.client(retry_handlers=[])
    with pytest.raises(aiohttp.ClientError):
        await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="lost")
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [0]
    assert fake_slack.messages == {}


async def test_a_channel_without_the_bot_refuses_posts_and_uploads(fake_slack: FakeSlack) -> None:
    fake_slack.channels_without_bot.add("C0PRIVATE1")
    client = fake_slack.client()
    for attempt in (
        client.chat_postMessage(channel="C0PRIVATE1", text="hi"),
        client.files_upload_v2(channel="C0PRIVATE1", content="x", filename="x.txt"),
    ):
        with pytest.raises(SlackApiError) as raised:
            await attempt
        assert raised.value.response["error"] == "not_in_channel"
    assert fake_slack.messages == {} and fake_slack.files == {}
    assert len(fake_slack.pending_uploads) == 1  # the bytes went up, sharing them failed


# --- Faults and retries ------------------------------------------------------------------------


async def test_429_carries_retry_after_and_the_sdk_handler_retries_it(
    fake_slack: FakeSlack,
) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0)
    plain = fake_slack.client()
    with pytest.raises(SlackApiError) as raised:
        await plain.chat_postMessage(channel=DEFAULT_CHANNEL, text="first")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "0"
    assert raised.value.response["error"] == "ratelimited"

    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0)
    retrying = fake_slack.client(
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
    )
    answer = await retrying.chat_postMessage(channel=DEFAULT_CHANNEL, text="second")
    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 429, 200]
    assert [m.text for m in fake_slack.messages.values()] == ["second"]
    assert answer["ts"] in fake_slack.messages


async def test_503_is_retried_by_the_server_error_handler(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.update", status=503)
    client = fake_slack.client(retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=1)])
    posted = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="a")
    await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text="b")
    assert [c.status for c in fake_slack.calls_to("chat.update")] == [503, 200]
    assert fake_slack.messages[posted["ts"]].text == "b"


async def test_delay_makes_answers_slow(fake_slack: FakeSlack) -> None:
    fake_slack.delay("chat.postMessage", 0.3)
    started = time.monotonic()
    await fake_slack.client().chat_postMessage(channel=DEFAULT_CHANNEL, text="slow")
    assert time.monotonic() - started >= 0.3


async def test_wait_for_returns_once_a_message_arrives_and_times_out_otherwise(
    fake_slack: FakeSlack,
) -> None:
    async def post_later() -> None:
        await asyncio.sleep(0.05)
        await fake_slack.client().chat_postMessage(channel=DEFAULT_CHANNEL, text="late")

    task = asyncio.create_task(post_later())
    found = await fake_slack.wait_for(lambda s: s.top_level_messages(DEFAULT_CHANNEL), timeout=2)
    await task
    assert [m.text for m in found] == ["late"]
    with pytest.raises(TimeoutError, match=r"chat\.postMessage->200"):
        await fake_slack.wait_for(lambda s: len(s.messages) > 1, timeout=0.1)


async def test_response_url_records_posts_and_allows_five(fake_slack: FakeSlack) -> None:
    url = fake_slack.response_url(user_id="U0BOB00002")
    hook = AsyncWebhookClient(url)
    first = await hook.send(text="working on it", response_type="ephemeral")
    assert first.status_code == 200
    for i in range(4):
        await hook.send(text=f"more {i}")
    sixth = await hook.send(text="too many")
    assert sixth.status_code == 404
    assert [r.text for r in fake_slack.responses][:2] == ["working on it", "more 0"]
    assert len(fake_slack.responses) == 5
    assert fake_slack.responses[0].ephemeral and fake_slack.responses[0].user_id == "U0BOB00002"


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


async def test_a_slash_command_whose_connection_closes_before_the_ack_is_not_delivered_again(
    fake_slack: FakeSlack,
) -> None:
    # facts/slack.md: an unacked slash command shows the user `operation_timeout`; Slack does
    # not redeliver it, so the other connection never sees it.
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
        sent = asyncio.create_task(
            fake_slack.send_slash_command(text="help", timeout=3, connection=doomed.id)
        )
        await asyncio.wait_for(got_it.wait(), 5)
        await close_socket(dying)
        with pytest.raises(TimeoutError, match="no ack"):
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


# --- HTTP mode ---------------------------------------------------------------------------------

SECRET = "fake-signing-secret"


@pytest_asyncio.fixture
async def bolt_http_app(fake_slack: FakeSlack) -> AsyncIterator[tuple[str, list[str]]]:
    """A real Bolt AsyncApp served over HTTP; yields its request URL and the commands it ran."""
    ran: list[str] = []
    app = AsyncApp(client=fake_slack.client(), signing_secret=SECRET)

    @app.command("/jdebug")
    async def command(ack: AsyncAck, body: dict[str, Any]) -> None:
        ran.append(body["text"])
        await ack(f"got {body['text']}")

    runner = web.AppRunner(app.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/slack/events", ran
    await runner.cleanup()


async def test_signed_http_slash_command_reaches_a_bolt_app(
    fake_slack: FakeSlack, bolt_http_app: tuple[str, list[str]]
) -> None:
    url, ran = bolt_http_app
    answer = await fake_slack.post_slash_command_http(url, Signing(SECRET), text="jps pod=cowweb")
    assert answer.status == 200
    # Bolt answers an ack with only text as a plain-text body, which Slack accepts too.
    assert answer.body == "got jps pod=cowweb"
    assert ran == ["jps pod=cowweb"]


@pytest.mark.parametrize(
    "signing",
    [
        Signing(SECRET, signature="v0=" + "0" * 64),
        Signing("another-secret"),
        Signing(SECRET, timestamp=int(time.time()) - 301),
        Signing(SECRET, omit_headers=True),
    ],
    ids=["bad-signature", "wrong-secret", "stale-timestamp", "no-headers"],
)
async def test_badly_signed_http_requests_are_refused_by_bolt(
    fake_slack: FakeSlack, bolt_http_app: tuple[str, list[str]], signing: Signing
) -> None:
    url, ran = bolt_http_app
    answer = await fake_slack.post_slash_command_http(url, signing, text="jps")
    assert answer.status == 401
    assert ran == []
