"""Tests of the fake Slack itself, driven only by the real slack_sdk and slack_bolt clients:
the Web API and files. Planned faults: test_fakeslack_faults.py; Socket Mode:
test_fakeslack_socket_mode.py; HTTP mode: test_fakeslack_http.py.

If these pass, a bot test that fails against the fake fails because of the bot, not the fake.
"""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakeslack import DEFAULT_CHANNEL, UPLOAD, FakeSlack
from tests.fakeslack.scopes import manifest_scopes

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


async def test_update_over_40000_chars_or_of_unknown_ts_is_refused(fake_slack: FakeSlack) -> None:
    client = fake_slack.client()
    posted = await client.chat_postMessage(channel=DEFAULT_CHANNEL, text="short")
    with pytest.raises(SlackApiError) as too_long:
        await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text="x" * 40_001)
    assert too_long.value.response["error"] == "msg_too_long"
    await client.chat_update(channel=DEFAULT_CHANNEL, ts=posted["ts"], text="x" * 40_000)
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

    with pytest.raises(SlackApiError) as unscoped:
        await client.users_info(user="U0ALICE001")
    assert unscoped.value.response["error"] == "missing_scope"
    assert unscoped.value.response["needed"] == "users:read"
    assert unscoped.value.response["provided"] == (
        "commands,chat:write,files:write,files:read,usergroups:read"
    )


async def test_user_lookup_with_the_impersonation_scopes_the_manifest_names() -> None:
    async with FakeSlack(scopes=manifest_scopes(impersonation=True)) as slack:
        client = slack.client()
        alice = await client.users_info(user="U0ALICE001")
        assert alice["user"]["profile"]["email"] == "alice@example.com"
        with pytest.raises(SlackApiError) as raised:
            await client.users_info(user="U0NOBODY00")
        assert raised.value.response["error"] == "user_not_found"
    async with FakeSlack(scopes=(*manifest_scopes(), "users:read")) as slack:
        alice = await slack.client().users_info(user="U0ALICE001")
        assert "email" not in alice["user"]["profile"]  # users:read.email is needed for it


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


async def test_a_snippet_has_no_size_limit_slack_does_not_document_one(
    fake_slack: FakeSlack,
) -> None:
    client = fake_slack.client()
    big = "x" * 1_000_001
    await client.files_upload_v2(
        channel=DEFAULT_CHANNEL, content=big, filename="big.txt", snippet_type="text"
    )
    [stored] = fake_slack.files.values()
    assert stored.snippet_type == "text"
    assert len(stored.data or b"") == 1_000_001


@pytest.mark.parametrize(
    ("private", "error"), [(False, "not_in_channel"), (True, "channel_not_found")]
)
async def test_a_channel_without_the_bot_refuses_posts_and_uploads_as_slack_does(
    fake_slack: FakeSlack, private: bool, error: str
) -> None:
    fake_slack.add_channel("C0PRIVATE1", "elsewhere", private=private, members=("U0ALICE001",))
    client = fake_slack.client()
    for attempt in (
        client.chat_postMessage(channel="C0PRIVATE1", text="hi"),
        client.files_upload_v2(channel="C0PRIVATE1", content="x", filename="x.txt"),
    ):
        with pytest.raises(SlackApiError) as raised:
            await attempt
        assert raised.value.response["error"] == error
    assert fake_slack.messages == {} and fake_slack.files == {}
    assert len(fake_slack.pending_uploads) == 1  # the bytes went up, sharing them failed


async def test_a_channel_that_does_not_exist_is_channel_not_found(fake_slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        await fake_slack.client().chat_postMessage(channel="C0NOWHERE1", text="hi")
    assert raised.value.response["error"] == "channel_not_found"


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
