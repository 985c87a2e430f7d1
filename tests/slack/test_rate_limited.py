"""Slack's rate limits reach the bot as HTTP 429 with Retry-After; the bot's retry waits at
least that long before calling again, and the request still ends with its result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.fakeslack import DEFAULT_CHANNEL, Call, FakeSlack
from tests.slack.conftest import RecordingBackend, StartBot, running_tasks, wait_until_idle


def waited_after_429(calls: list[Call]) -> list[tuple[int, float]]:
    """(Retry-After, seconds until the next call) for each 429 among `calls`."""
    gaps = []
    for n, call in enumerate(calls[:-1]):
        if call.status == 429:
            gaps.append((int(call.response_headers["Retry-After"]), calls[n + 1].at - call.at))
    return gaps


async def version_until_idle(
    slack: FakeSlack,
    start_bot: StartBot,
    pid: int,
    just_before: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """`/jdebug version pid=<pid>` through a started bot (`just_before` runs once it is up,
    right before the command), until the bot is idle again."""
    server = await start_bot(RecordingBackend())
    before = running_tasks()
    if just_before is not None:
        await just_before()
    await slack.send_slash_command(text=f"version pid={pid}")
    await wait_until_idle(server.service, before, timeout=60)


async def test_the_bot_waits_out_retry_after_on_chat_update(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    fake_slack.fail_next("chat.update", status=429, retry_after=2)

    await version_until_idle(fake_slack, start_bot, cowweb_factory(25).pid)

    updates = fake_slack.calls_to("chat.update")
    gaps = waited_after_429(updates)
    assert [after for after, _ in gaps] == [2]
    assert all(waited >= after for after, waited in gaps), gaps
    assert updates[-1].status == 200 and fake_slack.files  # the request still finished


async def test_the_bot_waits_when_the_channel_is_over_slacks_one_a_second(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    others = fake_slack.client()

    async def someone_elses_burst() -> None:  # uses up the channel's allowance
        for n in range(5):
            await others.chat_postMessage(channel=DEFAULT_CHANNEL, text=f"noise {n}")

    await version_until_idle(fake_slack, start_bot, cowweb_factory(25).pid, someone_elses_burst)

    posts = fake_slack.calls_to("chat.postMessage")
    gaps = waited_after_429(posts)
    assert gaps, "the bot's parent message should have met the per-channel limit"
    assert all(waited >= after for after, waited in gaps), gaps
    assert posts[-1].status == 200 and len(fake_slack.top_level_messages()) == 6
