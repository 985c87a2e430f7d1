"""Startup, readiness and liveness probes (exec, httpGet, tcpSocket), as the kubelet runs them.

One worker per probe (pkg/kubelet/prober/worker.go): it waits `initialDelaySeconds`, then
probes every `periodSeconds` with a `timeoutSeconds` deadline, and flips the result after
`failureThreshold` failures or `successThreshold` successes in a row. Readiness decides the
container's `ready` (and so the pod's Ready condition, which Deployments and Services follow);
a failed liveness or startup probe makes the kubelet kill the container, which then restarts
under its restartPolicy. Failures are recorded as `Unhealthy` Events with the prober's texts
(pkg/kubelet/prober/prober.go; pkg/probe/http/http.go `HTTP probe failed with statuscode: N`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from kubesim.kubelet.enter import NotRunning, start_in
from kubesim.kubelet.podstatus import ContainerRecord

POD_IP = "127.0.0.1"  # pods share the host's network here


@dataclass(frozen=True)
class Outcome:
    ok: bool
    output: str


def _port(record: ContainerRecord, port: Any) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in record.spec.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"unknown port {port!r}")


async def _exec(record: ContainerRecord, action: dict[str, Any], limit: float) -> Outcome:
    command = [str(a) for a in action.get("command") or []]
    try:
        entered = await start_in(record, command, merge=True)
    except NotRunning:
        return Outcome(False, "container is not running")
    assert entered.proc.stdout is not None
    try:
        out = await asyncio.wait_for(entered.proc.stdout.read(), limit)
        code = await asyncio.wait_for(entered.proc.wait(), limit)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            entered.proc.kill()
        await entered.proc.wait()
        await entered.failure()
        return Outcome(False, f"command {command!r} timed out")
    if failure := await entered.failure():
        return Outcome(False, failure)
    return Outcome(code == 0, out.decode(errors="replace"))


async def _http(record: ContainerRecord, action: dict[str, Any], limit: float) -> Outcome:
    scheme = str(action.get("scheme") or "HTTP").lower()
    host, port = str(action.get("host") or POD_IP), _port(record, action.get("port"))
    url = f"{scheme}://{host}:{port}{action.get('path') or '/'}"
    headers = {str(h["name"]): str(h["value"]) for h in action.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/1.31")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session,
            session.get(url, headers=headers, ssl=False, allow_redirects=True) as response,
        ):
            if 200 <= response.status < 400:
                return Outcome(True, "")
            return Outcome(False, f"HTTP probe failed with statuscode: {response.status}")
    except TimeoutError:
        why = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        return Outcome(False, f'Get "{url}": {why}')
    except aiohttp.ClientConnectionError:
        return Outcome(False, f'Get "{url}": dial tcp {host}:{port}: connect: connection refused')


async def _tcp(record: ContainerRecord, action: dict[str, Any], limit: float) -> Outcome:
    host, port = str(action.get("host") or POD_IP), _port(record, action.get("port"))
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), limit)
    except (OSError, TimeoutError):
        return Outcome(False, f"dial tcp {host}:{port}: connect: connection refused")
    writer.close()
    return Outcome(True, "")


async def probe_once(record: ContainerRecord, probe: dict[str, Any]) -> Outcome:
    limit = float(probe.get("timeoutSeconds") or 1)
    if "exec" in probe:
        return await _exec(record, probe["exec"], limit)
    if "httpGet" in probe:
        return await _http(record, probe["httpGet"], limit)
    if "tcpSocket" in probe:
        return await _tcp(record, probe["tcpSocket"], limit)
    return Outcome(True, "")


@dataclass
class ProbeHooks:
    """What a probe worker tells the kubelet: an Event, a readiness change, a kill."""

    event: Callable[[str, str], None]  # (reason, message), type Warning/Normal by reason
    ready: Callable[[bool], None]
    kill: Callable[[str], Awaitable[None]]  # the probe that failed: "liveness" or "startup"


async def run_probes(record: ContainerRecord, hooks: ProbeHooks, scale: float = 1.0) -> None:
    """Probe one running container until it stops (the caller cancels this task)."""
    spec = record.spec
    startup = spec.get("startupProbe")
    if startup and not await _worker(record, "Startup", startup, hooks, scale, until_success=True):
        await hooks.kill("startup")
        return
    tasks: list[Awaitable[object]] = []
    if readiness := spec.get("readinessProbe"):
        hooks.ready(False)
        tasks.append(_worker(record, "Readiness", readiness, hooks, scale))
    if liveness := spec.get("livenessProbe"):
        tasks.append(_liveness(record, liveness, hooks, scale))
    if tasks:
        await asyncio.gather(*tasks)


async def _liveness(
    record: ContainerRecord, probe: dict[str, Any], hooks: ProbeHooks, scale: float
) -> None:
    if not await _worker(record, "Liveness", probe, hooks, scale):
        await hooks.kill("liveness")


async def _worker(
    record: ContainerRecord,
    kind: str,
    probe: dict[str, Any],
    hooks: ProbeHooks,
    scale: float,
    until_success: bool = False,
) -> bool:
    """Probe until the result says to stop: False once a liveness/startup probe has failed
    `failureThreshold` times, True once a startup probe has succeeded."""
    period = float(probe.get("periodSeconds") or 10) * scale
    await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0) * scale)
    failures = successes = 0
    failure_threshold = int(probe.get("failureThreshold") or 3)
    success_threshold = int(probe.get("successThreshold") or 1)
    while record.is_running:
        outcome = await probe_once(record, probe)
        if outcome.ok:
            failures, successes = 0, successes + 1
            if kind == "Readiness" and successes >= success_threshold:
                hooks.ready(True)
            if until_success:
                return True
        else:
            failures, successes = failures + 1, 0
            hooks.event("Unhealthy", f"{kind} probe failed: {outcome.output}")
            if failures >= failure_threshold:
                if kind == "Readiness":
                    hooks.ready(False)
                else:
                    return False
        await asyncio.sleep(period)
    return True
