"""`/jdebug` over Socket Mode, end to end: a real Bolt app built as `jdebug serve` builds it,
the real slack_sdk talking to the fake Slack over real sockets, and real cowweb JVMs.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest

from bot.jvm.catalog import CATALOG
from bot.local.strategy import LocalTarget
from bot.model.request import Request
from handlers.slack.app import BotServer
from tests.fakeslack import DEFAULT_CHANNEL, FakeSlack, UploadedFile
from tests.slack.conftest import (
    ALICE,
    RecordingBackend,
    StartBot,
    all_text,
    log_records,
    running_tasks,
    wait_until_idle,
)
from tests.support.jvms import jattach_text

# The threads cowweb starts by name (examples/cowweb/src/cowweb/Main.java).
COWWEB_THREADS = (
    "barn-door-holder",
    "cow-waiting-1",
    "cow-waiting-2",
    "cow-sleeper-1",
    "cow-sleeper-2",
    "milker",
    "worker-3",
    "worker-4",
    "http-acceptor",
)
_THREAD_HEADER = re.compile(r'^"(?P<name>[^"]+)" #(?P<number>\d+) ', re.MULTILINE)


def thread_numbers(dump: str) -> dict[str, str]:
    """cowweb's named threads and their `#N`, which is unique per JVM."""
    found = {m["name"]: m["number"] for m in _THREAD_HEADER.finditer(dump)}
    return {name: found[name] for name in COWWEB_THREADS if name in found}


async def wait_for_files(slack: FakeSlack, count: int, timeout: float = 30) -> list[UploadedFile]:
    return await slack.wait_for(
        lambda s: list(s.files.values()) if len(s.files) >= count else None, timeout=timeout
    )


async def test_threaddump_acks_fast_then_posts_updates_and_threads_the_real_dump(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25, deadlock=True)
    backend = RecordingBackend()
    await start_bot(backend)

    ack = await fake_slack.send_slash_command(text=f"threaddump pid={jvm.pid}")

    assert ack.elapsed < 3.0
    assert ack.payload is not None and f"threaddump pid={jvm.pid}" in ack.payload["text"]
    (dump_file,) = await wait_for_files(fake_slack, 1)
    (parent,) = fake_slack.top_level_messages(DEFAULT_CHANNEL)
    # Posted with a status once the target was found, then edited in place into the result.
    assert parent.update_count >= 1
    assert "⏳" in str(parent.history[0].blocks) and "worker-3" not in parent.history[0].text
    assert f"<@{ALICE}>" in str(parent.history[0].blocks)
    assert dump_file.channel == DEFAULT_CHANNEL and dump_file.thread_ts == parent.ts
    assert dump_file.completed and dump_file.filename.startswith("threaddump-")
    # The file is this JVM's dump: the same thread numbers an independent jattach sees.
    assert "Full thread dump" in dump_file.text
    independent = thread_numbers(jattach_text(jvm.pid, "Thread.print -l"))
    assert thread_numbers(dump_file.text) == independent
    assert set(independent) == set(COWWEB_THREADS)
    final = all_text(parent)
    assert "deadlock" in final and "worker-3" in final and "worker-4" in final
    assert "via *local*" in final
    assert [r.tool for r in backend.ran] == ["threaddump"]


async def test_take_another_runs_the_same_request_again_in_the_same_thread(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25, deadlock=True)
    backend = RecordingBackend()
    await start_bot(backend)
    await fake_slack.send_slash_command(text=f"threaddump pid={jvm.pid}")
    await wait_for_files(fake_slack, 1)
    (parent,) = fake_slack.top_level_messages()

    ack = await fake_slack.click_button(parent.ts, "jdebug_run_again")
    assert ack.elapsed < 3.0
    await wait_for_files(fake_slack, 2)
    (reply,) = fake_slack.replies(parent.ts)
    # A click on the reply's own button still lands in the parent's thread.
    await fake_slack.click_button(reply.ts, "jdebug_run_again")
    files = await wait_for_files(fake_slack, 3)

    assert len(fake_slack.top_level_messages()) == 1
    replies = fake_slack.replies(parent.ts)
    assert len(replies) == 2
    assert all("worker-3" in all_text(r) for r in replies)
    assert [f.thread_ts for f in files] == [parent.ts] * 3
    assert [r for r in backend.ran] == [backend.ran[0]] * 3
    assert backend.ran[0].target.pid == jvm.pid


async def test_rate_limited_post_is_retried_and_delivered(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    await start_bot()
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)

    await fake_slack.send_slash_command(text=f"version pid={jvm.pid}")
    await wait_for_files(fake_slack, 1)

    assert [c.status for c in fake_slack.calls_to("chat.postMessage")] == [429, 200]
    (parent,) = fake_slack.top_level_messages()
    assert "JDK 25" in all_text(parent) or "25." in all_text(parent)


async def test_not_in_channel_on_upload_tells_the_user_to_invite_the_bot(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    await start_bot()
    fake_slack.fail_next("files.completeUploadExternal", error="not_in_channel")

    await fake_slack.send_slash_command(text=f"version pid={jvm.pid}")
    told = await fake_slack.wait_for(
        lambda s: [r for r in s.responses if "/invite @jdebug" in r.text], timeout=20
    )

    assert told[0].ephemeral and told[0].user_id == ALICE
    assert fake_slack.files == {}
    assert "Traceback" not in told[0].text


@pytest.mark.parametrize(
    ("private", "slack_error"), [(False, "not_in_channel"), (True, "channel_not_found")]
)
async def test_channel_without_the_bot_gets_an_invite_hint_and_nothing_runs(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory, private: bool, slack_error: str
) -> None:
    jvm = cowweb_factory(25)
    backend = RecordingBackend()
    server = await start_bot(backend)
    before = running_tasks()
    # A channel everyone but the bot is in: public (not_in_channel) or private (Slack hides
    # it from the bot: channel_not_found).
    fake_slack.add_channel("C0TEAM0001", "team", private=private, members=(ALICE,))

    await fake_slack.send_slash_command(text=f"threaddump pid={jvm.pid}", channel_id="C0TEAM0001")
    told = await fake_slack.wait_for(lambda s: s.responses, timeout=20)
    await wait_until_idle(server.service, before)  # drained before asserting nothing ran

    (refused,) = fake_slack.calls_to("chat.postMessage")
    assert refused.response is not None and refused.response["error"] == slack_error
    assert "/invite @jdebug" in told[0].text
    assert backend.ran == []
    assert fake_slack.messages == {}


async def test_attach_failure_is_one_sentence_in_the_parent(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25, jvm_args=("-XX:+DisableAttachMechanism",))
    await start_bot()

    await fake_slack.send_slash_command(text=f"flags pid={jvm.pid}")
    parent = await fake_slack.wait_for(
        lambda s: next((m for m in s.top_level_messages() if "✖" in m.text), None), timeout=20
    )

    text = all_text(parent)
    assert "DisableAttachMechanism" in text
    assert "Traceback" not in text and len(parent.text.splitlines()) <= 3
    assert fake_slack.files == {}
    assert not any(b.get("type") == "actions" for b in parent.blocks)


class CrashingBackend(RecordingBackend):
    async def resolve(self, request: Request) -> LocalTarget:
        raise RuntimeError("kaboom: secret internal detail")


async def test_unexpected_exception_is_an_internal_error_with_an_id_in_the_log(
    fake_slack: FakeSlack, start_bot: StartBot, json_logs
) -> None:
    await start_bot(CrashingBackend())

    await fake_slack.send_slash_command(text="threaddump pod=cowweb")
    told = await fake_slack.wait_for(lambda s: s.responses, timeout=10)

    match = re.search(r"internal error \(id (\w+)\)", told[0].text)
    assert match is not None
    assert "kaboom" not in told[0].text
    crash = [r for r in log_records(json_logs) if r.get("event") == "request.crashed"]
    assert crash and crash[0]["request_id"] == match[1]
    assert "kaboom: secret internal detail" in crash[0]["exception"]


async def test_app_home_shows_usage_the_catalog_and_the_users_last_requests(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25, deadlock=True)
    await start_bot()
    await fake_slack.send_slash_command(text=f"threaddump pid={jvm.pid}")
    await wait_for_files(fake_slack, 1)

    await fake_slack.send_event(
        {"type": "app_home_opened", "user": ALICE, "channel": "D0ALICEDM1", "tab": "home"}
    )
    home = await fake_slack.wait_for(lambda s: s.home_views.get(ALICE), timeout=10)

    text = str(home.view["blocks"])
    assert "/jdebug" in text
    assert all(f"`{tool.name}`" in text for tool in CATALOG)
    assert f"threaddump pid={jvm.pid}" in text and "worker-3" in text


async def test_bot_server_is_ready_only_while_connected(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    server: BotServer = await start_bot()
    assert await server.ready()
    await server.shutdown()
    assert not await server.ready()
    await fake_slack.wait_for(lambda s: not s.connections, timeout=5)


class GatedBackend(RecordingBackend):
    """Resolves only once the test opens the gate, so a request can be held mid-run."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def resolve(self, request: Request) -> LocalTarget:
        await self.gate.wait()
        return await super().resolve(request)


async def test_requests_beyond_the_concurrency_limit_wait_their_turn_and_say_so(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    backend = GatedBackend()
    await start_bot(backend, max_concurrent_requests=1)

    first = await fake_slack.send_slash_command(text=f"version pid={jvm.pid}")
    second = await fake_slack.send_slash_command(text=f"flags pid={jvm.pid}")
    backend.gate.set()
    await wait_for_files(fake_slack, 2)

    assert first.payload is not None and "queued" not in first.payload["text"]
    assert second.payload is not None and "queued, 0 ahead" in second.payload["text"]
    assert [r.tool for r in backend.ran] == ["version", "flags"]


def agent_children() -> list[int]:
    """Agents this test process started that are still alive."""
    mine = []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"jdebug-agent" in cmdline:
            mine.append(int(entry.name))
    return mine


async def test_shutdown_stops_what_outlives_the_grace_period_and_tells_the_user(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    server = await start_bot(shutdown_grace_seconds=1)
    await fake_slack.send_slash_command(text=f"threaddump pid={jvm.pid} count=3 interval=10s")
    (parent,) = await fake_slack.wait_for(lambda s: s.top_level_messages(), timeout=10)
    await fake_slack.wait_for(lambda s: agent_children(), timeout=5)

    started = time.monotonic()
    assert await server.shutdown() == 0

    assert time.monotonic() - started < 10
    final = fake_slack.messages[parent.ts]
    assert "stopped this before it finished" in final.text
    assert fake_slack.files == {}
    assert agent_children() == []


@pytest.mark.parametrize("reason", ["warning", "refresh_requested"])
async def test_the_bot_reconnects_when_slack_asks_and_keeps_answering(
    fake_slack: FakeSlack, start_bot: StartBot, reason: str
) -> None:
    await start_bot()
    [first] = fake_slack.connections

    # Slack says why, then closes the old link a little later.
    await fake_slack.send_disconnect(reason, close_after=0.5)
    await fake_slack.wait_for(lambda s: [c for c in s.connections if c.id != first.id], timeout=20)
    ack = await fake_slack.send_slash_command(text="help")

    assert ack.connection != first.id
    assert ack.payload is not None and "Usage: /jdebug" in ack.payload["text"]
