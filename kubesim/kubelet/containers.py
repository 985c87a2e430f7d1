"""One running container process: start it, capture its output in CRI log format, wait, stop.

The log file uses the kubelet's CRI line format (`<RFC3339Nano> stdout|stderr F <text>`) so
`pods/log` can filter streams, add timestamps and tail exactly as a kubelet would. Output is
also handed, as it comes, to whoever is attached (`pods/attach`), and attached clients write
to the container's stdin when it was started with `stdin: true`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

from kubesim.kubelet.runtime import FAILED, READY, LaunchSpec, descendants, kill_all, launch_argv

START_TIMEOUT = 20.0
# How containerd and the kubelet report a process runc could not start: the container is
# terminated with reason StartError and exit code 128 (containerd's CRI, container_start.go;
# runc, libcontainer/standard_init_linux.go).
START_FAILED = (
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
    "runc create failed: unable to start container process: {}: unknown"
)


class StartError(Exception):
    """The container's setup or command could not start; `exit_code` as the kubelet reports it."""

    def __init__(self, message: str, exit_code: int = 128) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def cri_timestamp() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


def exit_code(returncode: int | None) -> int:
    if returncode is None:
        return 0
    return 128 - returncode if returncode < 0 else returncode


class ContainerProcess:
    """A started container; `pid` is its main process as the host sees it."""

    def __init__(self, proc: asyncio.subprocess.Process, pid: int, log_path: Path) -> None:
        self.proc = proc
        self.pid = pid
        self.log_path = log_path
        self._log = log_path.open("a", encoding="utf-8")
        self._pumps: list[asyncio.Task[None]] = []
        # Attached clients: each gets (stream name, bytes) as the container writes them.
        self.listeners: set[asyncio.Queue[tuple[str, bytes]]] = set()
        # Set once stdout and stderr have both ended (everything written has been read).
        self.output_done = asyncio.Event()

    @classmethod
    async def start(
        cls,
        spec: LaunchSpec,
        log_path: Path,
        *,
        stdin: bool,
        spawned: list[asyncio.subprocess.Process],
    ) -> ContainerProcess:
        """Start and wait for the setup's ready line; `spawned` gets the process at once, so
        whoever stops the pod can kill it even if this start is cancelled half-way."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *launch_argv(spec),
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        spawned.append(proc)
        assert proc.stdout is not None and proc.stderr is not None
        try:
            first = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            kill_all(descendants(proc.pid))
            await proc.wait()
            raise StartError("container setup timed out") from None
        if first.startswith(FAILED.encode()):
            await proc.wait()
            reason = first.decode(errors="replace")[len(FAILED) :].strip()
            raise StartError(START_FAILED.format(reason), 128)
        if not first.startswith(READY.encode()):
            err = await proc.stderr.read()
            await proc.wait()
            text = (first + err).decode(errors="replace").strip()
            raise StartError(text or "container setup failed", exit_code(proc.returncode))
        running = cls(proc, int(first.split()[1]), log_path)
        running._pumps = [
            asyncio.create_task(running._pump(proc.stdout, "stdout")),
            asyncio.create_task(running._pump(proc.stderr, "stderr")),
        ]
        done = asyncio.gather(*running._pumps, return_exceptions=True)
        done.add_done_callback(lambda _: running.output_done.set())
        return running

    async def _pump(self, stream: asyncio.StreamReader, name: str) -> None:
        pending = b""
        while chunk := await stream.read(65536):
            for queue in list(self.listeners):
                queue.put_nowait((name, chunk))
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._write_log(name, "F", line)
            if len(pending) >= 16384:  # the kubelet splits long lines at 16 KiB, tagged P
                self._write_log(name, "P", pending)
                pending = b""
        if pending:
            self._write_log(name, "P", pending)

    def _write_log(self, name: str, tag: str, line: bytes) -> None:
        text = line.decode(errors="replace")
        self._log.write(f"{cri_timestamp()} {name} {tag} {text}\n")
        self._log.flush()

    async def wait(self) -> int:
        code = await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._pumps), 5)
        self._log.close()
        return exit_code(code)

    async def stop(self, grace: float) -> None:
        """SIGTERM the main process, then SIGKILL everything that is left after `grace` s."""
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace)
        self.kill()
        await self.proc.wait()

    def kill(self) -> None:
        kill_all(reversed(descendants(self.proc.pid)))
