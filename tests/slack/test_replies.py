"""What the requester alone sees: help, grammar errors, unknown targets and refusals are
ephemeral replies (the ack itself, or the response_url), never a channel message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.jvm.catalog import CATALOG
from tests.fakeslack import FakeSlack
from tests.slack.conftest import (
    ALICE,
    BOB,
    RecordingBackend,
    StartBot,
    captured_json_logs,
    log_records,
    running_tasks,
    wait_until_idle,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("help", "Usage: /jdebug"),
        ("", "Usage: /jdebug"),
        ("   ", "Usage: /jdebug"),
        ("help threaddump", "count=3 interval=5s"),
        ("threaddump pod=Bad_Name", "Bad_Name"),
        ("threadump pod=cowweb", "threaddump"),
        ("threaddump pod=cowweb count=99", "count=99"),
        ("flags -n prod cowweb", "ns="),
    ],
    ids=["help", "empty", "blank", "help-tool", "bad-name", "typo", "range", "kubectl-flag"],
)
async def test_help_and_grammar_errors_are_the_ack_itself_and_nothing_runs(
    fake_slack: FakeSlack, start_bot: StartBot, text: str, expected: str
) -> None:
    backend = RecordingBackend()
    server = await start_bot(backend)
    before = running_tasks()

    ack = await fake_slack.send_slash_command(text=text)
    await wait_until_idle(server.service, before)  # drained: nothing can still happen

    assert ack.elapsed < 3.0
    assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
    assert expected in ack.payload["text"]
    if not expected.startswith("Usage") and text.split()[0] != "help":
        assert ack.payload["text"].startswith("✖")
    assert backend.resolved == [] and backend.ran == []
    assert fake_slack.messages == {} and fake_slack.responses == []


async def test_full_help_lists_every_catalog_tool(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    await start_bot()
    ack = await fake_slack.send_slash_command(text="help")
    assert ack.payload is not None
    assert all(tool.name in ack.payload["text"] for tool in CATALOG)


async def test_unknown_pod_is_told_to_the_requester_only_and_nothing_runs(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    backend = RecordingBackend()
    server = await start_bot(backend)
    before = running_tasks()

    ack = await fake_slack.send_slash_command(text="flags pod=nosuchapp-xyz")
    told = await fake_slack.wait_for(lambda s: s.responses, timeout=10)
    await wait_until_idle(server.service, before)

    assert ack.payload is not None and "flags pod=nosuchapp-xyz" in ack.payload["text"]
    assert told[0].ephemeral and told[0].user_id == ALICE
    assert "nosuchapp-xyz" in told[0].text and told[0].text.startswith("✖")
    assert len(backend.resolved) == 1 and backend.ran == []
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_user_not_on_the_allow_list_is_denied_audited_and_nothing_runs(
    fake_slack: FakeSlack, start_bot: StartBot, json_logs, tmp_path: Path
) -> None:
    backend = RecordingBackend()
    audit_file = tmp_path / "audit.jsonl"
    server = await start_bot(backend, allowed_users=(ALICE,), audit_file=audit_file)
    before = running_tasks()

    ack = await fake_slack.send_slash_command(text="threaddump pod=cowweb", user_id=BOB)
    await wait_until_idle(server.service, before)

    assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
    assert BOB in ack.payload["text"] and "JDEBUG_ALLOWED_USERS" in ack.payload["text"]
    assert backend.resolved == [] and fake_slack.messages == {}
    (audit,) = [r for r in log_records(json_logs) if r.get("event") == "audit"]
    assert audit["user"] == BOB and audit["decision"] == "deny"
    assert audit["tool"] == "threaddump" and audit["target"] == "cowweb"
    assert audit["outcome"] == "denied" and audit["runs"] == [] and audit["schema"] == 1
    # The file gets the same record, one JSON line, with its time.
    (line,) = audit_file.read_text().splitlines()
    written = json.loads(line)
    assert written.pop("time") and {k: audit[k] for k in written} == written


async def test_denials_are_audited_even_when_the_log_level_hides_info(
    fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    await start_bot(allowed_users=(ALICE,))
    with captured_json_logs(level="error") as logs:
        await fake_slack.send_slash_command(text="flags pod=cowweb", user_id=BOB)
        records = log_records(logs)

    assert [r["decision"] for r in records if r.get("event") == "audit"] == ["deny"]
    assert not any(r.get("level") == "info" and r.get("event") != "audit" for r in records)


async def test_empty_allow_lists_deny_everyone(fake_slack: FakeSlack, start_bot: StartBot) -> None:
    backend = RecordingBackend()
    server = await start_bot(backend, allowed_users=(), allowed_channels=())
    before = running_tasks()

    ack = await fake_slack.send_slash_command(text="threaddump pod=cowweb", user_id=ALICE)
    await wait_until_idle(server.service, before)

    assert ack.payload is not None and "may not run jdebug" in ack.payload["text"]
    assert backend.resolved == []


async def test_a_denied_button_click_is_refused_ephemerally(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    backend = RecordingBackend()
    server = await start_bot(backend, allowed_users=(ALICE,))
    await fake_slack.send_slash_command(text=f"version pid={jvm.pid}")
    await fake_slack.wait_for(lambda s: s.files, timeout=20)
    (parent,) = fake_slack.top_level_messages()
    before = running_tasks()

    await fake_slack.click_button(parent.ts, "jdebug_run_flags", user_id=BOB)
    told = await fake_slack.wait_for(
        lambda s: [r for r in s.responses if r.user_id == BOB], timeout=10
    )
    await wait_until_idle(server.service, before)

    assert told[0].ephemeral and "may not run jdebug" in told[0].text
    assert [r.tool for r in backend.ran] == ["version"]
    assert fake_slack.replies(parent.ts) == []
