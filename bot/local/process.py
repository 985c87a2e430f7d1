"""Run the agent as a local child process with a hard deadline, and kill its whole group."""

from __future__ import annotations

import asyncio
import codecs
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
            assert proc.stdout is not None and proc.stderr is not None
            stdout, stderr = await asyncio.gather(_read_text(proc.stdout), _read_text(proc.stderr))
            await proc.wait()
    except BaseException:
        # Timeout or cancellation: nothing we started may outlive the request.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    return ProcessOutput(
        stdout, stderr, proc.returncode if proc.returncode is not None else -1, proc.pid
    )


async def _read_text(stream: asyncio.StreamReader) -> str:
    """Decode as it arrives (1 MiB at a time), so a 50 MB dump is never held as bytes and
    as text at once."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    parts = []
    while chunk := await stream.read(1 << 20):
        parts.append(decoder.decode(chunk))
    parts.append(decoder.decode(b"", final=True))
    return "".join(parts)


async def run_bounded(argv: Sequence[str], env: dict[str, str], timeout_s: float) -> ProcessOutput:
    """`run_process`, with the timeout turned into the user-facing error."""
    try:
        return await run_process(argv, env, timeout_s)
    except TimeoutError:
        raise DeadlineExceeded(f"the local agent did not finish within {timeout_s:.0f}s") from None
