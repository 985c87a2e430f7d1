"""Nothing secret reaches Slack: sysprops, jps and flags of a JVM started with passwords,
tokens and credentialed URLs are posted (summary and snippets) without them."""

from __future__ import annotations

import pytest

from tests.fakeslack import FakeSlack
from tests.slack.conftest import RecordingBackend, StartBot
from tests.test_redaction_in_results import JVM_ARGS, SECRETS


@pytest.mark.parametrize("tool", ["sysprops", "jps", "flags"])
async def test_posted_outputs_carry_no_secrets(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory, tool: str
) -> None:
    jvm = cowweb_factory(25, jvm_args=JVM_ARGS)
    await start_bot(RecordingBackend())
    await fake_slack.send_slash_command(text=f"{tool} pid={jvm.pid}")
    files = await fake_slack.wait_for(
        lambda s: [f for f in s.files.values() if f.completed], timeout=30
    )
    (parent,) = fake_slack.top_level_messages()
    await fake_slack.wait_for(lambda s: "via" in str(s.messages[parent.ts].blocks), timeout=10)
    posted = "".join((f.data or b"").decode() for f in files)
    posted += str(fake_slack.messages[parent.ts].blocks) + fake_slack.messages[parent.ts].text
    assert posted.strip()
    for secret in SECRETS:
        assert secret not in posted, f"{secret} reached Slack via {tool}"
    if tool != "flags":
        assert "redacted" in str(fake_slack.messages[parent.ts].blocks)
