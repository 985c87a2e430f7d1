"""How jdebug gets next to a JVM: a `Backend` resolves the target, a `Strategy` runs the agent.

Backends: `local` (JVMs on this machine) and Kubernetes, with the strategies `exec`, `sidecar`,
`ephemeral` and `node` in `bot/kube/strategies/`. The session resolves the target first (so a
wrong name costs nothing), then asks each strategy's `check()` in order and runs the first plan
it gets; the others' one-line reasons explain a total failure.

A strategy keeps nothing between calls: `check()` returns a frozen plan (or why not),
`run(plan, …)` records what it creates in the session's `Created` the moment it exists, and
`cleanup(created)` removes or confirms exactly that, on every path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from bot.jvm.agent import AgentCall
from bot.model.errors import JdebugError
from bot.model.identity import KubeIdentity
from bot.model.request import Request
from bot.model.results import AgentOutput, Place, TargetFacts


class Target(Protocol):
    """The JVM (or, for jps, the place) a request runs against, once found.

    `pid` is the JVM's pid as the agent will see it, when known; `match` is text the agent
    filters JVMs by (jps with a name).
    """

    @property
    def description(self) -> str: ...

    @property
    def place(self) -> Place: ...

    @property
    def facts(self) -> TargetFacts: ...

    @property
    def pid(self) -> int | None: ...

    @property
    def match(self) -> str | None: ...


@dataclass(frozen=True)
class Unavailable:
    """Why a strategy cannot work for this target, and what an admin could change."""

    reason: str
    fix: str = ""

    def describe(self, strategy: str) -> str:
        return f"{strategy}: {self.reason}" + (f" (fix: {self.fix})" if self.fix else "")


@dataclass(frozen=True)
class DebugProcess:
    """Something a strategy put into the cluster for one request: an ephemeral container
    (`kind` "container", ended by its own deadline) or a debug pod (deleted afterwards)."""

    kind: str
    namespace: str
    pod: str
    container: str
    deadline_s: int


@dataclass
class Created:
    """What one strategy run created, recorded as soon as it exists so that cleanup finds
    it whatever happens next (an error, a timeout, a cancelled request). The session owns
    it; strategies only add to it."""

    processes: list[DebugProcess] = field(default_factory=list)

    def add(self, process: DebugProcess) -> None:
        self.processes.append(process)

    @property
    def last(self) -> DebugProcess | None:
        return self.processes[-1] if self.processes else None


TargetT = TypeVar("TargetT", contravariant=True)
PlanT = TypeVar("PlanT")


class Strategy(Protocol[TargetT, PlanT]):
    name: str

    async def check(self, request: Request, target: TargetT) -> PlanT | Unavailable:
        """Can this strategy reach the target here, and how? Cheap: cached API questions
        and the pod spec; never starts anything and never execs."""
        ...

    async def run(self, plan: PlanT, call: AgentCall, created: Created) -> AgentOutput:
        """Run the agent next to the JVM as planned; raise StrategyFailed when this way in
        turns out not to work here (the session then tries the next)."""
        ...

    async def cleanup(self, created: Created) -> str:
        """Remove or confirm the end of what `run` created; say what is left (for users)."""
        ...


Candidate = tuple[str, "Target | JdebugError"]


class Backend(Protocol):
    """Where JVMs live (this machine, a cluster): finds targets and offers strategies."""

    name: str

    async def resolve(self, request: Request) -> Target:
        """Find the one target; raise TargetNotFound or AmbiguousTarget with choices."""
        ...

    async def resolve_all(self, request: Request) -> Sequence[Candidate]:
        """Every target a `deploy=`/`selector=` matches, for fan-out, named; a pod that cannot
        be a target (not Running) comes with its error, so the others still run."""
        ...

    def strategies(self) -> Sequence[Strategy[Any, Any]]:
        """The strategies in the order they should be tried (stateless, so shared)."""
        ...


@runtime_checkable
class ImpersonatingBackend(Backend, Protocol):
    """A backend that can run one request as someone else (Kubernetes only)."""

    def acting_as(self, identity: KubeIdentity) -> Backend:
        """This backend with every call made as `identity`."""
        ...
