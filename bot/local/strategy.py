"""The `local` strategy: run the agent on this machine against local JVMs.

It is the embedded default when no cluster is configured. `pod=NAME` picks the JVM whose
command line contains NAME (main class, jar or path); `pid=N` picks by pid. A `launcher`
prefix lets the agent run in another namespace or as another user (tests use it to
cross container boundaries with unshare/nsenter/setpriv).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from bot.errors import DeadlineExceeded
from bot.jvm.agent import AgentCall
from bot.request import Request
from bot.results import RawOutput
from bot.strategy import Verdict

# The agent bounds itself; this grace covers process start and output draining.
_GRACE_S = 10


class LocalStrategy:
    """Runs `sh -c AGENT` as a child process, optionally behind a launcher prefix."""

    name = "local"

    def __init__(self, java_home: Path | None = None, launcher: Sequence[str] = ()) -> None:
        self.java_home = java_home
        self.launcher = tuple(launcher)
        self._proc: asyncio.subprocess.Process | None = None

    async def check(self, request: Request) -> Verdict:
        if request.target.namespace or request.target.deploy or request.target.selector:
            return Verdict(
                False,
                "the local strategy only knows local JVMs (no namespaces, "
                "deployments or selectors)",
                "give a kubeconfig to use a cluster",
            )
        return Verdict(True)

    def agent_match(self, request: Request) -> str | None:
        return request.target.pod

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.java_home:
            env["JAVA_HOME"] = str(self.java_home)
            env["PATH"] = f"{self.java_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    async def run(self, request: Request, call: AgentCall) -> RawOutput:
        started = time.monotonic()
        self._proc = await asyncio.create_subprocess_exec(
            *self.launcher,
            *call.argv(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env(),
            start_new_session=True,
        )
        try:
            async with asyncio.timeout(call.deadline_s + _GRACE_S):
                stdout, stderr = await self._proc.communicate()
        except TimeoutError:
            raise DeadlineExceeded(
                f"the local agent did not finish within {call.deadline_s + _GRACE_S}s"
            ) from None
        return RawOutput(
            steps=(),
            exit_code=self._proc.returncode if self._proc.returncode is not None else -1,
            stderr=stderr.decode("utf-8", "replace"),
            strategy=self.name,
            where=f"this machine (agent pid {self._proc.pid})",
            duration_s=time.monotonic() - started,
            stdout=stdout.decode("utf-8", "replace"),
        )

    async def cleanup(self) -> str:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return "nothing left running"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return "the agent was stopped"
