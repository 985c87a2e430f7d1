"""Run the agent as a local child process with a hard deadline, and kill its whole group."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from bot.model.errors import DeadlineExceeded
from bot.model.spool import SLICE_BYTES, Spool


@dataclass(frozen=True)
class ProcessOutput:
    """What the process printed; whoever reads `stdout` closes it."""

    stdout: Spool
    stderr: str
    exit_code: int
    pid: int


async def run_process(argv: Sequence[str], env: dict[str, str], timeout_s: float) -> ProcessOutput:
    """Run `argv` in its own session; on timeout kill the group and raise DeadlineExceeded.

    Stdout goes to a `Spool` as it arrives (a thread dump can be tens of MB); stderr is
    short and read as text.
    """
    spool = Spool()
    try:
        stderr, exit_code, pid = await _run(argv, env, timeout_s, spool)
    except BaseException:
        spool.close()
        raise
    return ProcessOutput(spool, stderr, exit_code, pid)


async def _run(
    argv: Sequence[str], env: dict[str, str], timeout_s: float, spool: Spool
) -> tuple[str, int, int]:
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
            _, stderr = await asyncio.gather(_spool(proc.stdout, spool), _read_text(proc.stderr))
            await proc.wait()
    except BaseException:
        # Timeout or cancellation: nothing we started may outlive the request.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    return stderr, proc.returncode if proc.returncode is not None else -1, proc.pid


async def _spool(stream: asyncio.StreamReader, spool: Spool) -> None:
    """Write what arrives to `spool` until the stream ends (every writer has closed it)."""
    while chunk := await stream.read(SLICE_BYTES):
        spool.write(chunk)


async def _read_text(stream: asyncio.StreamReader) -> str:
    """Decode as it arrives (1 MiB at a time)."""
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
