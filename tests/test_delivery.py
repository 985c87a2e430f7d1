"""The debug container's bootstrap (bot/jvm/delivery.py) on its own, under dash and busybox sh:
it ends by itself when nothing arrives on stdin, and when stdin ends early, and leaves no
process and no folder behind; a whole payload runs the agent with its argv intact.

The watchdog is 30 s in the pod; here it is cut to 1 s in the script's text."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bot.jvm.agent import AgentCall
from bot.jvm.delivery import BOOTSTRAP, WATCHDOG_S, stdin_payload

SHELLS = {"dash": ["/bin/dash"], "busybox": ["/bin/busybox", "sh"]}
FAST = BOOTSTRAP.replace(f"sleep {WATCHDOG_S}&", "sleep 1&")


def session_processes(sid: int) -> list[str]:
    """Commands of the processes still in session `sid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            found.append(stat.parent.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def start(shell: str, tmp: Path) -> subprocess.Popen[bytes]:
    env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp)}
    script = FAST.replace("/tmp/", f"{tmp}/")
    return subprocess.Popen(
        [*SHELLS[shell], "-c", script, "jdebug-bootstrap"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


def gone(proc: subprocess.Popen[bytes]) -> None:
    """Nothing of the bootstrap's session is left once the watchdog's `sleep` would be."""
    deadline = time.monotonic() + 5
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = session_processes(proc.pid)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    assert left == []


@pytest.mark.parametrize("shell", SHELLS)
def test_nothing_on_stdin_ends_it_by_the_watchdog(shell: str, tmp_path: Path) -> None:
    proc = start(shell, tmp_path)  # stdin stays open, and nothing comes

    code = proc.wait(timeout=10)

    assert code == -signal.SIGTERM or code == 128 + signal.SIGTERM
    gone(proc)
    assert proc.stdin is not None
    proc.stdin.close()


@pytest.mark.parametrize("shell", SHELLS)
def test_stdin_that_ends_early_ends_it_with_2_and_removes_its_folder(
    shell: str, tmp_path: Path
) -> None:
    proc = start(shell, tmp_path)

    _, err = proc.communicate(b"", timeout=10)

    assert proc.returncode == 2, err  # sh cannot open the agent that never came
    gone(proc)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_a_whole_payload_runs_the_agent_with_its_words_as_data(
    shell: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An "agent" that prints its argv and whether the helper for this machine arrived.
    monkeypatch.setattr(
        "bot.jvm.delivery.AGENT_SCRIPT",
        'for w in "$@"; do printf "<%s>\\n" "$w"; done; command -v jdebug-attach >/dev/null && '
        "echo helper",
    )
    call = AgentCall(
        options=("-n", "x"),
        steps=("jcmd:t:Thread.print", "$(touch pwned) `id` ;|&"),
        nonce="x",
        deadline_s=10,
    )
    arch = os.uname().machine
    payload = stdin_payload(call, {arch: b"#!/bin/sh\necho\n", "other": b"\x7fELF"})
    proc = start(shell, tmp_path)

    out, err = proc.communicate(payload, timeout=10)

    assert proc.returncode == 0, err
    assert out.decode().splitlines() == [
        "<-n>",
        "<x>",
        "<jcmd:t:Thread.print>",
        "<$(touch pwned) `id` ;|&>",
        "helper",
    ]
    gone(proc)
    assert list(tmp_path.iterdir()) == []
