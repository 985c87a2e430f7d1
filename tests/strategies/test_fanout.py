"""`all` with selector=/deploy=: every matching pod answers on its own; one failing pod does
not hide the others; without `all` several pods are listed and nothing runs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from kubernetes import client, config

from bot.backends.protocols import Unavailable
from bot.local.strategy import LocalTarget
from bot.model.errors import AmbiguousTarget, JdebugError
from bot.session.run import map_each, run_each, run_request
from handlers.terminal import EXIT_FAILED, run_text
from kubesim import KubeSim
from tests.fakeslack import FakeSlack
from tests.fakeslack.fixtures import fake_slack
from tests.slack.conftest import ALICE, StartBot, audit_records, json_logs, start_bot
from tests.strategies.conftest import RBAC, backend_for, needs_root, request, wait_until_all_running
from tests.support.settings import terminal_service

__all__ = ["fake_slack", "json_logs", "start_bot"]  # fixtures this module's Slack test uses

pytestmark = needs_root
HERD = Path(__file__).parent / "manifests" / "herd.yaml"


@pytest.fixture(scope="module")
def sim():
    with KubeSim(manifests=[HERD, RBAC]) as running:
        wait_until_all_running(running)
        yield running


async def test_selector_all_answers_for_every_pod_and_isolates_the_failure(sim):
    outcomes = await run_each(request("version selector=app=herd ns=herd all"), backend_for(sim))
    assert [o.target for o in outcomes] == [f"herd/cow-{i}" for i in range(1, 6)]
    answered = {o.target: o.result for o in outcomes if o.result}
    assert set(answered) == {f"herd/cow-{i}" for i in range(1, 5)}
    assert "JDK 17" in answered["herd/cow-3"].raw.steps[0].text
    failed = [o for o in outcomes if o.error]
    assert [o.target for o in failed] == ["herd/cow-5"]
    assert "DisableAttachMechanism" in failed[0].error.message


async def test_deploy_all_follows_the_deployment_selector(sim):
    outcomes = await run_each(request("flags deploy=web ns=herd all"), backend_for(sim))
    assert len(outcomes) == 2 and all(o.result for o in outcomes)
    assert all(o.target.startswith("herd/web-") for o in outcomes)


async def test_deploy_without_all_lists_the_pods_and_runs_nothing(sim):
    with pytest.raises(AmbiguousTarget) as excinfo:
        await run_request(request("flags deploy=web ns=herd"), backend_for(sim))
    assert len(excinfo.value.choices) == 2


async def test_terminal_prints_one_answer_per_pod_and_the_failure(sim):
    out = io.StringIO()
    rc = await run_text(
        "version selector=app=herd ns=herd all",
        terminal_service(backend_for(sim)),
        out,
        err=io.StringIO(),
    )
    text = out.getvalue()
    assert rc == EXIT_FAILED
    assert "━━ jdebug version on 5 pods: 4 answered, 1 failed\n" in text
    assert text.count("┏ jdebug version") == 4
    assert "✖ herd/cow-5: " in text


async def test_slack_all_posts_one_parent_and_one_answer_per_pod_in_its_thread(
    sim, fake_slack: FakeSlack, start_bot: StartBot, json_logs
):
    await start_bot(backend_for(sim), allowed_users=(ALICE,))
    await fake_slack.send_slash_command(text="version selector=app=herd ns=herd all")

    def finished(ws):
        parents = [m for m in ws.messages.values() if m.thread_ts is None]
        return parents if parents and "pods:" in parents[0].text else None

    (parent,) = await fake_slack.wait_for(finished, timeout=120)
    assert "5 pods: 4 answered, 1 failed" in parent.text
    summary = json.dumps(parent.blocks)
    assert "herd/cow-5" in summary and "DisableAttachMechanism" in summary
    replies = await fake_slack.wait_for(
        lambda ws: len(ws.files_in_thread(parent.ts)) == 4 and ws.replies(parent.ts), timeout=60
    )
    assert sorted(r.text.split(" · ")[1].split(" ")[0] for r in replies) == [
        f"herd/cow-{i}" for i in range(1, 5)
    ]
    # Each pod's follow-up buttons aim at that pod, not at the whole selector again.
    buttons = [
        e["value"]
        for r in replies
        for b in r.blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons and not any("all" in json.loads(v)["cmd"].split() for v in buttons)
    files = fake_slack.files_in_thread(parent.ts)
    assert sum("JDK 17" in f.text for f in files) >= 1
    (audit,) = await audit_records(json_logs)
    assert audit["outcome"] == "failed" and len(audit["runs"]) == 5
    ok_runs = [r for r in audit["runs"] if r["outcome"] == "ok"]
    assert len(ok_runs) == 4 and all(r["debug_container"] and r["outputs"] for r in ok_runs)


def ephemeral_count(sim: KubeSim) -> int:
    api = client.CoreV1Api(config.new_client_from_config(str(sim.kubeconfig("admin"))))
    pods = api.list_namespaced_pod("herd").items
    return sum(len(p.spec.ephemeral_containers or []) for p in pods)


async def test_all_beyond_the_pod_bound_is_refused_before_anything_runs(sim):
    before = ephemeral_count(sim)
    with pytest.raises(JdebugError) as excinfo:
        await run_each(
            request("version selector=app=herd ns=herd all"), backend_for(sim), max_pods=3
        )
    assert "matches 5 pods" in excinfo.value.message and "at most 3" in excinfo.value.message
    assert ephemeral_count(sim) == before


class CrashingBackend:
    """Two pods: checking a strategy for `bad` hits a bug, for `good` says it cannot work."""

    async def resolve_all(self, req):
        return [(n, LocalTarget(n, match=n)) for n in ("bad", "good")]

    def strategies(self):
        return [self]

    name = "crashing"

    async def check(self, req, target):
        if target.match == "bad":
            raise RuntimeError("a bug")
        return Unavailable("cannot work here")


async def test_a_bug_in_one_pod_is_that_pods_error_and_the_others_still_answer():
    seen = []

    async def then(outcome):
        seen.append(outcome.target)
        return outcome

    outcomes = await map_each(request("version deploy=web ns=herd all"), CrashingBackend(), then)
    assert [o.target for o in outcomes] == ["bad", "good"] and sorted(seen) == ["bad", "good"]
    assert "internal error" in outcomes[0].error.message
    assert "cannot work here" in outcomes[1].error.message


async def test_slack_refusing_one_pods_reply_still_posts_the_rest_and_audits_every_run(
    sim, fake_slack: FakeSlack, start_bot: StartBot, json_logs
):
    await start_bot(backend_for(sim), allowed_users=(ALICE,))
    # The parent goes through; the first pod's reply is refused (twice: the SDK's retry).
    fake_slack.fail_next("chat.postMessage", error="msg_too_long", after=1)
    await fake_slack.send_slash_command(text="version selector=app=herd ns=herd all")
    (audit,) = await audit_records(json_logs, timeout=120)
    parent = next(m for m in fake_slack.messages.values() if m.thread_ts is None)
    assert "5 pods: 4 answered, 1 failed" in parent.text
    assert "could not be posted: msg_too_long" in json.dumps(parent.blocks)
    assert len(fake_slack.replies(parent.ts)) == 3
    assert len(audit["runs"]) == 5 and sum(r["outcome"] == "ok" for r in audit["runs"]) == 4
