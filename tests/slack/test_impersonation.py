"""Impersonation end to end: a slash command in the fake Slack runs, through the real bot, as
the requester's own Kubernetes identity in kubesim, with deploy/'s impersonation component
granting jdebug `impersonate`. The cluster's RBAC decides per person: alice gets a real thread
dump, bob is refused naming his missing permission, someone unmapped never reaches the cluster.
Needs root (kubesim runs the JVM in Linux namespaces)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from bot.kube.api import KubeApi
from bot.kube.backend import KubeBackend
from bot.kube.strategies.context import KubeSettings
from kubesim import KubeSim
from tests.fakeslack import FakeSlack
from tests.fakeslack.records import User
from tests.fakeslack.scopes import manifest_scopes
from tests.slack.conftest import ALICE, BOB, StartBot, final_answer, wait_until_idle
from tests.slack.conftest import CAROL as CAROL_ID
from tests.strategies.conftest import wait_until_all_running

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="kubesim needs root for namespaces")

HERE = Path(__file__).parent
REPO = HERE.parents[1]
PEOPLE = HERE / "manifests" / "impersonation.yaml"
COMPONENT_RBAC = REPO / "deploy" / "components" / "impersonation" / "rbac.yaml"
CAROL = User(id=CAROL_ID, name="carol", email="carol@example.com")
DAVE = User(id="U0DAVE0004", name="dave", email=None)  # no e-mail Slack will show
COMMAND = "threaddump pod=cowweb ns=apps"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    """The people, the bot's base RBAC, and the shipped impersonation component with its
    REPLACE-ME names set to alice, bob and the group sre (never carol)."""
    grants = [d for d in yaml.safe_load_all(COMPONENT_RBAC.read_text()) if d]
    role = next(d for d in grants if d["kind"] == "ClusterRole")
    for rule in role["rules"]:
        names = {"users": ["alice@example.com", "bob@example.com"], "groups": ["sre"]}
        rule["resourceNames"] = names[rule["resources"][0]]
    component = tmp_path_factory.mktemp("deploy") / "impersonation.yaml"
    component.write_text(yaml.safe_dump_all(grants))
    rbac = REPO / "deploy" / "base" / "rbac.yaml"
    with KubeSim(manifests=[PEOPLE, rbac, component]) as running:
        wait_until_all_running(running)
        yield running


def bot_backend(sim: KubeSim) -> KubeBackend:
    """jdebug's own ServiceAccount, exactly as deployed: its identity is the bot's."""
    api = KubeApi.from_kubeconfig(str(sim.kubeconfig("jdebug/jdebug")))
    return KubeBackend(api, KubeSettings(default_namespace="apps", node_namespace="jdebug"))


def write_table(folder: Path) -> Path:
    table = folder / "identities.yaml"
    table.write_text(
        yaml.safe_dump(
            {
                "users": {
                    ALICE: {"user": "alice@example.com", "groups": ["sre"]},
                    BOB: {"user": "bob@example.com"},
                    CAROL.id: {"user": "carol@example.com"},
                }
            }
        )
    )
    return table


def cluster_calls(logs: list[dict[str, Any]]) -> list[str]:
    """kubesim's request log lines for anything a diagnostic would touch (not the janitor's
    lease and pod sweeps in jdebug's own namespace)."""
    return [
        f"{r['method']} {r['path']}"
        for r in logs
        if r.get("event") == "request" and "/namespaces/jdebug/" not in r["path"]
    ]


async def test_each_person_is_judged_by_their_own_kubernetes_rights(
    sim: KubeSim, fake_slack: FakeSlack, start_bot: StartBot, tmp_path: Path
) -> None:
    fake_slack.add_user(CAROL)
    await start_bot(
        backend=bot_backend(sim),
        impersonation="table",
        impersonation_table=write_table(tmp_path),
        allowed_users=(ALICE, BOB, CAROL.id),
    )
    # alice: the rights to add a debug container, so she gets the real thread dump.
    await fake_slack.send_slash_command(text=COMMAND, user_id=ALICE)
    files = await fake_slack.wait_for(
        lambda s: [f for f in s.files.values() if f.completed], timeout=120
    )
    dump = (files[0].data or b"").decode()
    assert '"barn-door-holder"' in dump and "Full thread dump" in dump
    assert "via *ephemeral*" in await final_answer(fake_slack, ALICE)

    # bob, asked after alice by the same bot: the cached answers were alice's, not his.
    await fake_slack.send_slash_command(text=COMMAND, user_id=BOB)
    told = await final_answer(fake_slack, BOB)
    assert "patch pods/ephemeralcontainers" in told
    assert 'as Kubernetes user "bob@example.com"' in told
    assert len([f for f in fake_slack.files.values() if f.completed]) == 1

    # carol has the rights, but jdebug may not act as her: the API server says so.
    await fake_slack.send_slash_command(text=COMMAND, user_id=CAROL.id)
    told = await final_answer(fake_slack, CAROL.id)
    assert (
        'users "carol@example.com" is forbidden: User "system:serviceaccount:jdebug:jdebug" '
        'cannot impersonate resource "users" in API group "" at the cluster scope'
    ) in told
    assert "jdebug-impersonate" in told  # the fix names the ClusterRole to extend


async def test_someone_without_an_identity_is_refused_before_any_kubernetes_call(
    sim: KubeSim, fake_slack: FakeSlack, start_bot: StartBot, tmp_path: Path
) -> None:
    fake_slack.add_user(DAVE)
    server = await start_bot(
        backend=bot_backend(sim),
        impersonation="table",
        impersonation_table=write_table(tmp_path),
        allowed_users=(DAVE.id,),
    )
    with structlog.testing.capture_logs() as logs:
        await fake_slack.send_slash_command(text=COMMAND, user_id=DAVE.id)
        told = await final_answer(fake_slack, DAVE.id)
        (audit,) = await fake_slack.wait_for(
            lambda _: [r for r in logs if r.get("event") == "audit"], timeout=10
        )
        # Drained (no permit held, nothing in flight) before asserting absence; the Kubernetes
        # backend's janitor starts tasks of its own, so tasks are not compared here.
        await wait_until_idle(server.service)
    assert audit["outcome"] == "denied" and audit["decision"] == "deny"
    assert audit["kube_user"] is None and audit["runs"] == ()
    assert "none in its impersonation table" in told
    assert DAVE.id in told and "Traceback" not in told
    assert cluster_calls(logs) == []
    assert fake_slack.top_level_messages() == []


# users.info, with e-mail: the scopes the manifest's comment tells admins to add for this mode.
@pytest.mark.slack_scopes(*manifest_scopes(impersonation=True))
async def test_email_mode_acts_as_the_slack_profile_email(
    sim: KubeSim, fake_slack: FakeSlack, start_bot: StartBot
) -> None:
    fake_slack.add_user(DAVE)
    await start_bot(
        backend=bot_backend(sim), impersonation="email", allowed_users=(ALICE, BOB, DAVE.id)
    )
    with structlog.testing.capture_logs() as logs:
        await fake_slack.send_slash_command(text=COMMAND, user_id=BOB)
        told = await final_answer(fake_slack, BOB)
        audits = await fake_slack.wait_for(
            lambda _: [r for r in logs if r.get("event") == "audit"], timeout=10
        )
    assert [a["kube_user"] for a in audits] == ["bob@example.com"]
    assert [c.params.get("user") for c in fake_slack.calls_to("users.info")] == [BOB]
    assert 'as Kubernetes user "bob@example.com"' in told
    acting = [r for r in logs if r.get("event") == "request" and r.get("impersonated")]
    assert acting and {r["impersonated"] for r in acting} == {"bob@example.com"}

    await fake_slack.send_slash_command(text=COMMAND, user_id=DAVE.id)
    told = await final_answer(fake_slack, DAVE.id)
    assert "e-mail" in told and "users:read.email" in told

    await fake_slack.send_slash_command(text=COMMAND, user_id=ALICE)
    files = await fake_slack.wait_for(
        lambda s: [f for f in s.files.values() if f.completed], timeout=120
    )
    assert "Full thread dump" in (files[0].data or b"").decode()
