"""Agent failures as the user-facing errors of `bot.model.errors`: exit codes for the agent's
own checks, and the tools' own words (exit codes alone are unreliable) for attach failures.
"""

from __future__ import annotations

from bot.jvm.agent import (
    EXIT_AMBIGUOUS,
    EXIT_ATTACH_DISABLED,
    EXIT_DEADLINE,
    EXIT_FILE_FAILED,
    EXIT_IDENTITY,
    EXIT_NO_JVM,
    EXIT_NO_TOOL,
    EXIT_NOT_READY,
    EXIT_RECORDING_RUNS,
    EXIT_TMP_READ_ONLY,
    EXIT_TOOL_FAILED,
)
from bot.jvm.agent_frames import AgentFrames
from bot.model.errors import (
    AmbiguousTarget,
    AttachFailed,
    Choice,
    DeadlineExceeded,
    JdebugError,
    StrategyUnavailable,
    TargetNotFound,
)
from bot.model.results import StepOutput

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
    # jdebug-attach's words for the same (native/jdebug-attach.c, start_listener).
    ("did not start its attach listener", NOT_ANSWERING),
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
    # JFR.start's answer (exit 0) in a JVM started with -XX:-FlightRecorder, JDK 11 to 25.
    (
        "Flight Recorder is disabled",
        "JFR is disabled in this JVM (-XX:-FlightRecorder), so it cannot be profiled until it "
        "restarts without that flag; `hot` shows the busy threads without JFR",
    ),
)


def known_failure(step: StepOutput) -> str | None:
    """The sentence for a step whose text holds one of the tools' known failure words."""
    for needle, sentence in _TOOL_FAILURES:
        if needle in step.text:
            detail = next((ln.strip() for ln in step.text.splitlines() if needle in ln), "")
            return f"{sentence}. The tool said: {detail[:300]}"
    return None


def tool_failure(step: StepOutput) -> str | None:
    """Why a step failed, in one sentence, or None when its text looks like a real answer."""
    known = known_failure(step)
    if known:
        return known
    if step.exit_code != 0:
        first = next((ln.strip() for ln in step.text.splitlines() if ln.strip()), "no output")
        return f"the tool exited with {step.exit_code}: {first[:300]}"
    return None


def raise_for_agent(
    out: AgentFrames, exit_code: int, stderr: str, optional: frozenset[str] = frozenset()
) -> None:
    """Turn an agent failure into the matching user-facing error; return when all went well.
    Steps named in `optional` may have failed: their analyser reads what the JVM said."""
    rc = out.fail_rc if out.fail_rc is not None else exit_code
    message = out.fail_message or _last_words(stderr) or _last_words(out.unframed)
    if rc == EXIT_AMBIGUOUS:
        raise AmbiguousTarget(
            f"{len(out.jvms)} JVMs match; pick one with pid=N: "
            + "; ".join(j.describe() for j in out.jvms),
            tuple(Choice(j.describe(), "pid", str(j.pid)) for j in out.jvms),
        )
    if rc == EXIT_NO_JVM:
        raise TargetNotFound(message or "no JVM is running in the target")
    if rc == EXIT_DEADLINE:
        raise DeadlineExceeded(message or "the agent's deadline passed")
    if rc == EXIT_NO_TOOL:
        raise StrategyUnavailable(message or "the debug image has no JDK tool")
    if rc == EXIT_FILE_FAILED:
        # The file is missing because an earlier step was refused: say why, not that it is.
        for step in out.steps:
            reason = known_failure(step)
            if reason:
                raise AttachFailed(f"{step.name} failed on pid {step.pid}: {reason}")
    if rc in (
        EXIT_IDENTITY,
        EXIT_ATTACH_DISABLED,
        EXIT_TMP_READ_ONLY,
        EXIT_NOT_READY,
        EXIT_RECORDING_RUNS,
        EXIT_FILE_FAILED,
    ):
        raise AttachFailed(message or f"attach refused (agent exit {rc})")
    for step in out.steps:
        if step.name in optional:
            continue
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
