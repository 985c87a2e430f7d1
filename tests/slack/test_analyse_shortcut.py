"""The "Analyse with jdebug" message shortcut through the real Bolt app and the fake Slack: a
pasted dump, a shared dump file and a .jfr are answered in that message's thread; nothing
runs against a cluster; bad input gets one sentence. Expected answers come from reading the
corpus files (Samurai's HighCPUExample holds three dumps in which `high-cpu` gains about a
second of CPU a second) and from JDK 25's own `jfr view hot-methods` on the recording."""

from __future__ import annotations

from pathlib import Path

from handlers.slack.analyse import CALLBACK_ID, NOTHING
from tests.fakeslack import FakeSlack
from tests.fakeslack.scopes import manifest_scopes
from tests.slack.conftest import RecordingBackend, StartBot, all_text, bot_settings
from tests.support.jfr_tool import view_rows

CORPUS = Path(__file__).parents[1] / "jvm" / "corpus"
HIGH_CPU = CORPUS / "samurai" / "HighCPUExample-liberica11.txt"
RECORDING = CORPUS / "jthreaddump" / "cpu-hotspot.jfr"


async def answer_in_thread(slack: FakeSlack, ts: str) -> str:
    (reply,) = await slack.wait_for(lambda s: s.replies(ts), timeout=60)
    return all_text(reply)


async def test_a_pasted_dump_is_summarised_in_its_thread(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    backend = RecordingBackend()
    await start_bot(backend)
    message = fake_slack.add_user_message(HIGH_CPU.read_text())

    ack = await fake_slack.send_message_shortcut(CALLBACK_ID, message.ts)

    assert ack.elapsed < 3.0
    text = await answer_in_thread(fake_slack, message.ts)
    assert "jdebug analyse" in text and "pasted text" in text
    assert "high-cpu" in text
    assert backend.ran == []  # nothing reached a cluster or a JVM


async def test_a_shared_dump_file_and_a_recording_are_read_with_files_read(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    await start_bot()
    dump = fake_slack.add_user_message("here", files=(("jstack.txt", HIGH_CPU.read_bytes()),))
    jfr = fake_slack.add_user_message("and", files=(("app.jfr", RECORDING.read_bytes()),))
    top_method = view_rows(RECORDING, "hot-methods")[0][0]

    await fake_slack.send_message_shortcut(CALLBACK_ID, dump.ts)
    await fake_slack.send_message_shortcut(CALLBACK_ID, jfr.ts)

    assert "high-cpu" in await answer_in_thread(fake_slack, dump.ts)
    assert top_method in await answer_in_thread(fake_slack, jfr.ts)
    files = await fake_slack.wait_for(lambda s: s.files_in_thread(jfr.ts) or None, timeout=60)
    assert any(f.filename.endswith("flame.png") for f in files)


async def test_bad_input_gets_one_sentence_and_no_traceback(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    await start_bot()
    garbage = bytes(range(256)) * 64
    binary = fake_slack.add_user_message("?", files=(("core.bin", garbage),))
    empty = fake_slack.add_user_message("")

    await fake_slack.send_message_shortcut(CALLBACK_ID, binary.ts)
    await fake_slack.send_message_shortcut(CALLBACK_ID, empty.ts)

    said = await answer_in_thread(fake_slack, binary.ts)
    assert "Traceback" not in said and "core.bin" in said
    told = await fake_slack.wait_for(lambda s: s.responses or None, timeout=30)
    assert [r.text for r in told] == [NOTHING]


async def test_without_files_read_the_refusal_names_the_scope() -> None:
    scopes = tuple(s for s in manifest_scopes() if s != "files:read")
    async with FakeSlack(scopes=scopes) as slack:
        from bot.session.backends import Backends
        from handlers.slack.app import BotServer

        core, settings = bot_settings(slack)
        server = BotServer(core, settings, Backends(RecordingBackend(), {}))
        await server.start()
        try:
            await slack.wait_for_connections()
            shared = slack.add_user_message("x", files=(("jstack.txt", HIGH_CPU.read_bytes()),))
            await slack.send_message_shortcut(CALLBACK_ID, shared.ts)
            told = await slack.wait_for(lambda s: s.responses or None, timeout=30)
        finally:
            await server.shutdown()
    assert told[0].text == (
        "✖ jdebug may not read jstack.txt: give the Slack app the files:read scope and "
        "reinstall it."
    )
