"""One audit record per request, in a stable schema (README, "Audit log").

Who asked for what and where, what allowed or refused it, what ran (strategy, debug
container) and what came back: the size and SHA-256 of each raw output, never the output
itself and never a token. Written through structlog whatever the log level, and appended
as one JSON line to a file when one is configured.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog

from bot.jvm.catalog import find_tool
from bot.model.request import Request
from bot.model.results import Place, Result

SCHEMA_VERSION = 1
MESSAGE_LIMIT = 300

Outcome = Literal["ok", "failed", "denied", "busy", "cancelled", "internal_error"]

# Audit records are written whatever JDEBUG_LOG_LEVEL says (DESIGN.md, "Security").
_log = structlog.wrap_logger(
    None, wrapper_class=structlog.make_filtering_bound_logger(logging.INFO)
)
_file_lock = threading.Lock()


@dataclass(frozen=True)
class OutputDigest:
    """One raw output as posted (after redaction): its file name, UTF-8 size and SHA-256."""

    name: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Run:
    """Where one diagnostic ran and what it returned; a fan-out has one per pod. In the
    record, the place's fields stand beside the others (schema 1)."""

    place: Place
    strategy: str
    debug_container: str | None
    outcome: Outcome
    message: str
    output_bytes: int
    outputs: tuple[OutputDigest, ...] = ()

    @classmethod
    def failed(cls, cluster: str | None, namespace: str | None, pod: str, message: str) -> Run:
        """A pod that gave no result: nothing ran to the end there, so no output."""
        return cls(Place(cluster, namespace, pod), "", None, "failed", message, 0)


@dataclass(frozen=True)
class AuditRecord:
    request_id: str
    source: str
    user: str
    channel: str | None
    tool: str
    mutating: bool
    target: str
    decision: Literal["allow", "deny"]
    rule: str | None
    reason: str | None
    outcome: Outcome
    message: str
    duration_s: float
    output_bytes: int
    runs: tuple[Run, ...] = field(default=())
    kube_user: str | None = None
    schema: int = SCHEMA_VERSION


# Outputs are hashed a slice at a time: a 50 MB dump is not held again as bytes.
_DIGEST_SLICE_CHARS = 1 << 20


def digest(name: str, text: str) -> OutputDigest:
    """Size and SHA-256 of `text` as UTF-8; each character encodes on its own, so the
    slices' bytes are exactly those of the whole."""
    sha, size = hashlib.sha256(), 0
    for start in range(0, len(text), _DIGEST_SLICE_CHARS):
        data = text[start : start + _DIGEST_SLICE_CHARS].encode("utf-8", "surrogateescape")
        sha.update(data)
        size += len(data)
    return OutputDigest(name, size, sha.hexdigest())


def run_of(result: Result) -> Run:
    """The run behind a result, with a digest per raw output (the snippets' content)."""
    raw = result.raw
    outputs = tuple(digest(step.name, step.text) for step in raw.steps)
    return Run(
        place=result.place,
        strategy=raw.strategy,
        debug_container=raw.debug_container,
        outcome="ok",
        message=result.analysis.headline[:MESSAGE_LIMIT],
        output_bytes=sum(o.bytes for o in outputs),
        outputs=outputs,
    )


def record(
    request: Request,
    request_id: str,
    *,
    outcome: Outcome,
    message: str,
    duration_s: float = 0.0,
    rule: str | None = None,
    reason: str | None = None,
    runs: Sequence[Run] = (),
    kube_user: str | None = None,
) -> AuditRecord:
    tool = find_tool(request.tool)
    return AuditRecord(
        request_id=request_id,
        source=request.requester.kind,
        user=request.requester.user,
        channel=request.requester.channel,
        tool=request.tool,
        mutating=bool(tool and tool.mutating),
        target=request.target.describe(),
        decision="deny" if outcome in ("denied", "busy") else "allow",
        rule=rule,
        reason=reason,
        outcome=outcome,
        message=message[:MESSAGE_LIMIT],
        duration_s=round(duration_s, 3),
        output_bytes=sum(r.output_bytes for r in runs),
        runs=tuple(runs),
        kube_user=kube_user,
    )


def emit(entry: AuditRecord, file: Path | None = None, *, to_log: bool = True) -> None:
    """Log the record (event "audit") unless `to_log` is off (a terminal user reads stderr);
    append it to `file` too when given. A file that cannot be written is logged, never
    raised: the request's answer must not depend on it."""
    fields: dict[str, Any] = asdict(entry)
    fields["runs"] = tuple({**run.pop("place"), **run} for run in fields["runs"])
    if to_log:
        _log.info("audit", audit=True, **fields)
    if file is None:
        return
    line = json.dumps(
        {"time": datetime.now(UTC).isoformat(), "event": "audit", **fields}, ensure_ascii=False
    )
    try:
        with _file_lock, file.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    except OSError as error:
        _log.error("audit.file_failed", path=str(file), error=str(error))
