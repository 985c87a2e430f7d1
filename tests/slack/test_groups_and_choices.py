"""Slack user groups in the policy (a grant given only to a group lets its members in), and
one button per candidate when several JVMs match (each runs the same command with `pid=`)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.fakeslack import FakeSlack
from tests.slack.conftest import (
    ALICE,
    BOB,
    CAROL,
    RecordingBackend,
    StartBot,
    running_tasks,
    wait_until_idle,
)
from tests.slack.test_socket_mode import wait_for_files

ONCALL = "S0ONCALL01"
GROUP_POLICY = """\
contact: "#platform-oncall"
rules:
  - name: oncall-reads
    subjects: {groups: [S0ONCALL01]}
    namespaces: ["*"]
    tools: [read-only]
"""


async def test_a_grant_given_only_to_a_group_lets_its_members_in(
    fake_slack: FakeSlack, start_bot: StartBot, tmp_path: Path, cowweb_factory
) -> None:
    jvm = cowweb_factory(25)
    fake_slack.add_usergroup(ONCALL, [ALICE, CAROL])
    policy = tmp_path / "policy.yaml"
    policy.write_text(GROUP_POLICY)
    backend = RecordingBackend()
    server = await start_bot(backend, policy_file=policy, allowed_users=())
    before = running_tasks()

    member = await fake_slack.send_slash_command(text=f"version pid={jvm.pid}", user_id=ALICE)
    outsider = await fake_slack.send_slash_command(text=f"version pid={jvm.pid}", user_id=BOB)
    assert member.payload is not None and "Working on" in member.payload["text"]
    assert outsider.payload is not None and "#platform-oncall" in outsider.payload["text"]
    await wait_for_files(fake_slack, 1)
    await wait_until_idle(server.service, before)
    assert [r.requester.user for r in backend.ran] == [ALICE]
    # The members were asked of Slack, not guessed.
    asked = [c for c in fake_slack.calls if c.method == "usergroups.users.list"]
    assert asked and all(c.params.get("usergroup") == ONCALL for c in asked)


async def test_several_matching_jvms_come_with_one_button_each_that_runs_that_one(
    fake_slack: FakeSlack, start_bot: StartBot, cowweb_factory
) -> None:
    # A word only these two JVMs' command lines hold: other JVMs on this machine match no more.
    mark = f"jdebug-pick-{uuid.uuid4().hex[:8]}"
    first, second = (cowweb_factory(v, jvm_args=(f"-Dmark={mark}",)) for v in (21, 25))
    backend = RecordingBackend()
    server = await start_bot(backend)
    before = running_tasks()

    await fake_slack.send_slash_command(text=f"version pod={mark}")
    told = await fake_slack.wait_for(lambda s: s.responses, timeout=30)
    await wait_until_idle(server.service, before)
    answer = told[0]
    assert "JVMs match; pick one with pid=N" in answer.text
    buttons = [e for b in answer.blocks if b["type"] == "actions" for e in b["elements"]]
    commands = {json.loads(b["value"])["cmd"] for b in buttons}
    assert commands == {
        f"version pod={mark} pid={first.pid}",
        f"version pod={mark} pid={second.pid}",
    }
    assert all(b["action_id"].startswith("jdebug_run_pick_") for b in buttons)
