"""The terminal frontend: `jdebug run "<text>"` and `jdebug console`, the same text as Slack.

An adapter like the Slack one: text in, `Request` via the grammar, `bot.session.run` runs it,
and the result is rendered as the Slack thread would look. Progress goes to stderr so
stdout holds only the answer.
"""

from __future__ import annotations

import sys
import uuid
from typing import TextIO

import structlog

from bot.backends.protocols import Backend
from bot.commands.grammar import HelpRequest, parse_command
from bot.jvm.catalog import usage_lines
from bot.model.errors import JdebugError
from bot.model.request import Request
from bot.report.text import render_error, render_result
from bot.session.run import DEFAULT_STEP_DEADLINE_S, Progress, run_each, run_request

log = structlog.get_logger("jdebug.terminal")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


async def run_text(
    text: str,
    backend: Backend,
    out: TextIO,
    *,
    err: TextIO = sys.stderr,
    step_deadline_s: int = DEFAULT_STEP_DEADLINE_S,
) -> int:
    """Run one command line; write the answer to `out`; return a process exit code."""
    try:
        parsed = parse_command(text)
    except JdebugError as error:
        out.write(render_error(error))
        return EXIT_BAD_INPUT
    if isinstance(parsed, HelpRequest):
        out.write("\n".join(usage_lines()) + "\n")
        return EXIT_OK

    request_id = uuid.uuid4().hex[:12]
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, user="local")

    async def progress(event: Progress) -> None:
        err.write(f"… {event.message}\n")
        err.flush()

    if parsed.options.every_pod:
        return await _run_each(parsed, backend, out, step_deadline_s, request_id)
    try:
        result = await run_request(
            parsed, backend, progress=progress, step_deadline_s=step_deadline_s
        )
    except JdebugError as error:
        log.info("request.failed", error=type(error).__name__, message=error.message)
        out.write(render_error(error))
        return EXIT_FAILED
    except Exception:
        log.exception("request.crashed")
        out.write(f"✖ internal error (id {request_id}); the details are in the log\n")
        return EXIT_INTERNAL
    out.write(render_result(result))
    return EXIT_OK


async def _run_each(
    request: Request, backend: Backend, out: TextIO, step_deadline_s: int, request_id: str
) -> int:
    """Fan-out: one answer per pod, failures listed with their pod; never hides the others."""
    try:
        outcomes = await run_each(request, backend, step_deadline_s=step_deadline_s)
    except JdebugError as error:
        out.write(render_error(error))
        return EXIT_FAILED
    except Exception:
        log.exception("request.crashed")
        out.write(f"✖ internal error (id {request_id}); the details are in the log\n")
        return EXIT_INTERNAL
    failed = [o for o in outcomes if o.error is not None]
    out.write(
        f"━━ jdebug {request.tool} on {len(outcomes)} pods: "
        f"{len(outcomes) - len(failed)} answered, {len(failed)} failed\n"
    )
    for outcome in outcomes:
        if outcome.result is not None:
            out.write(render_result(outcome.result))
        elif outcome.error is not None:
            out.write(f"✖ {outcome.target}: {outcome.error.message}\n")
    return EXIT_FAILED if failed else EXIT_OK


async def console(backend: Backend, stdin: TextIO, out: TextIO) -> int:
    """Read command lines like a chat until EOF or `quit`; each gets its own answer."""
    interactive = stdin.isatty()
    worst = EXIT_OK
    while True:
        if interactive:
            out.write("jdebug> ")
            out.flush()
        line = stdin.readline()
        if not line or line.strip() in ("quit", "exit"):
            return worst
        if not line.strip():
            continue
        worst = max(worst, await run_text(line.strip(), backend, out))
        out.flush()
