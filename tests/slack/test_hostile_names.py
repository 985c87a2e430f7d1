"""Text the bot does not control never becomes a Slack mention or link. A real JVM whose jar
is `cow<!here>&<@U0BOB00002>.jar`, whose threads and system properties carry `<!here>`,
`<!channel>`, `<@U…>`, `<#C…>`, `<http://x|y>`, `&amp;` and `*_~`, and a user who types such
names, go through the real bot and the fake Slack, which records every mention Slack would
resolve (tests/fakeslack/mentions.py). The only one the bot intends is its `<@requester>`.

These cover the blocks, the fallback `text`, ephemeral replies, response_url posts, help and
the Home view.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.model.errors import JdebugError
from bot.model.request import Request, Requester
from bot.model.results import Analysis
from handlers.slack.blocks import error_message, progress_message, result_message
from tests.fakeslack import FakeSlack
from tests.slack.conftest import (
    ALICE,
    BOB,
    StartBot,
    all_text,
    final_answer,
    running_tasks,
    wait_until_idle,
)
from tests.slack.test_blocks import make_result
from tests.support.jvms import jdk_home

HERE = Path(__file__).parent
HOSTILE_SOURCE = HERE / "data" / "Hostile.java"
HOSTILE_JAR_NAME = "cow<!here>&<@U0BOB00002>.jar"
HOSTILE_THREADS = (
    "<!channel> ringer",
    "<@U0BOB00002> pinger",
    "<#C0OPS00001> linker",
    "<http://x|y> clicker",
    "&amp; *bold* _it_ ~gone~",
    "<!everyone>",
)
HOSTILE_PROPERTY = "-Djdebug.hostile=<!here> <@U0BOB00002> <http://evil.example|click> &amp;"
# The one mention the bot means: who asked.
INTENDED = (f"<@{ALICE}>",)


@dataclass(frozen=True)
class HostileJvm:
    pid: int
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def hostile_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("javac") is None or shutil.which("jar") is None:
        pytest.skip("javac and jar are needed to build the hostile JVM (make bootstrap)")
    build = tmp_path_factory.mktemp("hostile")
    subprocess.run(
        ["javac", "--release", "11", "-d", str(build / "classes"), str(HOSTILE_SOURCE)],
        check=True,
    )
    jar, classes = build / HOSTILE_JAR_NAME, str(build / "classes")
    subprocess.run(
        ["jar", "--create", "--file", str(jar), "--main-class", "Hostile", "-C", classes, "."],
        check=True,
    )
    return jar


@pytest.fixture
def hostile_jvm(hostile_jar: Path, tmp_path: Path) -> Iterator[HostileJvm]:
    log = tmp_path / "hostile.log"
    java = jdk_home(25) / "bin" / "java"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(java), "-Xmx32m", HOSTILE_PROPERTY, "-jar", str(hostile_jar), *HOSTILE_THREADS],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while "hostile ready" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the hostile JVM did not start: {log.read_text()}")
        time.sleep(0.05)
    try:
        yield HostileJvm(proc.pid, proc)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def unintended(slack: FakeSlack) -> list[tuple[str, str]]:
    """(raw, where) of every mention Slack would resolve but the requester's."""
    return [(m.raw, m.where) for m in slack.mentions_other_than(*INTENDED)]


async def run_to_the_end(slack: FakeSlack, start_bot: StartBot, text: str) -> str:
    """Run `/jdebug <text>` as Alice until the bot is idle again (the listener's task ended,
    no request in flight); return the text of the parent message."""
    server = await start_bot()
    before = running_tasks()
    await slack.send_slash_command(text=text, user_id=ALICE)
    await wait_until_idle(server.service, before, timeout=120)
    (parent,) = slack.top_level_messages()
    return all_text(parent)


# --- through the bot -----------------------------------------------------------------------


async def test_a_hostile_jar_name_mentions_nobody_in_the_result(
    fake_slack: FakeSlack, start_bot: StartBot, hostile_jvm: HostileJvm
) -> None:
    answer = await run_to_the_end(fake_slack, start_bot, f"version pid={hostile_jvm.pid}")

    assert f"pid {hostile_jvm.pid}" in answer
    assert unintended(fake_slack) == []


async def test_hostile_thread_names_mention_nobody_in_the_thread_dump_summary(
    fake_slack: FakeSlack, start_bot: StartBot, hostile_jvm: HostileJvm
) -> None:
    await run_to_the_end(fake_slack, start_bot, f"threaddump pid={hostile_jvm.pid}")

    # The text dump (and, from JDK 21, the JSON one beside it).
    (dump,) = [
        f for f in fake_slack.files.values() if f.completed and not f.filename.endswith(".json")
    ]
    assert "<!channel> ringer" in dump.text  # the raw output keeps the JVM's own bytes
    assert unintended(fake_slack) == []


async def test_hostile_system_properties_mention_nobody(
    fake_slack: FakeSlack, start_bot: StartBot, hostile_jvm: HostileJvm
) -> None:
    await run_to_the_end(fake_slack, start_bot, f"sysprops pid={hostile_jvm.pid}")

    assert unintended(fake_slack) == []


async def test_a_jvm_listing_with_a_hostile_jar_mentions_nobody(
    fake_slack: FakeSlack, start_bot: StartBot, hostile_jvm: HostileJvm
) -> None:
    await run_to_the_end(fake_slack, start_bot, "jps")

    assert unintended(fake_slack) == []


@pytest.mark.parametrize(
    "typed",
    [
        "threaddump pod=<!here>",
        "threaddump pod=cow<@U0BOB00002>",
        "flags pod=<http://x|y>",
        "<!channel>",
        "help <#C0OPS00001>",
    ],
    ids=["pod-here", "pod-user", "pod-link", "tool-channel", "help-channel-link"],
)
async def test_what_a_user_types_is_echoed_without_mentions(
    fake_slack: FakeSlack, start_bot: StartBot, typed: str
) -> None:
    server = await start_bot()
    before = running_tasks()

    ack = await fake_slack.send_slash_command(text=typed, user_id=ALICE)
    await wait_until_idle(server.service, before)

    assert ack.payload is not None and ack.refusal is None
    assert unintended(fake_slack) == []


async def test_help_shows_its_placeholders_as_typed(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    await start_bot()
    ack = await fake_slack.send_slash_command(text="help", user_id=ALICE)

    assert ack.payload is not None
    # `<name>` in mrkdwn is a Slack control sequence, not the word: help must escape it.
    assert unintended(fake_slack) == []


async def test_a_choice_of_jvms_listing_a_hostile_jar_mentions_nobody_on_the_response_url(
    fake_slack: FakeSlack, start_bot: StartBot, hostile_jvm: HostileJvm, cowweb_factory
) -> None:
    cowweb_factory(25)  # two JVMs at least: the bot must ask which, listing them
    server = await start_bot()
    before = running_tasks()

    await fake_slack.send_slash_command(text="threaddump", user_id=ALICE)
    told = await final_answer(fake_slack, ALICE)
    await wait_until_idle(server.service, before)

    assert "pid=" in told
    assert unintended(fake_slack) == []


async def test_the_home_view_after_hostile_requests_mentions_nobody(
    fake_slack: FakeSlack, start_bot: StartBot, hostile_jvm: HostileJvm
) -> None:
    await run_to_the_end(fake_slack, start_bot, f"version pid={hostile_jvm.pid}")
    fake_slack.mentions.clear()

    await fake_slack.send_event({"type": "app_home_opened", "user": ALICE, "tab": "home"})
    await fake_slack.wait_for(lambda s: ALICE in s.home_views, timeout=20)

    assert unintended(fake_slack) == []


async def test_a_button_click_reply_with_hostile_output_mentions_nobody(
    fake_slack: FakeSlack, start_bot: StartBot, hostile_jvm: HostileJvm
) -> None:
    await run_to_the_end(fake_slack, start_bot, f"version pid={hostile_jvm.pid}")
    (parent,) = fake_slack.top_level_messages()

    await fake_slack.click_button(parent.ts, "jdebug_run_flags", user_id=BOB)  # Bob: refused
    await fake_slack.wait_for(lambda s: [r for r in s.responses if r.user_id == BOB], timeout=20)

    assert unintended(fake_slack) == []


# --- the renderers, one by one ----------------------------------------------------------------

HOSTILE_TARGET = f"pid 4242 {HOSTILE_JAR_NAME}"


def _mentions(text: str) -> list[str]:
    from tests.fakeslack.mentions import mentions_in

    return [m.raw for m in mentions_in(text, "text") if m.raw not in INTENDED]


def test_every_fallback_text_escapes_what_the_jvm_wrote() -> None:
    request = Request("threaddump", requester=Requester("slack", ALICE))
    analysis = Analysis("2 threads <!channel>", ("waits on <@U0BOB00002>",), ())
    result = make_result(request, analysis, "dump", HOSTILE_TARGET)

    texts = {
        "result": result_message(result, ALICE)[0],
        "progress": progress_message(request, ALICE, f"attaching to {HOSTILE_TARGET}")[0],
        "error": error_message(request, ALICE, JdebugError(f"cannot attach to {HOSTILE_TARGET}"))[
            0
        ],
    }

    assert {name: _mentions(text) for name, text in texts.items()} == {
        "result": [],
        "progress": [],
        "error": [],
    }
