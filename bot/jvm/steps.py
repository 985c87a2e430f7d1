"""The steps a tool asks the in-container agent to take, as values.

A catalog entry turns its options into steps (`Thread.print -l` three times, 5 s apart);
`bot/jvm/agent.py` writes each one as an argv word the agent reads (`jcmd:NAME:LINE`,
`sleep:N`), so user values only ever travel as data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Jcmd:
    """Run one diagnostic command line in the JVM; its output is the step named `name`."""

    name: str
    line: str


@dataclass(frozen=True)
class Pause:
    """Wait `seconds` before the next step (between repeated thread dumps)."""

    seconds: int


Step = Jcmd | Pause


def agent_word(step: Step) -> str:
    """The argv word agent.sh reads for `step`."""
    if isinstance(step, Pause):
        return f"sleep:{step.seconds}"
    return f"jcmd:{step.name}:{step.line}"


def repeated(name: str, line: str, count: int, interval_s: int) -> tuple[Step, ...]:
    """`line` `count` times, `interval_s` apart; steps are `name.1`, `name.2`… when more
    than one."""
    steps: list[Step] = []
    for i in range(1, count + 1):
        if i > 1:
            steps.append(Pause(interval_s))
        steps.append(Jcmd(name if count == 1 else f"{name}.{i}", line))
    return tuple(steps)


def pauses_s(steps: Sequence[Step]) -> int:
    """The seconds `steps` spend waiting, which the agent's deadline must add."""
    return sum(step.seconds for step in steps if isinstance(step, Pause))
