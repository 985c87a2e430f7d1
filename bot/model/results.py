"""What a run produced: raw tool output per step (`RawOutput`) and its analysis (`Result`).

Raw text is kept whole, because the user gets it as a snippet; analysis only adds to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.model.request import Request
from bot.model.spool import Spool


@dataclass(frozen=True)
class StepOutput:
    """One framed step of the in-container agent, e.g. `jps` or `threaddump.2`."""

    name: str
    pid: int | None
    exit_code: int
    text: str


@dataclass(frozen=True)
class RawOutput:
    """Everything one agent run printed, plus where and how it ran.

    A strategy fills `stdout` (the agent's framed output, as text or, when it may be big,
    spooled to a file); the session splits it into `steps`, whose texts are what users get
    as snippets, and closes a spool.
    """

    steps: tuple[StepOutput, ...]
    exit_code: int
    stderr: str
    strategy: str
    where: str
    duration_s: float
    stdout: str | Spool = ""
    debug_container: str | None = None  # the ephemeral/sidecar container or node pod used


@dataclass(frozen=True)
class Analysis:
    """The summary of one tool's output: a headline, key findings, and parser notes.

    `notes` say what could not be recognised (truncated or unknown text); a parser never
    raises on bad input, it returns what it understood plus a note.
    """

    headline: str
    findings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Place:
    """Where a result came from, for the audit record: the pod and container, and the JVM's
    pid as the agent saw it."""

    cluster: str | None = None
    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    pid: int | None = None


@dataclass(frozen=True)
class Result:
    """A finished request: the analysis, the raw output, and the JVM it ran against."""

    request: Request
    target: str
    analysis: Analysis
    raw: RawOutput
    cleanup: str = field(default="nothing left running")
    place: Place | None = None
