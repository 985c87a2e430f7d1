"""`python -m tests.fakeslack --port N` serves the fake on its own: an outside slack_sdk client
with any xoxb- token can post, and one with any xapp- token can open a Socket Mode link."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def standalone() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakeslack", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once it listens
        assert f"base_url=http://127.0.0.1:{port}/api/" in line, line
        yield f"http://127.0.0.1:{port}/api/"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


async def test_an_outside_client_with_any_bot_token_posts_to_the_standalone_fake(
    standalone: str,
) -> None:
    client = AsyncWebClient(token="xoxb-anything-at-all", base_url=standalone)
    assert (await client.auth_test())["ok"] is True
    posted = await client.chat_postMessage(channel="C0OPS00001", text="hello from outside")
    assert posted["message"]["text"] == "hello from outside"
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C0NOWHERE1", text="x")
    assert raised.value.response["error"] == "channel_not_found"

    app = AsyncWebClient(token="xapp-1-any", base_url=standalone)
    opened = await app.apps_connections_open(app_token="xapp-1-any")
    assert opened["url"].startswith("ws://127.0.0.1:")
    with pytest.raises(SlackApiError) as refused:
        await AsyncWebClient(token="not-a-slack-token", base_url=standalone).auth_test()
    assert refused.value.response["error"] == "invalid_auth"
