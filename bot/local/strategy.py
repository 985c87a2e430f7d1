"""The `local` backend and strategy: run the agent on this machine against local JVMs.

It is the embedded default when no cluster is configured. `pod=NAME` picks the JVM whose
command line contains NAME (main class, jar or path); `pid=N` picks by pid. A `launcher`
prefix lets the agent run in another namespace or as another user (tests use it to
cross container boundaries with unshare/nsenter/setpriv).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from bot.backends.protocols import Candidate, ResolvedTarget, Strategy, Verdict
from bot.jvm.agent import AgentCall, parse_agent_output, plan_agent_call, raise_for_agent
from bot.local.process import run_bounded
from bot.model.errors import AmbiguousTarget, TargetNotFound
from bot.model.request import Request
from bot.model.results import RawOutput

# The agent bounds itself; this grace covers process start and output draining.
_GRACE_S = 10
# Listing JVMs from /proc takes milliseconds; anything slower is stuck.
_RESOLVE_DEADLINE_S = 10


class LocalBackend:
    """JVMs on this machine, reached by running the agent as a child process."""

    name = "local"

    def __init__(self, java_home: Path | None = None, launcher: Sequence[str] = ()) -> None:
        self.java_home = java_home
        self.launcher = tuple(launcher)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.java_home:
            env["JAVA_HOME"] = str(self.java_home)
            env["PATH"] = f"{self.java_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    async def resolve(self, request: Request) -> ResolvedTarget:
        target = request.target
        if target.namespace or target.deploy or target.selector:
            raise TargetNotFound(
                "namespaces, deployments and selectors need a cluster; this jdebug only sees "
                "local JVMs (give it a kubeconfig)"
            )
        if request.tool == "jps":
            where = f"JVMs matching '{target.pod}'" if target.pod else "this machine"
            return ResolvedTarget(where, match=target.pod)
        call = plan_agent_call(
            None,
            "jvms",
            request.options,
            deadline_s=_RESOLVE_DEADLINE_S,
            pid=target.pid,
            match=target.pod,
        )
        out = await run_bounded(
            [*self.launcher, *call.argv()], self.env(), _RESOLVE_DEADLINE_S + _GRACE_S
        )
        with out.stdout:
            agent = parse_agent_output(out.stdout, call.nonce)
        raise_for_agent(agent, out.exit_code, out.stderr)
        jvms = [j for j in agent.jvms if target.pid is None or j.pid == target.pid]
        if not jvms:
            what = f"pid {target.pid}" if target.pid is not None else "JVM"
            named = f" matching '{target.pod}'" if target.pod else ""
            raise TargetNotFound(
                f"no {what}{named} is running on this machine; `jps` lists the JVMs"
            )
        if len(jvms) > 1:
            candidates = tuple(j.describe() for j in jvms)
            raise AmbiguousTarget(
                f"{len(jvms)} JVMs match; pick one with pid=N: " + "; ".join(candidates), candidates
            )
        return ResolvedTarget(jvms[0].describe(), pid=jvms[0].pid)

    async def resolve_all(self, request: Request) -> Sequence[Candidate]:
        raise TargetNotFound(
            "running on every pod needs a cluster; this jdebug only sees "
            "local JVMs (give it a kubeconfig)"
        )

    def strategies(self) -> Sequence[Strategy]:
        return [LocalStrategy(self)]


class LocalStrategy:
    """Runs `sh -c AGENT` as a child process, behind the backend's launcher prefix."""

    name = "local"

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend

    async def check(self, request: Request, target: ResolvedTarget) -> Verdict:
        return Verdict(True)

    async def run(self, request: Request, target: ResolvedTarget, call: AgentCall) -> RawOutput:
        started = time.monotonic()
        out = await run_bounded(
            [*self.backend.launcher, *call.argv()], self.backend.env(), call.deadline_s + _GRACE_S
        )
        return RawOutput(
            steps=(),
            exit_code=out.exit_code,
            stderr=out.stderr,
            strategy=self.name,
            where="this machine",
            duration_s=time.monotonic() - started,
            stdout=out.stdout,
        )

    async def cleanup(self) -> str:
        # run_process kills the agent's process group on every exit path.
        return "nothing left running"
