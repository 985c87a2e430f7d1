"""The fake Slack's HTTP mode: signed slash commands posted to a real Bolt app, and badly
signed ones refused."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from tests.fakeslack import FakeSlack, Signing, slack_signature

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


# --- signing, checked against Slack's own worked example --------------------------------------

# docs.slack.dev/authentication/verifying-requests-from-slack, "Validating a request": the
# example signing secret, timestamp, slash-command body and the signature Slack computed.
SLACK_EXAMPLE_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_EXAMPLE_TIMESTAMP = "1531420618"
SLACK_EXAMPLE_BODY = (
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    "&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_EXAMPLE_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_the_fakes_signature_matches_slacks_published_example() -> None:
    assert (
        slack_signature(SLACK_EXAMPLE_SECRET, SLACK_EXAMPLE_TIMESTAMP, SLACK_EXAMPLE_BODY)
        == SLACK_EXAMPLE_SIGNATURE
    )
    headers = Signing(SLACK_EXAMPLE_SECRET, timestamp=int(SLACK_EXAMPLE_TIMESTAMP)).headers(
        SLACK_EXAMPLE_BODY
    )
    assert headers == {
        "X-Slack-Request-Timestamp": SLACK_EXAMPLE_TIMESTAMP,
        "X-Slack-Signature": SLACK_EXAMPLE_SIGNATURE,
    }
    assert slack_signature(
        SLACK_EXAMPLE_SECRET, SLACK_EXAMPLE_TIMESTAMP, SLACK_EXAMPLE_BODY + "x"
    ) != (SLACK_EXAMPLE_SIGNATURE)
