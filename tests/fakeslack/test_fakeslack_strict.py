"""The fake refuses what Slack refuses: a broken bot's payloads, posted straight at it with
slack_sdk's AsyncWebClient, get Slack's errors in Slack's shape; rate limits answer 429 with
Retry-After; mentions Slack would resolve are recorded, those it would not are not.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from tests.fakeslack import DEFAULT_CHANNEL, FakeSlack, ManualClock

Block = dict[str, Any]


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(label: str, action_id: str = "go", value: str = "v") -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


BAD_BLOCKS = {
    "unknown-block-type": ([{"type": "fancy_table", "rows": []}], "/blocks/0/type"),
    "76-char-button-label": (
        [{"type": "actions", "elements": [button("b" * 76)]}],
        "/blocks/0/elements/0/text/text",
    ),
    "duplicate-action-id": (
        [{"type": "actions", "elements": [button("one", "same"), button("two", "same")]}],
        "/blocks/0/elements/1/action_id",
    ),
    "mrkdwn-button-label": (
        [
            {
                "type": "actions",
                "elements": [{**button("x"), "text": {"type": "mrkdwn", "text": "*x*"}}],
            }
        ],
        "/blocks/0/elements/0",
    ),
    "header-without-text": ([{"type": "header"}], "/blocks/0"),
    "unknown-field": ([{"type": "divider", "colour": "red"}], "/blocks/0"),
    "section-3001-chars": ([section("s" * 3001)], "/blocks/0/text/text"),
    "51-blocks": ([{"type": "divider"}] * 51, "/blocks"),
    "11-context-elements": (
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
        "/blocks/0/elements",
    ),
}


def assert_slack_error_shape(response: Any, error: str, pointer: str) -> None:
    assert response["ok"] is False and response["error"] == error
    errors = response["errors"]
    assert any(f"[json-pointer:{pointer}" in e for e in errors), errors
    assert response["response_metadata"]["messages"] == [f"[ERROR] {e}" for e in errors]


@pytest.mark.parametrize(("blocks", "pointer"), BAD_BLOCKS.values(), ids=BAD_BLOCKS.keys())
async def test_a_broken_bots_blocks_get_invalid_blocks_on_every_chat_method(
    fake_slack: FakeSlack, blocks: list[Block], pointer: str
) -> None:
    client = fake_slack.client()
    parent = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="parent")
    for attempt in (
        lambda: client.chat_postMessage(channel=DEFAULT_CHANNEL, text="t", blocks=blocks),
        lambda: client.chat_update(
            channel=DEFAULT_CHANNEL, ts=parent["ts"], text="t", blocks=blocks
        ),
        lambda: client.chat_postEphemeral(
            channel=DEFAULT_CHANNEL, user="U0ALICE001", text="t", blocks=blocks
        ),
    ):
        with pytest.raises(SlackApiError) as raised:
            await attempt()
        assert_slack_error_shape(raised.value.response, "invalid_blocks", pointer)
    assert list(fake_slack.messages) == [parent["ts"]] and fake_slack.ephemeral == []
    assert fake_slack.messages[parent["ts"]].history == ()


async def test_fifteen_2900_character_sections_are_msg_blocks_too_long(
    fake_slack: FakeSlack,
) -> None:
    blocks = [section("x" * 2900) for _ in range(15)]  # each fine alone, 43,500 in all
    with pytest.raises(SlackApiError) as raised:
        await fake_slack.client().chat_postMessage(channel=DEFAULT_CHANNEL, text="t", blocks=blocks)
    assert raised.value.response["error"] == "msg_blocks_too_long"
    four = [section("x" * 2900) for _ in range(4)]  # 11,600: under Slack's 12,000
    await fake_slack.client().chat_postMessage(channel=DEFAULT_CHANNEL, text="t", blocks=four)


async def test_text_of_45000_characters_is_truncated_by_post_and_refused_by_update(
    fake_slack: FakeSlack,
) -> None:
    client = fake_slack.client()
    posted = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="y" * 45_000)
    assert posted["warning"] == "message_truncated"
    assert len(fake_slack.messages[posted["ts"]].text) == 40_000
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text="z" * 45_000)
    assert raised.value.response["error"] == "msg_too_long"


async def test_a_home_view_over_100_blocks_or_with_a_bad_block_is_invalid_arguments(
    fake_slack: FakeSlack,
) -> None:
    client = fake_slack.client()
    for view, pointer in (
        ({"type": "home", "blocks": [{"type": "divider"}] * 101}, "/view/blocks"),
        ({"type": "home", "blocks": [{"type": "nonsense"}]}, "/view/blocks/0/type"),
        ({"type": "home", "blocks": [], "titel": "typo"}, "/view"),
    ):
        with pytest.raises(SlackApiError) as raised:
            await client.views_publish(user_id="U0ALICE001", view=view)
        assert_slack_error_shape(raised.value.response, "invalid_arguments", pointer)
    assert fake_slack.home_views == {}
    await client.views_publish(user_id="U0ALICE001", view={"type": "home", "blocks": []})


async def test_a_response_url_refuses_invalid_blocks_with_400(fake_slack: FakeSlack) -> None:
    url = fake_slack.response_url()
    bad = {"text": "t", "blocks": [{"type": "actions", "elements": [button("b" * 76)]}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=bad) as answer:
            assert (answer.status, await answer.text()) == (400, "invalid_blocks")
        async with session.post(url, json={"text": "fine"}) as answer:
            assert answer.status == 200
    assert [r.text for r in fake_slack.responses] == ["fine"]


# --- mentions ------------------------------------------------------------------------------


async def test_mentions_slack_would_resolve_are_recorded_and_plain_text_ones_are_not(
    fake_slack: FakeSlack,
) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "<!channel> stays text"}},
        section("hi <@U0BOB00002>, see <#C0OPS00001> and <http://x|y>"),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "<!subteam^S0ONCALL1>"}]},
        section("&lt;!here&gt; is escaped"),
    ]
    await fake_slack.client().chat_postMessage(
        channel=DEFAULT_CHANNEL, text="ping <!here> <!everyone|everyone>", blocks=blocks
    )

    found = {(m.kind, m.target) for m in fake_slack.mentions}
    assert found == {
        ("here", "here"),
        ("everyone", "everyone"),
        ("user", "U0BOB00002"),
        ("channel_link", "C0OPS00001"),
        ("link", "http://x"),
        ("usergroup", "S0ONCALL1"),
    }
    where = {m.raw: m.where for m in fake_slack.mentions}
    assert where["<!here>"] == "chat.postMessage text"
    assert where["<@U0BOB00002>"] == "chat.postMessage /blocks/1/text/text"
    assert fake_slack.mentions_other_than("<!here>", "<!everyone|everyone>", "<http://x|y>") != []


# --- rate limits ---------------------------------------------------------------------------


async def test_post_message_allows_a_short_burst_then_one_a_second_per_channel() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock) as slack:
        slack.add_channel("C0OTHER001", "other", members=(slack.identity.bot_user_id,))
        client = slack.client()
        for n in range(5):
            await client.chat_postMessage(channel=DEFAULT_CHANNEL, text=f"burst {n}")
        with pytest.raises(SlackApiError) as raised:
            await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="one too many")
        assert raised.value.response.status_code == 429
        assert raised.value.response.headers["Retry-After"] == "1"
        assert raised.value.response["error"] == "ratelimited"
        await client.chat_postMessage(channel="C0OTHER001", text="another channel is fine")
        clock.advance(1.0)
        await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="a second later")


async def test_chat_update_is_tier_3_fifty_a_minute() -> None:
    clock = ManualClock()
    async with FakeSlack(clock=clock) as slack:
        client = slack.client()
        posted = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="0")
        for n in range(50):
            await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text=str(n))
        with pytest.raises(SlackApiError) as raised:
            await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text="51st")
        # One more call refills in 60/50 = 1.2 s: Slack's whole-second header says 2.
        assert raised.value.response.headers["Retry-After"] == "2"
        clock.advance(1.2)
        await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text="later")
        assert slack.messages[posted["ts"]].text == "later"


async def test_the_sdk_retry_handler_waits_out_retry_after_before_calling_again(
    fake_slack: FakeSlack,
) -> None:
    client = fake_slack.client()
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    for n in range(6):  # the sixth is rate limited, then retried after Retry-After
        await client.chat_postMessage(channel=DEFAULT_CHANNEL, text=f"m{n}")

    calls = fake_slack.calls_to("chat.postMessage")
    limited = [c for c in calls if c.status == 429]
    assert limited, "the burst should have run into the per-channel limit"
    retry_after = int(limited[0].response_headers["Retry-After"])
    after = calls[calls.index(limited[0]) + 1]
    assert after.status == 200
    assert after.at - limited[0].at >= retry_after
    assert len(fake_slack.messages) == 6


async def test_rate_limits_can_be_turned_off() -> None:
    async with FakeSlack(rate_limits=False) as slack:
        for n in range(8):
            await slack.client().chat_postMessage(channel=DEFAULT_CHANNEL, text=f"m{n}")
        assert len(slack.messages) == 8


async def test_any_other_angle_bracket_sequence_is_recorded_as_markup(
    fake_slack: FakeSlack,
) -> None:
    await fake_slack.client().chat_postMessage(
        channel=DEFAULT_CHANNEL, text="usage: /jdebug <tool> pod=<name> (a &lt;b&gt; is fine)"
    )
    assert [(m.kind, m.raw) for m in fake_slack.mentions] == [
        ("markup", "<tool>"),
        ("markup", "<name>"),
    ]
