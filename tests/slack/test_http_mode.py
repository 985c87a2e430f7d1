"""HTTP mode: Slack POSTs signed requests to the bot's aiohttp server; Bolt checks the
signature (`v0:{timestamp}:{body}`, HMAC-SHA256, at most 5 minutes old) before anything runs.
"""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from handlers.slack.app import EVENTS_PATH, BotServer
from tests.fakeslack import DEFAULT_CHANNEL, FakeSlack, Signing
from tests.slack.conftest import RecordingBackend, StartBot

SECRET = "test-signing-secret"


def events_url(server: BotServer) -> str:
    return f"http://127.0.0.1:{server.http_port}{EVENTS_PATH}"


async def test_signed_slash_command_is_acked_in_the_response_and_runs(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    backend = RecordingBackend()
    server = await start_bot(backend, slack_mode="http", slack_signing_secret=SECRET)

    answer = await fake_slack.post_slash_command_http(
        events_url(server), Signing(SECRET), text=f"version pid={jvm.pid}"
    )

    assert answer.status == 200 and answer.elapsed < 3.0
    ack = json.loads(answer.body)
    assert ack["response_type"] == "ephemeral" and f"version pid={jvm.pid}" in ack["text"]
    (dump,) = await fake_slack.wait_for(lambda s: list(s.files.values()), timeout=20)
    (parent,) = fake_slack.top_level_messages(DEFAULT_CHANNEL)
    assert dump.thread_ts == parent.ts
    assert "JDK 25" in dump.text or "25." in dump.text
    assert [r.tool for r in backend.ran] == ["version"]


@pytest.mark.parametrize(
    "signing",
    [
        Signing("not-the-signing-secret"),
        Signing(SECRET, signature="v0=" + "0" * 64),
        Signing(SECRET, timestamp=int(time.time()) - 301),
        Signing(SECRET, omit_headers=True),
    ],
    ids=["wrong-secret", "bad-signature", "stale-timestamp", "missing-headers"],
)
async def test_unverified_request_is_rejected_with_401_and_nothing_runs(
    fake_slack: FakeSlack, start_bot: StartBot, signing: Signing
) -> None:
    backend = RecordingBackend()
    server = await start_bot(backend, slack_mode="http", slack_signing_secret=SECRET)

    answer = await fake_slack.post_slash_command_http(
        events_url(server), signing, text="threaddump pid=1"
    )

    assert answer.status == 401
    assert backend.resolved == [] and backend.ran == []
    assert fake_slack.calls_to("chat.postMessage") == []
    assert fake_slack.responses == []


async def test_draining_bot_refuses_new_commands_and_is_not_ready(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    backend = RecordingBackend()
    server = await start_bot(backend, slack_mode="http", slack_signing_secret=SECRET)
    health = f"http://127.0.0.1:{server.health_port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{health}/readyz") as ready:
            assert ready.status == 200

        await server.service.inflight.drain(0)
        answer = await fake_slack.post_slash_command_http(
            events_url(server), Signing(SECRET), text="threaddump pid=1"
        )

        async with session.get(f"{health}/readyz") as ready:
            assert ready.status == 503
        async with session.get(f"{health}/healthz") as alive:
            assert alive.status == 200
    assert answer.status == 200 and "restarting" in json.loads(answer.body)["text"]
    assert backend.resolved == []
