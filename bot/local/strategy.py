"""The `local` backend and strategy: run the agent on this machine against local JVMs.

It is the embedded default when no cluster is configured. `pod=NAME` picks the JVM whose
command line contains NAME (main class, jar or path); `pid=N` picks by pid. A `launcher`
prefix lets the agent run in another namespace or as another user (tests use it to
cross container boundaries with unshare/nsenter/setpriv).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.backends.protocols import Candidate, Created, Strategy, Unavailable
from bot.jvm.agent import AgentCall, plan_agent_call
from bot.jvm.agent_errors import raise_for_agent
from bot.jvm.agent_frames import parse_agent_output
from bot.local.process import run_bounded
from bot.model.errors import AmbiguousTarget, Choice, TargetNotFound
from bot.model.request import Request
from bot.model.results import AgentOutput, Place, TargetFacts

# The agent bounds itself; this grace covers process start and output draining.
_GRACE_S = 10
# Listing JVMs from /proc takes milliseconds; anything slower is stuck.
_RESOLVE_DEADLINE_S = 10


@dataclass(frozen=True)
class LocalTarget:
    """A JVM on this machine (or, for jps, the JVMs whose command line contains `match`)."""

    description: str
    pid: int | None = None
    match: str | None = None
    facts: TargetFacts = field(default_factory=TargetFacts)

    @property
    def place(self) -> Place:
        return Place(pid=self.pid)


class LocalBackend:
    """JVMs on this machine, reached by running the agent as a child process."""

    name = "local"

    def __init__(self, java_home: Path | None = None, launcher: Sequence[str] = ()) -> None:
        self.java_home = java_home
        self.launcher = tuple(launcher)
        self._strategies = (LocalStrategy(self),)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.java_home:
            env["JAVA_HOME"] = str(self.java_home)
            env["PATH"] = f"{self.java_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return env

    async def resolve(self, request: Request) -> LocalTarget:
        target = request.target
        if target.namespace or target.deploy or target.selector or target.cluster:
            raise TargetNotFound(
                "namespaces, clusters, deployments and selectors need a cluster; this jdebug "
                "only sees local JVMs (give it a kubeconfig)"
            )
        if request.tool == "jps":
            where = f"JVMs matching '{target.pod}'" if target.pod else "this machine"
            return LocalTarget(where, match=target.pod)
        call = plan_agent_call((), deadline_s=_RESOLVE_DEADLINE_S, pid=target.pid, match=target.pod)
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
            raise AmbiguousTarget(
                f"{len(jvms)} JVMs match; pick one with pid=N: "
                + "; ".join(j.describe() for j in jvms),
                tuple(Choice(j.describe(), "pid", str(j.pid)) for j in jvms),
            )
        return LocalTarget(jvms[0].describe(), pid=jvms[0].pid)

    async def resolve_all(self, request: Request) -> Sequence[Candidate]:
        raise TargetNotFound(
            "running on every pod needs a cluster; this jdebug only sees "
            "local JVMs (give it a kubeconfig)"
        )

    def strategies(self) -> Sequence[Strategy[LocalTarget, Any]]:
        return self._strategies


@dataclass(frozen=True)
class LocalPlan:
    target: LocalTarget


class LocalStrategy:
    """Runs `sh -c AGENT` as a child process, behind the backend's launcher prefix."""

    name = "local"

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend

    async def check(self, request: Request, target: LocalTarget) -> LocalPlan | Unavailable:
        return LocalPlan(target)

    async def run(self, plan: LocalPlan, call: AgentCall, created: Created) -> AgentOutput:
        out = await run_bounded(
            [*self.backend.launcher, *call.argv()], self.backend.env(), call.deadline_s + _GRACE_S
        )
        return AgentOutput(
            stdout=out.stdout, stderr=out.stderr, exit_code=out.exit_code, where="this machine"
        )

    async def cleanup(self, created: Created) -> str:
        # run_bounded kills the agent's process group on every exit path.
        return "nothing left running"
