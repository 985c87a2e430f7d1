"""Run the agent as a local child process with a hard deadline, and kill its whole group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import DeadlineExceeded


@dataclass(frozen=True)
class ProcessOutput:
    stdout: str
    stderr: str
    exit_code: int
    pid: int


async def run_process(argv: Sequence[str], env: dict[str, str], timeout_s: float) -> ProcessOutput:
    """Run `argv` in its own session; on timeout kill the group and raise DeadlineExceeded."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(timeout_s):
            stdout, stderr = await proc.communicate()
    except BaseException:
        # Timeout or cancellation: nothing we started may outlive the request.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    return ProcessOutput(
        stdout.decode("utf-8", "replace"),
        stderr.decode("utf-8", "replace"),
        proc.returncode if proc.returncode is not None else -1,
        proc.pid,
    )


async def run_bounded(argv: Sequence[str], env: dict[str, str], timeout_s: float) -> ProcessOutput:
    """`run_process`, with the timeout turned into the user-facing error."""
    try:
        return await run_process(argv, env, timeout_s)
    except TimeoutError:
        raise DeadlineExceeded(f"the local agent did not finish within {timeout_s:.0f}s") from None
