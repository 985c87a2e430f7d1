"""The `Strategy` protocol: one way of getting next to a JVM and running the agent there.

Implementations: `local` (JVMs on this machine) now; `exec`, `sidecar`, `ephemeral` and
`node` in `bot/kube/strategies/`. The session asks each `check()` in order and runs the
first that can work; the others' one-line reasons explain a total failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.jvm.agent import AgentCall
from bot.request import Request
from bot.results import RawOutput


@dataclass(frozen=True)
class Verdict:
    """Whether a strategy can work for this request, and if not, why and what would fix it."""

    ok: bool
    reason: str = ""
    fix: str = ""


class Strategy(Protocol):
    name: str

    async def check(self, request: Request) -> Verdict:
        """Can this strategy reach the requested JVM here? Cheap; never starts anything."""
        ...

    def agent_match(self, request: Request) -> str | None:
        """Text the agent must find in the JVM's command line, when the strategy needs one."""
        ...

    async def run(self, request: Request, call: AgentCall) -> RawOutput:
        """Run the agent next to the JVM and return everything it printed."""
        ...

    async def cleanup(self) -> str:
        """Remove or confirm the end of what `run` started; say what is left (for the user)."""
        ...
