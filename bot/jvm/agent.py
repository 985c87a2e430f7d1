"""The Python side of the in-container agent: build its argv, read its framed output.

The agent (`agent.sh`, package data) is the only thing that runs next to the JVM. It is
started as `["/bin/sh", "-c", AGENT_SCRIPT, "jdebug-agent", *args]`, so user values only
ever travel as argv. Its output frames (see agent.sh) are parsed here into steps, and its
failures into the user-facing errors of `bot.model.errors`.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Literal

from bot.jvm.jps import JvmInfo, parse_jvm_lines
from bot.model.errors import (
    AmbiguousTarget,
    AttachFailed,
    DeadlineExceeded,
    JdebugError,
    StrategyUnavailable,
    TargetNotFound,
)
from bot.model.request import Options
from bot.model.results import StepOutput
from bot.model.spool import Spool

AttachTool = Literal["auto", "jattach", "jcmd"]

AGENT_SCRIPT: str = files("bot.jvm").joinpath("agent.sh").read_text(encoding="utf-8")

EXIT_USAGE, EXIT_NO_JVM, EXIT_AMBIGUOUS, EXIT_IDENTITY = 2, 3, 4, 5
EXIT_TOOL_FAILED, EXIT_NO_TOOL, EXIT_ATTACH_DISABLED = 6, 7, 8
EXIT_TMP_READ_ONLY, EXIT_NOT_READY, EXIT_DEADLINE = 9, 10, 124


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
    jcmd_line: str | None,
    step_name: str,
    options: Options,
    *,
    deadline_s: int,
    pid: int | None = None,
    match: str | None = None,
    attach_tool: AttachTool = "auto",
) -> AgentCall:
    """The agent call for one tool: `count` runs of `jcmd_line`, `interval_s` apart.

    With `jcmd_line` None (jps) the agent only lists the JVMs it can see. `attach_tool`
    `auto` prefers jattach (milliseconds, works across mount namespaces) over jcmd.
    """
    nonce = secrets.token_hex(6)
    args: list[str] = ["-n", nonce, "-d", str(deadline_s), "-t", attach_tool]
    if pid is not None:
        args += ["-p", str(pid)]
    if match:
        args += ["-m", match]
    steps: list[str] = []
    if jcmd_line is not None:
        for i in range(1, options.count + 1):
            if i > 1:
                steps.append(f"sleep:{options.interval_s}")
            name = step_name if options.count == 1 else f"{step_name}.{i}"
            steps.append(f"jcmd:{name}:{jcmd_line}")
    return AgentCall(tuple(args), tuple(steps), nonce, deadline_s)


@dataclass(frozen=True)
class AgentOutput:
    """The agent's stdout split into the JVM list, the tool steps, and any failure."""

    jvms: tuple[JvmInfo, ...]
    jvm_text: str
    steps: tuple[StepOutput, ...]
    tools: tuple[str, ...]
    fail_rc: int | None
    fail_message: str | None
    unframed: str

    @property
    def target(self) -> JvmInfo | None:
        """The JVM the tool steps ran against, when any ran."""
        pids = {s.pid for s in self.steps}
        return next((j for j in self.jvms if j.pid in pids), None)


_FIELD = re.compile(r"(\w+)=(\S*)")


def _marker_lines(text: str, marker: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, content) of each line that begins with `marker`; `end` is past its
    newline. Found with str.find, so a 50 MB dump is never split into lines."""
    found = 0 if text.startswith(marker) else _next_marker(text, marker, 0)
    while found >= 0:
        eol = text.find("\n", found)
        stop = len(text) if eol < 0 else eol + 1
        yield found, stop, text[found + len(marker) : stop].rstrip("\n")
        found = _next_marker(text, marker, stop - 1) if eol >= 0 else -1


def _next_marker(text: str, marker: str, after: int) -> int:
    """The start of the next line beginning with `marker` at or after `after`, or -1."""
    hit = text.find("\n" + marker, after)
    return hit + 1 if hit >= 0 else -1


def parse_agent_output(stdout: str | Spool, nonce: str) -> AgentOutput:
    """Split framed agent output; text outside frames is kept (it explains odd failures).

    Each step's text is one slice of `stdout`; from a `Spool` it is decoded straight from
    the file, so the whole output is never in memory next to it.
    """
    marker = f"@@jdebug:{nonce} "
    if isinstance(stdout, str):
        return _split_frames(
            _marker_lines(stdout, marker),
            len(stdout),
            lambda spans: "".join(stdout[start:stop] for start, stop in spans),
        )
    return _split_frames(_spooled_marker_lines(stdout, marker), stdout.size, stdout.text)


def _spooled_marker_lines(spool: Spool, marker: str) -> Iterator[tuple[int, int, str]]:
    """`_marker_lines` of a spool, in byte offsets: markers are ASCII and begin and end at
    line breaks, so the spans between them decode alone to what slicing the text gives."""
    prefix = marker.encode()
    for start in spool.line_starts(prefix):
        line = spool.line_at(start)
        content = line[len(prefix) :].decode("utf-8", "replace").rstrip("\n")
        yield start, start + len(line), content


def _split_frames(
    markers: Iterable[tuple[int, int, str]],
    size: int,
    text_of: Callable[[Sequence[tuple[int, int]]], str],
) -> AgentOutput:
    """The frames between `markers` (start, end, content) of an output of `size`, whose
    text `text_of` gives for (start, end) spans."""
    steps: list[StepOutput] = []
    tools: list[str] = []
    jvm_text = ""
    unframed: list[tuple[int, int]] = []
    fail_rc: int | None = None
    fail_message: str | None = None
    current: dict[str, str] | None = None
    body_start = cursor = 0
    for start, stop, content in markers:
        if current is None and start > cursor:
            unframed.append((cursor, start))
        kind, _, rest = content.partition(" ")
        fields = dict(_FIELD.findall(rest))
        if kind == "begin":
            if current is not None:  # a step that never ended: keep what it printed
                unframed.append((body_start, start))
            current, body_start = fields, stop
        elif kind == "end" and current is not None:
            body = text_of([(body_start, start)])
            if current.get("step") == "jvms":
                jvm_text = body
            else:
                pid, rc = current.get("pid", "-"), fields.get("rc", "")
                steps.append(
                    StepOutput(
                        name=current.get("step", "?"),
                        pid=int(pid) if pid.isdigit() else None,
                        exit_code=int(rc) if rc.isdigit() else -1,
                        text=body,
                    )
                )
                tools.append(current.get("tool", "?"))
            current = None
        elif kind == "fail":
            fail_rc = int(fields["rc"]) if fields.get("rc", "").isdigit() else 1
            fail_message = rest.partition(" ")[2]
        cursor = stop
    # Cut off mid-step (or text after the last marker): keep what arrived.
    tail = body_start if current is not None else cursor
    if tail < size:
        unframed.append((tail, size))
    return AgentOutput(
        jvms=parse_jvm_lines(jvm_text),
        jvm_text=jvm_text,
        steps=tuple(steps),
        tools=tuple(tools),
        fail_rc=fail_rc,
        fail_message=fail_message,
        unframed=text_of(unframed),
    )


# A JVM that cannot run its Signal Dispatcher thread (hung, in a safepoint that does not end,
# or stopped) never starts its attach listener; the tools then time out with these words.
NOT_ANSWERING = (
    "the JVM did not answer the attach handshake in time: it may be hung or stuck in a long "
    "safepoint (such as a long GC pause), or it ignores SIGQUIT; check its CPU use and GC log, "
    "and try again once it responds"
)

# What the tools print when an attach or a command fails, with the sentence a user reads.
# Exit codes alone are unreliable (facts/jvm-attach.md), so the text decides.
_TOOL_FAILURES: tuple[tuple[str, str], ...] = (
    (
        "Unknown diagnostic command",
        "the JVM does not know this diagnostic command (it may be too old for it)",
    ),
    (
        "The VM does not support the attach mechanism",
        "the JVM refuses attach (-XX:+DisableAttachMechanism)",
    ),
    # jattach's words when the JVM never created its socket after SIGQUIT (jattach 2.1,
    # src/posix/jattach_hotspot.c); jcmd's are "Unable to open socket file" below.
    ("Could not start attach mechanism", NOT_ANSWERING),
    (
        "Read-only file system",
        "the JVM's /tmp is read-only, so the attach socket cannot be "
        "created; mount an emptyDir at /tmp",
    ),
    (
        "is not secure",
        "the attach socket belongs to another user; the debug process must run "
        "as the JVM's uid and gid",
    ),
    ("Unable to open socket file", NOT_ANSWERING),
    ("AttachNotSupportedException", "the JVM did not accept the attach"),
    (
        "Permission denied",
        "permission denied while attaching; the debug process must run as the JVM's uid and gid",
    ),
    ("Connection refused", "the JVM's attach socket refused the connection"),
)


def tool_failure(step: StepOutput) -> str | None:
    """Why a step failed, in one sentence, or None when its text looks like a real answer."""
    for needle, sentence in _TOOL_FAILURES:
        if needle in step.text:
            detail = next((ln.strip() for ln in step.text.splitlines() if needle in ln), "")
            return f"{sentence}. The tool said: {detail[:300]}"
    if step.exit_code != 0:
        first = next((ln.strip() for ln in step.text.splitlines() if ln.strip()), "no output")
        return f"the tool exited with {step.exit_code}: {first[:300]}"
    return None


def raise_for_agent(out: AgentOutput, exit_code: int, stderr: str) -> None:
    """Turn an agent failure into the matching user-facing error; return when all went well."""
    rc = out.fail_rc if out.fail_rc is not None else exit_code
    message = out.fail_message or _last_words(stderr) or _last_words(out.unframed)
    if rc == EXIT_AMBIGUOUS:
        candidates = tuple(j.describe() for j in out.jvms)
        raise AmbiguousTarget(
            f"{len(candidates)} JVMs match; pick one with pid=N: " + "; ".join(candidates),
            candidates,
        )
    if rc == EXIT_NO_JVM:
        raise TargetNotFound(message or "no JVM is running in the target")
    if rc == EXIT_DEADLINE:
        raise DeadlineExceeded(message or "the agent's deadline passed")
    if rc == EXIT_NO_TOOL:
        raise StrategyUnavailable(message or "the debug image has no JDK tool")
    if rc in (EXIT_IDENTITY, EXIT_ATTACH_DISABLED, EXIT_TMP_READ_ONLY, EXIT_NOT_READY):
        raise AttachFailed(message or f"attach refused (agent exit {rc})")
    for step in out.steps:
        reason = tool_failure(step)
        if reason:
            raise AttachFailed(f"{step.name} failed on pid {step.pid}: {reason}")
    if rc not in (0, EXIT_TOOL_FAILED):
        raise JdebugError(
            f"the debug agent failed (exit {rc})" + (f": {message}" if message else "")
        )


def _last_words(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""
