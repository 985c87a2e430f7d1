"""Run a command inside a running container, as `runc exec` does: for `pods/exec` and probes.

The command joins the container's namespaces, root, uid/gid, capabilities and cgroups (so its
memory counts against the container), through kubesim-init. When runc cannot start it (a
binary that is not in the image), kubesim-init says so on a separate pipe and containerd's
words are put around runc's: containerd's CRI exec (internal/cri/server/container_exec.go and
container_execsync.go: `failed to exec in container: failed to start exec "<id>": OCI runtime
exec failed: exec failed: unable to start container process: <runc>: unknown`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from dataclasses import dataclass

from kubesim.kubelet.podstatus import ContainerRecord
from kubesim.kubelet.runtime import exec_argv

EXEC_FAILED = (
    'failed to exec in container: failed to start exec "{id}": OCI runtime exec failed: '
    "exec failed: unable to start container process: {why}: unknown"
)


class NotRunning(Exception):
    """The container has no running process to enter."""


@dataclass
class Entered:
    """A command started inside a container; `failure()` is containerd's text if runc could
    not start it (read once the process has ended)."""

    proc: asyncio.subprocess.Process
    _errors: int

    async def failure(self) -> str | None:
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(None, _drain, self._errors)
        if not text:
            return None
        return EXEC_FAILED.format(id=secrets.token_hex(32), why=text.strip())


def _drain(fd: int) -> str:
    chunks = []
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


async def start_in(
    record: ContainerRecord, command: list[str], *, stdin: bool = False, merge: bool = False
) -> Entered:
    """Start `command` in `record`'s container; stderr goes to stdout when `merge`."""
    process, launch = record.process, record.launch
    if process is None or launch is None or not record.is_running:
        raise NotRunning(record.name)
    cgroups = record.cgroups.procs_files if record.cgroups else ()
    read_end, write_end = os.pipe()
    argv = exec_argv(process.pid, launch.identity, command, launch.workdir, cgroups, write_end)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if merge else asyncio.subprocess.PIPE,
            env=dict(launch.env),
            pass_fds=(write_end,),
            start_new_session=True,
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return Entered(proc, read_end)
