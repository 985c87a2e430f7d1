"""How jdebug gets next to a JVM: a `Backend` resolves the target, a `Strategy` runs the agent.

Backends: `local` (JVMs on this machine) now; Kubernetes later, with the strategies `exec`,
`sidecar`, `ephemeral` and `node` in `bot/kube/strategies/`. The session resolves the
target first (so a wrong name costs nothing), then asks each strategy's `check()` in order
and runs the first that can work; the others' one-line reasons explain a total failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.jvm.agent import AgentCall
from bot.model.errors import JdebugError
from bot.model.request import Request
from bot.model.results import RawOutput


@dataclass(frozen=True)
class ResolvedTarget:
    """The JVM (or, for jps, the place) a request runs against, once found.

    `pid` is the JVM's pid as the agent will see it, when known; `match` is text the agent
    filters JVMs by (jps with a name). Kubernetes fields are set by the Kubernetes backend.
    """

    description: str
    pid: int | None = None
    match: str | None = None
    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    pod_json: dict[str, Any] | None = field(default=None, compare=False, repr=False)


Candidate = tuple[str, "ResolvedTarget | JdebugError"]


@dataclass(frozen=True)
class Verdict:
    """Whether a strategy can work for this target, and if not, why and what would fix it."""

    ok: bool
    reason: str = ""
    fix: str = ""


class Strategy(Protocol):
    name: str

    async def check(self, request: Request, target: ResolvedTarget) -> Verdict:
        """Can this strategy reach the target here? Cheap; never starts anything."""
        ...

    async def run(self, request: Request, target: ResolvedTarget, call: AgentCall) -> RawOutput:
        """Run the agent next to the JVM and return everything it printed."""
        ...

    async def cleanup(self) -> str:
        """Remove or confirm the end of what `run` started; say what is left (for the user)."""
        ...


class Backend(Protocol):
    """Where JVMs live (this machine, a cluster): finds targets and offers strategies."""

    name: str

    async def resolve(self, request: Request) -> ResolvedTarget:
        """Find the one target; raise TargetNotFound or AmbiguousTarget with candidates."""
        ...

    async def resolve_all(self, request: Request) -> Sequence[Candidate]:
        """Every target a `deploy=`/`selector=` matches, for fan-out, named; a pod that cannot
        be a target (not Running) comes with its error, so the others still run."""
        ...

    def strategies(self) -> Sequence[Strategy]:
        """Fresh strategies for one request, in the order they should be tried."""
        ...
