"""`python -m handlers serve` as a real process: health probes, SIGTERM draining, and the one
sentence it prints instead of starting when settings are missing or Slack refuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from tests.fakeslack import DEFAULT_CHANNEL, FakeSlack
from tests.slack.conftest import ALICE
from tests.support.jvms import REPO

# Variables a developer's shell may have that would change what `serve` does here.
_SCRUB = ("SLACK_", "JDEBUG_", "KUBECONFIG", "KUBERNETES_SERVICE_HOST")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_sync(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "handlers", "serve"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest_asyncio.fixture
async def spawned() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Bot processes started by a test; any still running afterwards is killed."""
    procs: list[asyncio.subprocess.Process] = []
    yield procs
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_sigterm_lets_the_running_command_finish_post_its_snippets_and_exit_0(
    fake_slack: FakeSlack, cowweb_factory, tmp_path: Path, spawned
) -> None:
    jvm = cowweb_factory(25, deadlock=True)
    health_port = free_port()
    log_path = tmp_path / "serve.log"
    env = clean_env(
        SLACK_API_URL=fake_slack.api_url,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        SLACK_APP_TOKEN=fake_slack.app_token,
        JDEBUG_ALLOWED_USERS=ALICE,
        JDEBUG_HEALTH_PORT=str(health_port),
        JDEBUG_LOG_FORMAT="json",
    )
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "handlers", "serve", env=env, cwd=tmp_path, stderr=log
        )
    spawned.append(proc)
    await fake_slack.wait_for_connections(timeout=30)
    health = f"http://127.0.0.1:{health_port}"
    async with aiohttp.ClientSession() as session:
        for probe in ("healthz", "readyz"):
            async with session.get(f"{health}/{probe}") as answer:
                assert answer.status == 200, probe

        await fake_slack.send_slash_command(text=f"threaddump pid={jvm.pid} count=2 interval=3s")
        (parent,) = await fake_slack.wait_for(
            lambda s: s.top_level_messages(DEFAULT_CHANNEL), timeout=20
        )
        assert fake_slack.files == {}  # the command is still running
        proc.send_signal(signal.SIGTERM)

        # Draining: the websocket goes (Slack routes new commands elsewhere) and the pod
        # stops being ready, while the health server stays up.
        await fake_slack.wait_for(lambda s: not s.connections, timeout=5)
        async with session.get(f"{health}/readyz") as answer:
            assert answer.status == 503
    exit_code = await asyncio.wait_for(proc.wait(), timeout=30)

    assert exit_code == 0
    files = fake_slack.files_in_thread(parent.ts)
    assert len(files) == 2 and all("Full thread dump" in f.text for f in files)
    final = fake_slack.messages[parent.ts]
    assert "worker-3" in final.text and "worker-4" in final.text
    # In-place updates: the status changed while it ran, never faster than once per 2 s.
    times = [parent.posted_at, *(v.at for v in final.history)]
    assert len(times) >= 3 and "running" in final.history[1].text
    assert all(b - a >= 1.9 for a, b in itertools.pairwise(times[:-1]))
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line]
    audits = [r for r in records if r.get("event") == "audit"]
    assert len(audits) == 1 and audits[0]["user"] == ALICE
    audit = audits[0]
    assert audit["outcome"] == "ok" and audit["decision"] == "allow"
    # The audit proves what was posted without holding it: one digest per uploaded file.
    (run,) = audit["runs"]
    posted = sorted(hashlib.sha256(f.text.encode()).hexdigest() for f in files)
    assert sorted(o["sha256"] for o in run["outputs"]) == posted
    assert run["output_bytes"] == sum(len(f.text.encode()) for f in files)
    assert "Full thread dump" not in json.dumps(audit)
    assert any(r.get("event") == "serve.stopped" for r in records)


def test_serve_without_tokens_exits_2_with_one_sentence_naming_them(tmp_path: Path) -> None:
    done = serve_sync(clean_env(), tmp_path)

    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert "SLACK_BOT_TOKEN" in line and "SLACK_APP_TOKEN" in line
    assert "SLACK_SIGNING_SECRET" not in line and "Traceback" not in done.stderr


def test_serve_in_http_mode_names_the_missing_signing_secret(tmp_path: Path) -> None:
    env = clean_env(JDEBUG_SLACK_MODE="http", SLACK_BOT_TOKEN="xoxb-1-2-abc")
    done = serve_sync(env, tmp_path)

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "SLACK_SIGNING_SECRET" in line and "SLACK_BOT_TOKEN" not in line


def test_serve_with_an_invalid_setting_names_its_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("JDEBUG_HEALTH_PORT=eighty\n")
    done = serve_sync(clean_env(), tmp_path)

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "JDEBUG_HEALTH_PORT" in line and "Traceback" not in done.stderr


def test_serve_with_a_renew_deadline_not_below_the_lease_duration_names_both(
    tmp_path: Path,
) -> None:
    env = clean_env(JDEBUG_LEASE_DURATION_SECONDS="5", JDEBUG_LEASE_RENEW_DEADLINE_SECONDS="5")
    done = serve_sync(env, tmp_path)

    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "JDEBUG_LEASE_RENEW_DEADLINE_SECONDS" in line and "JDEBUG_LEASE_DURATION_SECONDS" in line
    assert "Traceback" not in done.stderr


async def test_serve_with_a_refused_token_exits_1_with_one_sentence(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    env = clean_env(
        SLACK_API_URL=fake_slack.api_url,
        SLACK_BOT_TOKEN=fake_slack.bot_token,
        SLACK_APP_TOKEN="xapp-1-A0JDEBUG01-0000000000-revoked",
        JDEBUG_ALLOWED_USERS=ALICE,
        JDEBUG_HEALTH_PORT="0",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "handlers",
        "serve",
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)

    assert proc.returncode == 1
    last = stderr.decode().strip().splitlines()[-1]
    assert last.startswith("jdebug serve:") and "invalid_auth" in last
    assert "Traceback" not in stderr.decode()


def test_serve_in_a_pod_without_its_token_says_so_and_exits_1(tmp_path: Path) -> None:
    """KUBERNETES_SERVICE_HOST set (as in a pod) but no ServiceAccount token mounted."""
    env = clean_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_APP_TOKEN="xapp-test",
        SLACK_API_URL="http://127.0.0.1:9/api/",
        JDEBUG_HEALTH_PORT="0",
        KUBERNETES_SERVICE_HOST="127.0.0.1",
        KUBERNETES_SERVICE_PORT="9",
    )
    proc = serve_sync(env, tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("jdebug serve: ")
