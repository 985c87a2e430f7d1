"""What a run produced: where the JVM is (`Place`), what the agent printed (`AgentOutput`,
split into `StepOutput`s), what an analyser makes of it (`Analysis`), and the whole answer
(`Result`).

Raw text is kept whole, because the user gets it as a file; analysis only adds to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.model.request import Options, Request
from bot.model.spool import Spool


@dataclass(frozen=True)
class Place:
    """Where a JVM is: the cluster, pod and container (None outside Kubernetes) and its pid
    as the agent saw it. Results and the audit record share this one value."""

    cluster: str | None = None
    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    pid: int | None = None


@dataclass(frozen=True)
class TargetFacts:
    """What the backend knows about the JVM's container that an analyser may compare
    against: its memory limit in bytes and its CPU limit in cores (None: no limit known)."""

    memory_limit_bytes: int | None = None
    cpu_limit_cores: float | None = None


@dataclass(frozen=True)
class StepOutput:
    """One framed step of the in-container agent, e.g. `jps` or `threaddump.2`; a file the
    JVM wrote (a recording) comes as `data`, with no text."""

    name: str
    pid: int | None
    exit_code: int
    text: str
    data: bytes | None = None


@dataclass(frozen=True)
class AgentOutput:
    """What a strategy collected from one agent run: its framed stdout (text, or spooled to
    a file when it may be big), stderr and exit code, and where and how it ran."""

    stdout: str | Spool
    stderr: str
    exit_code: int
    where: str
    debug_container: str | None = None  # the ephemeral/sidecar container or node pod used


@dataclass(frozen=True)
class RawOutput:
    """The raw outputs a user gets as files (one per step), and how they were obtained."""

    steps: tuple[StepOutput, ...]
    strategy: str
    where: str
    duration_s: float
    debug_container: str | None = None


@dataclass(frozen=True)
class Attachment:
    """A file an analyser made (a flame graph, a recording): `name` is its file-name suffix
    (`flame.png`), `title` what it shows; `data` its bytes."""

    name: str
    title: str
    data: bytes


@dataclass(frozen=True)
class Analysis:
    """The summary of one tool's output: a headline, key findings, and parser notes.

    `notes` say what could not be recognised (truncated or unknown text); a parser never
    raises on bad input, it returns what it understood plus a note.
    """

    headline: str
    findings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class ToolRun:
    """What an analyser gets: each step's output, the request's options, and what the
    backend knows about the JVM's container."""

    steps: tuple[StepOutput, ...]
    options: Options = field(default_factory=Options)
    facts: TargetFacts = field(default_factory=TargetFacts)

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(step.text for step in self.steps)

    @property
    def text(self) -> str:
        """The first step's text (most tools have one step)."""
        return self.steps[0].text if self.steps else ""

    def step(self, name: str) -> StepOutput | None:
        """The step called `name`, or None when the agent did not get to it."""
        return next((s for s in self.steps if s.name == name), None)

    def text_of(self, name: str) -> str:
        found = self.step(name)
        return found.text if found is not None else ""


@dataclass(frozen=True)
class Result:
    """A finished request: the analysis, the raw output, and the JVM it ran against."""

    request: Request
    target: str
    analysis: Analysis
    raw: RawOutput
    cleanup: str = "nothing left running"
    place: Place = field(default_factory=Place)
