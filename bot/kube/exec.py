"""Running a command in a container over the websocket `pods/exec`, blocking, in a worker thread.

It reads stdout, stderr and the exit code from the stream's channels and always closes the
socket, which websocket-client would otherwise leave open after the server's close frame.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from kubernetes import client
from kubernetes.stream import stream

from bot.kube.calls import too_slow
from bot.kube.errors import KubeError, KubeUnreachable, error_from_status

_STDOUT, _STDERR, _STATUS = 1, 2, 3


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    exit_code: int


def exec_in_thread(
    configuration: client.Configuration,
    what: str,
    namespace: str,
    pod: str,
    container: str,
    argv: list[str],
    seconds: float,
) -> ExecResult:
    """Run `argv` and wait up to `seconds` for it to end; the process is not killed then."""
    ends = time.monotonic() + seconds
    # stream() swaps `call_api` on the ApiClient it is handed while it connects, so each exec
    # gets its own ApiClient instead of racing the calls sharing the caller's.
    api_client = client.ApiClient(configuration)
    try:
        # websocket-client connects without a timeout (the client passes none): a server
        # that accepts TCP but never answers the upgrade keeps this thread until the OS gives
        # up, though the caller still gets DeadlineExceeded on time.
        ws = stream(
            client.CoreV1Api(api_client).connect_get_namespaced_pod_exec,
            pod,
            namespace,
            container=container,
            command=argv,
            stdin=False,
            stdout=True,
            stderr=True,
            tty=False,
            _preload_content=False,
        )
    finally:
        api_client.close()  # type: ignore[no-untyped-call]
    try:
        ws.sock.settimeout(max(ends - time.monotonic(), 0.05))
        ws.run_forever(timeout=max(ends - time.monotonic(), 0.05))
        if ws.is_open():
            raise too_slow(what, seconds)
        stdout = str(ws.read_channel(_STDOUT))
        stderr = str(ws.read_channel(_STDERR))
        status = str(ws.read_channel(_STATUS))
    finally:
        ws.close()
        # After the server's close frame websocket-client thinks the socket is closed and
        # leaves it open; shutdown() really closes it (and is a no-op when already done).
        ws.sock.shutdown()
    return ExecResult(stdout, stderr, _exit_code(status, f"{namespace}/{pod}/{container}"))


def _exit_code(status_text: str, where: str) -> int:
    """The exit code from the exec status channel: `Success`, or `NonZeroExitCode` with the code
    in `details.causes[reason=ExitCode]`; any other Failure is the server's error."""
    if not status_text:
        raise KubeUnreachable(f"the exec stream for {where} closed without reporting an exit code")
    try:
        status = json.loads(status_text)
    except ValueError:
        status = None
    if not isinstance(status, dict):
        raise KubeError(f"the exec stream for {where} sent an unreadable status: {status_text!r}")
    if status.get("status") == "Success":
        return 0
    causes = (status.get("details") or {}).get("causes") or []
    for cause in causes:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message", ""))
            except ValueError:
                break
    code = status.get("code")
    raise error_from_status(code if isinstance(code, int) else 0, status_text)
