"""Running a command in a container over the websocket `pods/exec`, or attaching to one over
`pods/attach`, blocking, in a worker thread.

It reads stdout, stderr and the exit code from the stream's channels and always closes the
socket, which websocket-client would otherwise leave open after the server's close frame.
The websocket is opened here rather than by `kubernetes.stream`: that sends no header but
Authorization (an impersonated exec needs its own), holds all output in memory (an agent's
can be tens of MB; here stdout may go to a Spool as it arrives), and needs the generated
CoreV1Api module, 60,000 lines and megabytes of the bot's memory, which nothing else uses.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

import websocket
from kubernetes import client
from kubernetes.stream.ws_client import websocket_proxycare

from bot.kube.calls import impersonation_headers, too_slow
from bot.kube.errors import (
    KubeBadRequest,
    KubeError,
    KubeExecFailed,
    KubeServerError,
    KubeUnreachable,
    error_from_status,
)
from bot.model.identity import KubeIdentity
from bot.model.spool import Spool

_STDIN, _STDOUT, _STDERR, _STATUS = 0, 1, 2, 3
_CHANNELS = (_STDOUT, _STDERR, _STATUS)
_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"]


@dataclass(frozen=True)
class ExecResult:
    stdout: str
    stderr: str
    exit_code: int


@dataclass(frozen=True)
class SpooledResult:
    """An exec's or attach's result whose stdout went to a Spool (a temporary file the caller
    closes) as it arrived: an agent's output can be tens of MB, and is never in memory."""

    stdout: Spool
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
    identity: KubeIdentity | None = None,
) -> ExecResult:
    """Run `argv` and wait up to `seconds` for it to end; the process is not killed then.
    With `identity`, the websocket carries its impersonation headers."""
    ends = time.monotonic() + seconds
    channels = _exec_stream(configuration, identity, what, namespace, pod, container, argv, ends)
    stdout, stderr, status = (channels[c].decode(errors="replace") for c in _CHANNELS)
    return ExecResult(stdout, stderr, _exit_code(status, f"{namespace}/{pod}/{container}"))


def exec_spooled_in_thread(
    configuration: client.Configuration,
    what: str,
    namespace: str,
    pod: str,
    container: str,
    argv: list[str],
    seconds: float,
    identity: KubeIdentity | None = None,
) -> SpooledResult:
    """`exec_in_thread` with stdout written to a Spool as it arrives."""
    ends = time.monotonic() + seconds
    sink = Spool()
    try:
        channels = _exec_stream(
            configuration, identity, what, namespace, pod, container, argv, ends, sink
        )
        stderr, status = (channels[c].decode(errors="replace") for c in (_STDERR, _STATUS))
        return SpooledResult(sink, stderr, _exit_code(status, f"{namespace}/{pod}/{container}"))
    except BaseException:
        sink.close()
        raise


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
    error = error_from_status(code if isinstance(code, int) else 0, status_text)
    if isinstance(error, (KubeServerError, KubeBadRequest)) or type(error) is KubeError:
        # The kubelet reports a command the runtime could not start as a Failure with the
        # runtime's words and no ExitCode cause (pkg/kubelet/cri/streaming/remotecommand).
        raise KubeExecFailed(
            f"the container cannot run {where.rpartition('/')[2]}'s command: {error.message}",
            status=error.status,
            reason=error.reason,
            kube_message=error.kube_message,
        )
    raise error


def _exec_stream(
    configuration: client.Configuration,
    identity: KubeIdentity | None,
    what: str,
    namespace: str,
    pod: str,
    container: str,
    argv: list[str],
    ends: float,
    sink: Spool | None = None,
) -> dict[int, bytearray]:
    """The exec websocket (with `Impersonate-*` lines for `identity`); the bytes of stdout
    (unless they went to `sink`), stderr and status once the server closes the stream."""
    query = [("container", container), *(("command", arg) for arg in argv)]
    query += [("stdout", "true"), ("stderr", "true")]
    return _stream(configuration, identity, what, namespace, pod, "exec", query, None, ends, sink)


def attach_in_thread(
    configuration: client.Configuration,
    what: str,
    namespace: str,
    pod: str,
    container: str,
    stdin: bytes,
    seconds: float,
    identity: KubeIdentity | None = None,
) -> SpooledResult:
    """Attach to a running container started with `stdin: true`, write `stdin` to it, and
    collect what it prints until it exits (the server then closes the stream), stdout into a
    Spool as it arrives. The exit code is not on this stream: -1."""
    ends = time.monotonic() + seconds
    query = [("container", container), ("stdin", "true"), ("stdout", "true"), ("stderr", "true")]
    sink = Spool()
    try:
        channels = _stream(
            configuration, identity, what, namespace, pod, "attach", query, stdin, ends, sink
        )
        stderr, status = (channels[c].decode(errors="replace") for c in (_STDERR, _STATUS))
        if status:
            _exit_code(status, f"{namespace}/{pod}/{container}")  # a Failure: the server's error
    except BaseException:
        sink.close()
        raise
    return SpooledResult(sink, stderr, -1)


def _stream(
    configuration: client.Configuration,
    identity: KubeIdentity | None,
    what: str,
    namespace: str,
    pod: str,
    subresource: str,
    query: list[tuple[str, str]],
    stdin: bytes | None,
    ends: float,
    sink: Spool | None = None,
) -> dict[int, bytearray]:
    """A `pods/exec` or `pods/attach` websocket opened by hand (so it can carry
    `Impersonate-*` lines): optionally one stdin frame, then every frame until the server
    closes the stream, by channel; stdout's go to `sink` instead, when given."""
    seconds = max(ends - time.monotonic(), 0.0)  # the whole allowance, for the message
    api_client = client.ApiClient(configuration)
    try:
        _, url, headers, _, _ = api_client.param_serialize(
            method="GET",
            resource_path=f"/api/v1/namespaces/{{namespace}}/pods/{{name}}/{subresource}",
            path_params={"namespace": namespace, "name": pod},
            query_params=query,
            header_params={},
            auth_settings=["BearerToken"],
        )
    finally:
        api_client.close()  # type: ignore[no-untyped-call]
    lines = [f"{k}: {v}" for k, v in headers.items() if k.lower() == "authorization"]
    if identity is not None:
        lines += [f"{name}: {value}" for name, value in impersonation_headers(identity)]
    ws = websocket.WebSocket(sslopt=_ssl_options(configuration))
    channels = {channel: bytearray() for channel in _CHANNELS}
    try:
        try:
            ws.connect(  # type: ignore[no-untyped-call]
                "ws" + url[len("http") :],
                header=lines,
                subprotocols=_PROTOCOLS,
                timeout=max(ends - time.monotonic(), 0.05),
                # The kubeconfig's proxy-url (and no_proxy, proxy auth), as the client's
                # own websockets get them.
                **websocket_proxycare({}, configuration, None, None),  # type: ignore[no-untyped-call]
            )
        except websocket.WebSocketBadStatusException as exc:
            raise error_from_status(
                exc.status_code,
                exc.resp_body,
                dict(exc.resp_headers or {}),
                str(exc.status_message or ""),
            ) from exc
        if stdin is not None:
            ws.send(bytes([_STDIN]) + stdin, opcode=websocket.ABNF.OPCODE_BINARY)
        while True:
            ws.settimeout(max(ends - time.monotonic(), 0.05))
            try:
                opcode, data = ws.recv_data()
            except websocket.WebSocketTimeoutException as exc:
                raise too_slow(what, seconds) from exc
            except websocket.WebSocketConnectionClosedException:
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            if data and data[0] == _STDOUT and sink is not None:
                sink.write(data[1:])
            elif data and data[0] in channels:
                channels[data[0]] += data[1:]
    finally:
        ws.shutdown()  # type: ignore[no-untyped-call]
    return channels


def _ssl_options(configuration: client.Configuration) -> dict[str, Any]:
    """TLS as the client's own websockets set it up: the kubeconfig's CA, client certificate
    and server name."""
    if not configuration.verify_ssl:
        return {"cert_reqs": ssl.CERT_NONE}
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
    if configuration.ssl_ca_cert:
        options["ca_certs"] = configuration.ssl_ca_cert
    if configuration.assert_hostname is not None:
        options["check_hostname"] = configuration.assert_hostname
    if configuration.cert_file:
        options["certfile"] = configuration.cert_file
    if configuration.key_file:
        options["keyfile"] = configuration.key_file
    if configuration.tls_server_name:
        options["server_hostname"] = configuration.tls_server_name
    return options
