"""`pods/log`: container, follow, tailLines, timestamps, previous, sinceSeconds, limitBytes.

Reads the CRI-format files the kubelet writes; messages for bad container names and not-yet
started containers are the kubelet's own.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from kubesim.apiserver.context import Ctx
from kubesim.apiserver.pods import get_pod
from kubesim.kubelet.podstatus import ContainerRecord
from kubesim.status import bad_request


def _pick_container(ctx: Ctx, pod: dict[str, object]) -> str:
    spec = pod["spec"]
    assert isinstance(spec, dict)
    regular = [str(c["name"]) for c in spec.get("containers") or []]
    ephemeral = [str(c["name"]) for c in spec.get("ephemeralContainers") or []]
    name = ctx.query.get("container", "")
    pod_name = ctx.info.name
    if not name:
        if len(regular) == 1:
            return regular[0]
        extra = f" or one of the ephemeral containers: [{' '.join(ephemeral)}]" if ephemeral else ""
        raise bad_request(
            f"a container name must be specified for pod {pod_name}, choose one of: "
            f"[{' '.join(regular)}]{extra}"
        )
    if name not in regular + ephemeral:
        raise bad_request(f"container {name} is not valid for pod {pod_name}")
    return str(name)


def _render(line: str, timestamps: bool) -> str:
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 3:
        return ""
    stamp, tag = parts[0], parts[2]
    text = parts[3] if len(parts) > 3 else ""
    end = "\n" if tag == "F" else ""
    return f"{stamp} {text}{end}" if timestamps else f"{text}{end}"


def _since(ctx: Ctx) -> str:
    seconds = ctx.query.get("sinceSeconds")
    if not seconds:
        return ""
    start = datetime.now(UTC) - timedelta(seconds=int(seconds))
    return start.strftime("%Y-%m-%dT%H:%M:%S.%f")


async def handle(ctx: Ctx) -> web.StreamResponse:
    pod = get_pod(ctx)
    name = _pick_container(ctx, pod)
    run = ctx.cluster.kubelet.run_of(pod)
    record: ContainerRecord | None = run.records.get(name) if run else None
    previous = ctx.query.get("previous", "") in ("true", "1")
    logs = record.logs if record else []
    if previous:
        # The instance before the current restart, as the kubelet numbers them.
        if record is None or record.restart_count < 1 or len(logs) < record.restart_count:
            raise bad_request(
                f'previous terminated container "{name}" in pod "{ctx.info.name}" not found'
            )
        path: Path = logs[record.restart_count - 1]
    elif not logs:
        reason = record.state_reason() if record else "ContainerCreating"
        raise bad_request(
            f'container "{name}" in pod "{ctx.info.name}" is waiting to start: {reason}'
        )
    else:
        path = logs[-1]
    timestamps = ctx.query.get("timestamps", "") in ("true", "1")
    follow = ctx.query.get("follow", "") in ("true", "1") and not previous
    lines = path.read_text(errors="replace").splitlines(keepends=True) if path.exists() else []
    since = _since(ctx)
    if since:
        lines = [line for line in lines if line[:26] >= since]
    if (tail := ctx.query.get("tailLines")) is not None:
        lines = lines[-int(tail) :] if int(tail) > 0 else []
    text = "".join(_render(line, timestamps) for line in lines)
    if limit := ctx.query.get("limitBytes"):
        text = text.encode()[: int(limit)].decode(errors="ignore")
    if not follow:
        return web.Response(text=text, content_type="text/plain")
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(ctx.request)
    await response.write(text.encode())
    offset = path.stat().st_size if path.exists() else 0
    while True:
        done = (
            record is None
            or path is not (record.logs[-1] if record.logs else None)
            or "running" not in record.state
        )
        with path.open("r", errors="replace") as handle_:
            handle_.seek(offset)
            chunk = handle_.read()
            offset = handle_.tell()
        complete = chunk[: chunk.rfind("\n") + 1]
        offset -= len(chunk.encode()) - len(complete.encode())
        if complete:
            await response.write(
                "".join(_render(x, timestamps) for x in complete.splitlines(keepends=True)).encode()
            )
        if done and not complete:
            break
        await asyncio.sleep(0.1)
    await response.write_eof()
    return response
