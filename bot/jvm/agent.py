"""The Python side of the in-container agent: the argv that starts it.

The agent (`agent.sh`, package data) is the only thing that runs next to the JVM. It is
started as `["/bin/sh", "-c", AGENT_SCRIPT, "jdebug-agent", *args]`, so user values only
ever travel as argv. `agent_frames` reads its framed output; `agent_errors` turns its
failures into the user-facing errors of `bot.model.errors`.
"""

from __future__ import annotations

import dataclasses
import secrets
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

from bot.jvm.steps import Step, agent_word

AttachTool = Literal["auto", "jdebug-attach", "jattach", "jcmd"]


def _script() -> str:
    """agent.sh with the snippets' code before it as shell variables (fixed package data)."""
    here = files("bot.jvm")
    snippets = "".join(
        f"jdebug_snippet_{kind}={shlex.quote(here.joinpath(name).read_text(encoding='utf-8'))}\n"
        for kind, name in (("sample", "task_sample.sh"), ("perfdata", "task_perfdata.sh"))
    )
    return snippets + here.joinpath("agent.sh").read_text(encoding="utf-8")


AGENT_SCRIPT: str = _script()

EXIT_USAGE, EXIT_NO_JVM, EXIT_AMBIGUOUS, EXIT_IDENTITY = 2, 3, 4, 5
EXIT_TOOL_FAILED, EXIT_NO_TOOL, EXIT_ATTACH_DISABLED = 6, 7, 8
EXIT_TMP_READ_ONLY, EXIT_NOT_READY, EXIT_DEADLINE = 9, 10, 124
EXIT_RECORDING_RUNS, EXIT_FILE_FAILED = 11, 12


@dataclass(frozen=True)
class AgentCall:
    """One agent run: its options and steps (after `sh -c SCRIPT jdebug-agent`), its nonce."""

    options: tuple[str, ...]
    steps: tuple[str, ...]
    nonce: str
    deadline_s: int

    @property
    def args(self) -> tuple[str, ...]:
        return (*self.options, *self.steps)

    def argv(self, shell: str = "/bin/sh") -> list[str]:
        """The full command, ready for exec (locally, or as a container's command)."""
        return [shell, "-c", AGENT_SCRIPT, "jdebug-agent", *self.args]

    def in_cgroup(self, cgroup: str) -> AgentCall:
        """The same call, limited to JVMs whose cgroup names `cgroup` (a container ID)."""
        return dataclasses.replace(self, options=(*self.options, "-c", cgroup))


def plan_agent_call(
    steps: Sequence[Step],
    *,
    deadline_s: int,
    pid: int | None = None,
    match: str | None = None,
    attach_tool: AttachTool = "auto",
) -> AgentCall:
    """The agent call that lists the JVMs, then runs `steps` against the target.

    With no steps (jps) the agent only lists the JVMs it can see. `attach_tool` `auto`
    prefers jattach (milliseconds, works across mount namespaces) over jcmd.
    """
    nonce = secrets.token_hex(6)
    args: list[str] = ["-n", nonce, "-d", str(deadline_s), "-t", attach_tool]
    if pid is not None:
        args += ["-p", str(pid)]
    if match:
        args += ["-m", match]
    return AgentCall(tuple(args), tuple(agent_word(step) for step in steps), nonce, deadline_s)
