"""The fake Slack's planned faults, as the real slack_sdk sees them: injected errors, refused
uploads, dropped connections, 429 with Retry-After and 503 (and the SDK's retry handlers), and
slow answers."""

from __future__ import annotations

import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)

from tests.fakeslack import DEFAULT_CHANNEL, UPLOAD, FakeSlack

# --- Injected errors ---------------------------------------------------------------------------


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
