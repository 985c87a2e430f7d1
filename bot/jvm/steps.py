"""The steps a tool asks the in-container agent to take, as values.

A catalog entry turns its options into steps (`Thread.print -l` three times, 5 s apart);
`bot/jvm/agent.py` writes each one as an argv word the agent reads (`jcmd:NAME:LINE`,
`sleep:N`, ...), so user values only ever travel as data. In a command line `@FILE.<ext>@`
is this run's own file in the JVM's /tmp and `@NONCE@` this run's nonce.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Jcmd:
    """Run one diagnostic command line in the JVM; its output is the step named `name`. An
    `optional` step may fail (a command older JDKs lack) without failing the run: its
    analyser reads the JVM's answer."""

    name: str
    line: str
    optional: bool = False


@dataclass(frozen=True)
class Pause:
    """Wait `seconds` before the next step (between repeated thread dumps)."""

    seconds: int


@dataclass(frozen=True)
class Fetch:
    """The file an earlier `Jcmd` wrote to `@FILE.<ext>@` (this run's own file in the JVM's
    /tmp), as step `name`: text, or bytes sent as base64; removed afterwards, on every path.
    A `binary` or `attached` file is for the analyser, which attaches what the user gets of it.
    """

    name: str
    ext: str
    binary: bool = False
    optional: bool = False
    attached: bool = False
    # A JSON thread dump: fetched only when it holds a virtual thread (else empty text).
    virtual_threads_only: bool = False


@dataclass(frozen=True)
class Snippet:
    """A fixed shell snippet run against the JVM's pid: `sample` (every thread's CPU time,
    bot/jvm/task_sample.sh) or `perfdata` (the jvmstat counters, task_perfdata.sh)."""

    name: str
    kind: str


@dataclass(frozen=True)
class Put:
    """Write `data` (jdebug's own, e.g. a recording's settings) to this run's `@FILE.<ext>@`
    in the JVM's /tmp, as the JVM's uid; it travels as base64 in one argv word."""

    ext: str
    data: bytes


@dataclass(frozen=True)
class GuardRecording:
    """Refuse when a jdebug recording already runs in the JVM; else remove leftover
    recording files of earlier runs."""


Step = Jcmd | Pause | Fetch | Snippet | Put | GuardRecording


def agent_word(step: Step) -> str:
    """The argv word agent.sh reads for `step`."""
    if isinstance(step, Pause):
        return f"sleep:{step.seconds}"
    if isinstance(step, Fetch):
        kind = "fetch?" if step.optional else "fetch"
        enc = "base64" if step.binary else "vthreads" if step.virtual_threads_only else "text"
        return f"{kind}:{step.name}:{step.ext}:{enc}"
    if isinstance(step, Snippet):
        return f"snippet:{step.name}:{step.kind}"
    if isinstance(step, GuardRecording):
        return "guard:jfr"
    if isinstance(step, Put):
        return f"put:{step.ext}:{base64.b64encode(step.data).decode()}"
    return f"{'jcmd?' if step.optional else 'jcmd'}:{step.name}:{step.line}"


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


def optional_steps(steps: Sequence[Step]) -> frozenset[str]:
    """The names of the steps whose failure does not fail the run."""
    return frozenset(s.name for s in steps if isinstance(s, Jcmd | Fetch) and s.optional)


def side_steps(steps: Sequence[Step]) -> frozenset[str]:
    """Steps whose output is for the analyser only, not a raw output for the user: snippet
    samples, commands that write a file (the file is fetched as its own step), and files
    fetched as bytes (the analyser attaches what the user gets of them)."""
    names = set()
    for step in steps:
        if isinstance(step, Jcmd):
            if "@FILE." in step.line or step.name.endswith(".stop"):
                names.add(step.name)
        elif isinstance(step, Snippet) or (
            isinstance(step, Fetch) and (step.binary or step.attached)
        ):
            names.add(step.name)
    return frozenset(names)
