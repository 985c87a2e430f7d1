"""Limits seen from Slack: beyond a bound the requester alone reads "jdebug is busy … try
again in N s", nothing runs for that request, others go on, and buttons are limited alike."""

from __future__ import annotations

import re

from handlers.slack.blocks import AGAIN_ACTION
from tests.fakeslack import FakeSlack
from tests.slack.conftest import (
    ALICE,
    BOB,
    CAROL,
    RecordingBackend,
    StartBot,
    log_records,
    wait_until_idle,
)
from tests.slack.test_socket_mode import GatedBackend, wait_for_files

BUSY = re.compile(r"✖ jdebug is busy: .+; try again in (\d+) s\.")


def busy_wait(text: str) -> int:
    """N from a busy answer; fails the test if `text` is not one."""
    match = BUSY.fullmatch(text)
    assert match, f"not a busy answer: {text!r}"
    return int(match[1])


async def test_a_user_beyond_their_concurrent_requests_is_told_to_wait_and_nothing_runs(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory, json_logs
) -> None:
    jvm = cowweb_factory(25)
    backend = GatedBackend()
    server = await start_bot(
        backend, allowed_users=(ALICE, BOB), max_requests_per_user=1, max_concurrent_requests=2
    )
    first = await fake_slack.send_slash_command(text=f"version pid={jvm.pid}")
    second = await fake_slack.send_slash_command(text=f"flags pid={jvm.pid}")
    other = await fake_slack.send_slash_command(text=f"flags pid={jvm.pid}", user_id=BOB)

    assert first.payload is not None and "Working on" in first.payload["text"]
    assert other.payload is not None and "Working on" in other.payload["text"]
    assert (
        second.payload is not None
        and "you already have 1 request under way" in (second.payload["text"])
    )
    assert busy_wait(second.payload["text"]) >= 1
    backend.gate.set()
    await wait_for_files(fake_slack, 2)
    assert sorted((r.requester.user, r.tool) for r in backend.ran) == [
        (ALICE, "version"),
        (BOB, "flags"),
    ]
    audits = [r for r in log_records(json_logs) if r.get("event") == "audit"]
    (refused,) = [a for a in audits if a["decision"] == "deny"]
    assert refused["user"] == ALICE and refused["reason"].startswith("busy: ")
    assert refused["outcome"] == "busy" and refused["runs"] == []
    await wait_until_idle(server.service, timeout=10)


async def test_waiting_requests_never_exceed_the_bound(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    backend = GatedBackend()
    server = await start_bot(
        backend,
        allowed_users=(ALICE, BOB, CAROL),
        max_concurrent_requests=1,
        max_waiting_requests=1,
    )
    acks = [
        await fake_slack.send_slash_command(text=f"version pid={jvm.pid}", user_id=user)
        for user in (ALICE, BOB, CAROL)
    ]
    texts = [a.payload["text"] for a in acks if a.payload is not None]
    assert "Working on" in texts[0] and "queued, 0 ahead" in texts[1]
    assert "1 requests are running and 1 are waiting" in texts[2]
    busy_wait(texts[2])
    limits = server.core.limits()
    assert server.service.limiter.admitted == limits.admitted
    backend.gate.set()
    await wait_for_files(fake_slack, 2)
    assert [r.requester.user for r in backend.ran] == [ALICE, BOB]
    await wait_until_idle(server.service, timeout=10)
    late = await fake_slack.send_slash_command(text=f"version pid={jvm.pid}", user_id=CAROL)
    assert late.payload is not None and "Working on" in late.payload["text"]
    await wait_for_files(fake_slack, 3)


async def test_a_button_click_goes_through_the_same_limits(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    backend = RecordingBackend()
    server = await start_bot(backend, user_requests_per_minute=1)
    await fake_slack.send_slash_command(text=f"version pid={jvm.pid}")
    await wait_for_files(fake_slack, 1)
    (parent,) = fake_slack.top_level_messages()
    ran = len(backend.ran)
    await fake_slack.click_button(parent.ts, AGAIN_ACTION)
    (answer,) = await fake_slack.wait_for(lambda s: s.responses, timeout=10)
    assert answer.user_id == ALICE and answer.ephemeral
    assert "in the last minute" in answer.text
    assert busy_wait(answer.text) >= 1
    await server.shutdown()  # drained: a run the click started would have ended by now
    assert len(backend.ran) == ran and fake_slack.replies(parent.ts) == []
