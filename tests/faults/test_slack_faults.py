"""Faults seen from Slack: a real bot (built as `jdebug serve` builds it) on the fake Slack,
with the Kubernetes backend on kubesim and the seed's cowweb. Uploads that fail mid-way keep
the summary and tell the requester once; API faults are retried or end in one sentence in the
parent message. Shutting the bot down drains it, so the recorded calls are then final: a loop
of retries would show there."""

from __future__ import annotations

import os
import signal

import pytest

from tests.fakeslack import UPLOAD, FakeSlack
from tests.faults.leftovers import assert_nothing_left
from tests.slack.conftest import ALICE, final_answer
from tests.strategies.conftest import backend_for, needs_root

pytestmark = needs_root

COMMAND = "threaddump pod=cowweb ns=apps"


async def final_parent(slack: FakeSlack, mark: str) -> str:
    """The text of the bot's one parent message, once it shows `mark` (result or error)."""
    text = await final_answer(slack, ALICE, (mark,), ephemeral=False, timeout=60)
    assert len(slack.top_level_messages()) == 1
    return text


def told_requester(slack: FakeSlack) -> list[str]:
    return [r.text for r in slack.responses if r.user_id == ALICE and r.ephemeral]


async def test_second_file_failing_to_upload_keeps_the_summary_and_tells_the_requester_once(
    sim, fake_slack: FakeSlack, start_bot
):
    server = await start_bot(backend_for(sim))
    # Two dumps are two files in one files_upload_v2: the bytes of the second are refused,
    # every time the SDK's server-error retry handler tries again.
    fake_slack.fail_next(UPLOAD, status=500, after=1, times=3)

    await fake_slack.send_slash_command(text=f"{COMMAND} count=2 interval=1s")
    await fake_slack.wait_for(told_requester, timeout=90)
    await server.shutdown()  # drained: what the requester was told is now final

    told = told_requester(fake_slack)
    assert len(told) == 1 and told[0].startswith("✖ the raw output could not be uploaded")
    assert "\n" not in told[0] and "Traceback" not in told[0]
    parent = await final_parent(fake_slack, "via *ephemeral*")
    assert "✖" not in parent  # the summary stays as it was
    assert [c.status for c in fake_slack.calls_to(UPLOAD)] == [200, 500, 500, 500]
    assert len(fake_slack.calls_to("files.getUploadURLExternal")) == 2
    assert fake_slack.calls_to("files.completeUploadExternal") == []
    assert not any(f.completed for f in fake_slack.files.values())
    assert_nothing_left(sim)


async def test_connection_dropped_mid_upload_keeps_the_summary_and_tells_the_requester_once(
    sim, fake_slack: FakeSlack, start_bot
):
    server = await start_bot(backend_for(sim))
    # The network drops the second file's POST, and the SDK's one reconnect attempt too.
    fake_slack.fail_next(UPLOAD, drop=True, after=1, times=2)

    await fake_slack.send_slash_command(text=f"{COMMAND} count=2 interval=1s")
    await fake_slack.wait_for(told_requester, timeout=90)
    await server.shutdown()  # drained: what the requester was told is now final

    told = told_requester(fake_slack)
    assert len(told) == 1 and told[0].startswith("✖ the raw output could not be uploaded")
    parent = await final_parent(fake_slack, "via *ephemeral*")
    assert "✖" not in parent  # not replaced by "internal error"
    assert [c.status for c in fake_slack.calls_to(UPLOAD)] == [200, 0, 0]
    assert fake_slack.calls_to("files.completeUploadExternal") == []
    assert_nothing_left(sim)


async def test_complete_upload_failing_keeps_the_summary_and_tells_the_requester_once(
    sim, fake_slack: FakeSlack, start_bot
):
    server = await start_bot(backend_for(sim))
    fake_slack.fail_next("files.completeUploadExternal", status=500, times=3)

    await fake_slack.send_slash_command(text=COMMAND)
    await fake_slack.wait_for(told_requester, timeout=90)
    await server.shutdown()  # drained: what the requester was told is now final

    assert told_requester(fake_slack) == [
        "✖ Slack refused the raw output (fatal_error); try again, or ask an admin to check "
        "jdebug's log."
    ]
    parent = await final_parent(fake_slack, "via *ephemeral*")
    assert "✖" not in parent
    assert [c.status for c in fake_slack.calls_to("files.completeUploadExternal")] == [500] * 3
    assert [c.status for c in fake_slack.calls_to(UPLOAD)] == [200]
    assert_nothing_left(sim)


async def test_api_server_429s_for_a_while_still_post_the_real_dump(
    sim, fake_slack: FakeSlack, start_bot
):
    server = await start_bot(backend_for(sim))
    sim.faults.add(429, verb="get", resource="pods", name="cowweb", retry_after=1, times=2)
    sim.faults.add(429, subresource="ephemeralcontainers", retry_after=1, times=1, body="text")

    await fake_slack.send_slash_command(text=COMMAND)
    files = await fake_slack.wait_for(
        lambda s: [f for f in s.files.values() if f.completed], timeout=90
    )
    await server.shutdown()  # drained: nothing more is said or run after this

    dump = (files[0].data or b"").decode()
    assert "Full thread dump" in dump and '"barn-door-holder"' in dump
    gets = sim.faults.seen(verb="get", resource="pods", subresource="", name="cowweb")
    assert [s.status for s in gets[:3]] == [429, 429, 0]
    patches = sim.faults.seen(verb="patch", subresource="ephemeralcontainers")
    assert [s.status for s in patches] == [429, 0]
    assert told_requester(fake_slack) == []
    assert_nothing_left(sim)


@pytest.mark.parametrize("status", [500, 429])
async def test_api_server_failing_beyond_the_retries_ends_the_parent_in_one_sentence(
    sim, fake_slack: FakeSlack, start_bot, status
):
    server = await start_bot(backend_for(sim))
    sim.faults.add(status, subresource="ephemeralcontainers", retry_after=1)

    await fake_slack.send_slash_command(text=COMMAND)
    parent = await final_parent(fake_slack, "✖")
    await server.shutdown()

    (error,) = [line for line in parent.splitlines() if line.startswith("✖")]
    assert error.startswith("✖ the Kubernetes API server ")
    assert "add an ephemeral container to apps/cowweb" in error and "try again" in error
    assert "Traceback" not in parent
    patches = sim.faults.seen(verb="patch", subresource="ephemeralcontainers")
    assert [s.status for s in patches] == [status] * (1 if status == 500 else 3)
    assert fake_slack.files == {}
    assert_nothing_left(sim)


async def test_a_stopped_jvm_ends_the_parent_in_one_sentence_and_is_left_as_found(
    sim, fake_slack: FakeSlack, start_bot, jvm_pod
):
    pod, jvm = jvm_pod()
    server = await start_bot(
        backend_for(sim, debug_image="jdebug.local/jdebug-debug:latest"), step_deadline_seconds=30
    )
    os.kill(jvm, signal.SIGSTOP)
    try:
        await fake_slack.send_slash_command(text=f"threaddump pod={pod} ns=apps")
        parent = await final_parent(fake_slack, "✖")
        await server.shutdown()
    finally:
        os.kill(jvm, signal.SIGCONT)

    (error,) = [line for line in parent.splitlines() if line.startswith("✖")]
    assert "the JVM did not answer the attach handshake in time" in error
    assert "hung or stuck in a long safepoint" in error
    assert fake_slack.files == {}
    assert_nothing_left(sim, "apps", pod, jvm)


async def test_an_unpullable_debug_image_ends_the_parent_naming_it(
    sim, fake_slack: FakeSlack, start_bot
):
    server = await start_bot(backend_for(sim, debug_image="registry.invalid/jdebug/nope:1"))

    await fake_slack.send_slash_command(text=COMMAND)
    parent = await final_parent(fake_slack, "✖")
    await server.shutdown()

    (error,) = [line for line in parent.splitlines() if line.startswith("✖")]
    assert error.startswith("✖ the debug image registry.invalid/jdebug/nope:1 could not be pulled")
    assert "set JDEBUG_DEBUG_IMAGE to the mirror" in error
    assert fake_slack.files == {}
    assert_nothing_left(sim)
