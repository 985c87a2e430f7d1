"""The parent message and its thread, through the real slack_sdk against the fake Slack:
raw outputs go up as a snippet (≤ 1 MB), a plain file, or gzip by size, always into the
parent's thread; progress edits are coalesced and never overtake the final one.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib

from bot.access.audit import OutputDigest, digest
from bot.report.snippets import Snippet
from handlers.slack.thread import GZIP_ABOVE, SNIPPET_LIMIT, SlackThread
from tests.fakeslack import DEFAULT_CHANNEL, FakeSlack
from tests.slack.conftest import running_tasks


async def test_outputs_go_up_as_snippet_plain_file_or_gzip_by_their_utf8_size(
    fake_slack: FakeSlack,
) -> None:
    thread = SlackThread(fake_slack.client(), DEFAULT_CHANNEL)
    parent = await thread.post("jdebug threaddump", [])
    # One character short of the snippet limit in characters, but over it in UTF-8 bytes.
    multibyte = "x" * (SNIPPET_LIMIT - 1) + "é"
    big = '"worker-ä" #1 prio=5\n   java.lang.Thread.State: RUNNABLE\n' * (GZIP_ABOVE // 40)
    small = "Full thread dump OpenJDK 64-Bit Server VM\n" * 1000
    snippets = [
        Snippet("td-1.txt", "dump 1", small),
        Snippet("td-2.txt", "dump 2", multibyte),
        Snippet("td-3.txt", "dump 3", big),
    ]

    shared = await thread.upload(snippets)

    assert shared == 3
    files = {f.title: f for f in fake_slack.files_in_thread(parent)}
    assert files["dump 1"].snippet_type == "text" and files["dump 1"].text == small
    assert files["dump 2"].snippet_type is None and files["dump 2"].text == multibyte
    gz = files["dump 3 (gzip)"]
    assert gz.filename == "td-3.txt.gz" and gz.snippet_type is None
    assert gzip.decompress(gz.data or b"").decode() == big
    assert all(f.channel == DEFAULT_CHANNEL for f in files.values())


async def test_follow_up_files_go_to_the_root_of_the_thread_not_the_reply(
    fake_slack: FakeSlack,
) -> None:
    root = await SlackThread(fake_slack.client(), DEFAULT_CHANNEL).post("parent", [])
    follow_up = SlackThread(fake_slack.client(), DEFAULT_CHANNEL, root_ts=root)
    reply = await follow_up.post("again", [])

    await follow_up.upload([Snippet("td.txt", "dump", "text")])

    assert fake_slack.messages[reply].thread_ts == root
    (uploaded,) = fake_slack.files.values()
    assert uploaded.thread_ts == root


async def test_progress_edits_are_coalesced_to_the_latest_and_spaced(
    fake_slack: FakeSlack,
) -> None:
    before = running_tasks()
    thread = SlackThread(fake_slack.client(), DEFAULT_CHANNEL, min_interval_s=0.5)
    ts = await thread.post("posted", [])

    for status in ("resolving", "starting", "running"):
        thread.show(status, [])
    await fake_slack.wait_for(lambda s: s.messages[ts].update_count == 1, timeout=3)
    thread.show("analysing", [])
    thread.show("still analysing", [])
    await thread.finish("done", [])
    await thread.close()
    # Drained: every task the thread started has ended, so no dropped edit can still land.
    async with asyncio.timeout(5):
        while not running_tasks() <= before:
            await asyncio.sleep(0.01)

    message = fake_slack.messages[ts]
    assert [v.text for v in message.history] == ["posted", "running"]
    assert message.text == "done"
    assert message.history[0].at - message.posted_at >= 0.5


async def test_final_edit_waits_for_a_progress_edit_already_on_the_wire(
    fake_slack: FakeSlack,
) -> None:
    thread = SlackThread(fake_slack.client(), DEFAULT_CHANNEL, min_interval_s=0.1)
    ts = await thread.post("posted", [])
    fake_slack.delay("chat.update", 0.4)

    thread.show("running", [])
    await asyncio.sleep(0.2)  # the progress edit is now in flight, slowly
    fake_slack.delay("chat.update", 0)  # a final edit sent now would land first
    await thread.finish("done", [])

    message = fake_slack.messages[ts]
    assert message.text == "done"
    assert [v.text for v in message.history] == ["posted", "running"]


async def test_the_audit_digest_is_that_of_the_bytes_uploaded(fake_slack: FakeSlack) -> None:
    thread = SlackThread(fake_slack.client(), DEFAULT_CHANNEL)
    parent = await thread.post("jdebug threaddump", [])
    # Several digest slices, with two-byte characters on both sides of every slice edge.
    text = '"worker-ä" #1 prio=5 é\n' * (GZIP_ABOVE // 20)

    await thread.upload([Snippet("td.txt", "dump", text)])

    (posted,) = fake_slack.files_in_thread(parent)
    data = gzip.decompress(posted.data or b"")
    assert digest("td.txt", text) == OutputDigest(
        "td.txt", len(data), hashlib.sha256(data).hexdigest()
    )
