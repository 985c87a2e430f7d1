"""Load: the real `jdebug serve` (a subprocess, default limits) against kubesim with ten
cowweb JVMs, taking 200 `/jdebug threaddump` commands from 20 users within a few seconds
over the fake Slack's Socket Mode. Every command is answered exactly once, with a result
(via real ephemeral containers) or the busy message; and nothing is left running. The
bot's peak RSS is recorded (`peak_rss_mb` in the JUnit properties, and printed) next to the
memory benchmark's goal; the benchmark (tests/bench/test_bench_slack.py) is what holds it.
Needs root (kubesim runs pods in Linux namespaces).
"""

from __future__ import annotations

import asyncio
import re
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import JdebugSettings
from kubesim import KubeSim
from tests.bench.test_bench_slack import current_rss_mb, peak_rss_mb
from tests.fakeslack import Ack, FakeSlack, Message, User
from tests.faults.leftovers import adopting_orphans, assert_nothing_left
from tests.slack.test_serve_process import clean_env
from tests.strategies.conftest import RBAC, needs_root, wait_until_all_running
from tests.support.bytecode import precompile
from tests.support.kube import admin_core_api

pytestmark = [needs_root, pytest.mark.load, pytest.mark.timeout(420)]

CLUSTER = Path(__file__).with_name("cluster.yaml")
PODS = [f"cow-{i}" for i in range(10)]
USERS = [f"U0LOAD{i:04d}" for i in range(20)]
SPREAD_S = 3.0  # the 200 commands are sent over this long
RSS_GOAL_MB = 150  # the goal tests/bench/test_bench_slack.py sets for `jdebug serve`
BUSY = re.compile(r"✖ jdebug is busy: .+; try again in \d+ s\.")
QUEUED = re.compile(r"\(queued, (\d+) ahead; ")
TITLE = re.compile(r"`threaddump pod=(cow-\d+) ns=load` · requested by <@(U\w+)>")


@pytest.fixture(scope="module")
def sim() -> Iterator[KubeSim]:
    # Orphaned agents or tools are adopted, so the leftover check below finds them too.
    with adopting_orphans(), KubeSim(manifests=[CLUSTER, RBAC]) as running:
        wait_until_all_running(running)
        yield running


def requested(message: Message) -> tuple[str, str] | None:
    """(user, pod) of a jdebug parent message, from its title line."""
    match = TITLE.search(str(message.blocks))
    return (match[2], match[1]) if match else None


async def send_spread(slack: FakeSlack) -> list[tuple[str, str, Ack]]:
    """Each user asks for a thread dump of each pod, all 200 within SPREAD_S seconds."""
    pairs = [(user, pod) for pod in PODS for user in USERS]

    async def one(n: int, user: str, pod: str) -> tuple[str, str, Ack]:
        await asyncio.sleep(SPREAD_S * n / len(pairs))
        # Slack's 3 s deadline holds under load too: a late ack fails the command.
        ack = await slack.send_slash_command(text=f"threaddump pod={pod} ns=load", user_id=user)
        return user, pod, ack

    return await asyncio.gather(*(one(n, u, p) for n, (u, p) in enumerate(pairs)))


async def test_200_commands_from_20_users_are_each_answered_once_and_leave_nothing_running(
    sim: KubeSim, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    async with FakeSlack(users=[User(id=u, name=u.lower()) for u in USERS]) as slack:
        env = clean_env(
            SLACK_API_URL=slack.api_url,
            SLACK_BOT_TOKEN=slack.bot_token,
            SLACK_APP_TOKEN=slack.app_token,
            JDEBUG_ALLOWED_USERS=",".join(USERS),
            JDEBUG_KUBECONFIG=str(sim.kubeconfig("jdebug/jdebug")),
            JDEBUG_STRATEGIES="ephemeral",
            JDEBUG_DEBUG_IMAGE="jdebug.local/jdebug-debug:latest",
            JDEBUG_HEALTH_PORT="0",
            JDEBUG_LOG_FORMAT="json",
            JDEBUG_SHUTDOWN_GRACE_SECONDS="60",
        )
        precompile(env, tmp_path / "pycache")
        log_path = tmp_path / "serve.log"
        with log_path.open("wb") as log:
            bot = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "handlers", "serve", env=env, cwd=tmp_path, stderr=log
            )
        try:
            await slack.wait_for_connections(timeout=60)
            idle_mb = current_rss_mb(bot.pid)
            started = time.monotonic()
            sent = await send_spread(slack)
            sent_s = time.monotonic() - started
            working = {(u, p) for u, p, a in sent if "Working on" in ack_text(a)}
            busy = {(u, p) for u, p, a in sent if BUSY.fullmatch(ack_text(a))}
            assert len(working) + len(busy) == len(sent) == 200, Counter(
                ack_text(a)[:40] for _, _, a in sent
            )
            assert working and busy
            # The queue never grew past its bound: no ack names more waiting than allowed.
            ahead = [int(m[1]) for _, _, a in sent if (m := QUEUED.search(ack_text(a)))]
            assert (
                ahead and max(ahead) < JdebugSettings.model_fields["max_waiting_requests"].default
            )

            def ended(s: Any) -> list[Message] | None:
                """Parents with their result uploaded, or ended in an error."""
                done = [
                    m
                    for m in s.top_level_messages()
                    if s.files_in_thread(m.ts) or m.text.startswith("jdebug: ✖")
                ]
                return done if len(done) >= len(working) else None

            await slack.wait_for(ended, timeout=240)
            wall_s = time.monotonic() - started
            failed = [m.text for m in slack.top_level_messages() if not slack.files_in_thread(m.ts)]
            assert failed == [], "every admitted command ends in a result"
            parents = [requested(m) for m in slack.top_level_messages()]
            assert Counter(parents) == Counter(working), "one result per admitted command"
            assert slack.responses == [], "nothing else was said to anyone"
            for message in slack.top_level_messages():
                assert "via *ephemeral*" in str(message.blocks), message.text

            peak_mb = peak_rss_mb(bot.pid)
            bot.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(bot.wait(), timeout=90) == 0
        finally:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()

    assert_nothing_left_running(sim)
    latencies = [a.elapsed for _, _, a in sent]
    record_property("peak_rss_mb", round(peak_mb, 1))
    print(
        f"\nload: {len(sent)} commands in {sent_s:.1f} s; {len(working)} ran, {len(busy)} busy,"
        f" at most {max(ahead)} waiting ahead;"
        f" all answered after {wall_s:.1f} s; ack p50 {statistics.median(latencies) * 1000:.0f}"
        f" ms, max {max(latencies) * 1000:.0f} ms; RSS idle {idle_mb:.1f} MB, peak"
        f" {peak_mb:.1f} MB (goal {RSS_GOAL_MB} MB, held by the benchmark)"
    )


def ack_text(ack: Ack) -> str:
    return str((ack.payload or {}).get("text", ""))


def assert_nothing_left_running(sim: KubeSim) -> None:
    """Debug containers ran, and every one has terminated; for each JVM, nothing else is
    left either (no debug pod, process or attach trigger: tests/faults/leftovers.py)."""
    pods = admin_core_api(sim).list_namespaced_pod("load").items
    assert sum(len(p.spec.ephemeral_containers or []) for p in pods) > 0
    still_running = [
        f"{pod.metadata.name}/{status.name}"
        for pod in pods
        for status in pod.status.ephemeral_container_statuses or []
        if status.state.terminated is None
    ]
    assert still_running == []
    for name in PODS:
        assert_nothing_left(sim, "load", name)
