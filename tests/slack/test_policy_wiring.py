"""With a policy file, it decides every Slack request: allowed users run, others get one
sentence naming the contact (audited, nothing runs), and edits apply without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.fakeslack import FakeSlack
from tests.slack.conftest import (
    ALICE,
    BOB,
    RecordingBackend,
    StartBot,
    log_records,
    running_tasks,
    wait_until_idle,
)
from tests.slack.test_serve_process import clean_env, serve_sync

REPO = Path(__file__).resolve().parents[2]

POLICY = """\
contact: "#platform-oncall"
rules:
  - name: alice-reads-apps
    subjects: {{users: [{user}]}}
    namespaces: ["apps"]
    tools: [read-only]
"""


async def test_policy_allows_the_named_user_and_denies_others_with_the_contact(
    fake_slack: FakeSlack, start_bot: StartBot, tmp_path: Path, json_logs
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(user=ALICE))
    backend = RecordingBackend()
    server = await start_bot(backend, policy_file=policy, allowed_users=())
    before = running_tasks()

    denied = await fake_slack.send_slash_command(text="flags pod=cowweb ns=apps", user_id=BOB)
    assert denied.payload is not None and "#platform-oncall" in denied.payload["text"]
    elsewhere = await fake_slack.send_slash_command(text="flags pod=cowweb ns=prod", user_id=ALICE)
    assert elsewhere.payload is not None and "#platform-oncall" in elsewhere.payload["text"]
    await wait_until_idle(server.service, before)  # drained: nothing can still start
    assert backend.resolved == [] and fake_slack.messages == {}
    audits = [r for r in log_records(json_logs) if r.get("event") == "audit"]
    assert [a["decision"] for a in audits] == ["deny", "deny"]
    assert all(a["reason"].startswith("policy:") for a in audits)

    allowed = await fake_slack.send_slash_command(text="flags pod=cowweb ns=apps", user_id=ALICE)
    assert allowed.payload is not None and "Working on" in allowed.payload["text"]


async def test_a_changed_policy_applies_without_restart(
    fake_slack: FakeSlack, start_bot: StartBot, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(user=ALICE))
    await start_bot(RecordingBackend(), policy_file=policy, policy_poll_seconds=1, allowed_users=())
    before = await fake_slack.send_slash_command(text="flags pod=cowweb ns=apps", user_id=BOB)
    assert before.payload is not None and "#platform-oncall" in before.payload["text"]

    policy.write_text(POLICY.format(user=BOB))
    for _ in range(40):
        await asyncio.sleep(0.25)
        after = await fake_slack.send_slash_command(text="version pod=cowweb ns=apps", user_id=BOB)
        if after.payload is not None and "Working on" in after.payload["text"]:
            return
    raise AssertionError("the edited policy was not applied")


def test_serve_with_an_invalid_policy_exits_2_naming_the_line(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "rules:\n  - subjects: {users: [U1]}\n    namespaces: ['*']\n    tools: [jstak]\n"
    )
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        SLACK_API_URL="http://127.0.0.1:9/api/",
        JDEBUG_POLICY_FILE=str(policy),
        JDEBUG_HEALTH_PORT="0",
    )
    proc = serve_sync(env, tmp_path)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("jdebug serve: policy file") and "line 4" in line
    assert "jstak" in line and "Traceback" not in proc.stderr


async def test_denial_names_the_contact_from_settings_when_the_file_has_none(
    fake_slack: FakeSlack, start_bot: StartBot, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(user=ALICE).replace('contact: "#platform-oncall"\n', ""))
    await start_bot(
        RecordingBackend(), policy_file=policy, policy_contact="<!subteam^S1|sre>", allowed_users=()
    )
    denied = await fake_slack.send_slash_command(text="flags pod=cowweb ns=apps", user_id=BOB)
    assert denied.payload is not None and "<!subteam^S1|sre>" in denied.payload["text"]
