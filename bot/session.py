"""One request from start to finish: resolve the target, choose a strategy, run the agent,
analyse, clean up.

This is the only module that calls the others in sequence (DESIGN.md, "Data flow"). It
knows nothing about Slack or the terminal: frontends pass a `progress` callback and render
the `Result` or the `JdebugError` it raises.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from bot.errors import JdebugError, StrategyUnavailable
from bot.jvm.agent import AttachTool, parse_agent_output, plan_agent_call, raise_for_agent
from bot.request import Request
from bot.results import Analysis, Result, StepOutput
from bot.strategy import Backend, ResolvedTarget, Strategy
from bot.tools import Tool, find_tool

Stage = Literal["resolved", "running", "analysing"]


@dataclass(frozen=True)
class Progress:
    """A step of the session a frontend may show: `resolved` comes before anything runs."""

    stage: Stage
    message: str
    target: ResolvedTarget
    strategy: str | None = None


ProgressListener = Callable[[Progress], Awaitable[None]]

log = structlog.get_logger("jdebug.session")

# Seconds one diagnostic may take next to the JVM (a thread dump of thousands of threads
# takes a few seconds; a class histogram forces a full GC).
DEFAULT_STEP_DEADLINE_S = 60


async def _quiet(progress: Progress) -> None:
    del progress


async def choose_strategy(
    request: Request, target: ResolvedTarget, strategies: Sequence[Strategy]
) -> Strategy:
    """The first strategy whose check passes; otherwise every reason, one line each."""
    reasons: list[str] = []
    for strategy in strategies:
        verdict = await strategy.check(request, target)
        if verdict.ok:
            return strategy
        fix = f" (fix: {verdict.fix})" if verdict.fix else ""
        reasons.append(f"{strategy.name}: {verdict.reason}{fix}")
    raise StrategyUnavailable(
        f"no way to reach {target.description} works here: " + "; ".join(reasons)
    )


def agent_deadline(request: Request, step_deadline_s: int = DEFAULT_STEP_DEADLINE_S) -> int:
    """The agent's whole deadline: the tool's time plus the pauses between repeated dumps."""
    options = request.options
    return step_deadline_s + (options.count - 1) * options.interval_s


async def run_request(
    request: Request,
    backend: Backend,
    *,
    progress: ProgressListener = _quiet,
    step_deadline_s: int = DEFAULT_STEP_DEADLINE_S,
    attach_tool: AttachTool = "auto",
) -> Result:
    """Run `request` through the first strategy that can work; always clean up after it."""
    tool = find_tool(request.tool)
    if tool is None:  # the grammar only builds requests for catalog tools
        raise JdebugError(f"unknown tool {request.tool!r}; try help")
    structlog.contextvars.bind_contextvars(tool=tool.name, target=request.target.describe())
    started = time.monotonic()
    target = await backend.resolve(request)
    await progress(Progress("resolved", f"found {target.description}", target))
    strategy = await choose_strategy(request, target, backend.strategies())
    call = plan_agent_call(
        tool.jcmd_line(request.options),
        tool.name,
        request.options,
        deadline_s=agent_deadline(request, step_deadline_s),
        pid=target.pid,
        match=target.match,
        attach_tool=attach_tool,
    )
    try:
        await progress(
            Progress("running", f"running {tool.name} via {strategy.name}", target, strategy.name)
        )
        raw = await strategy.run(request, target, call)
    finally:
        cleanup = await strategy.cleanup()
    out = parse_agent_output(raw.stdout, call.nonce)
    raise_for_agent(out, raw.exit_code, raw.stderr)
    steps = out.steps if tool.jcmd else (StepOutput("jps", None, 0, out.jvm_text),)
    raw = dataclasses.replace(raw, steps=steps, duration_s=time.monotonic() - started)
    await progress(Progress("analysing", "analysing", target, strategy.name))
    analysis = analyse(tool, request, steps)
    description = out.target.describe() if out.target and not target.pod else target.description
    log.info(
        "request.done",
        strategy=strategy.name,
        duration_s=round(raw.duration_s, 3),
        output_bytes=sum(len(s.text) for s in steps),
    )
    return Result(request, description, analysis, raw, cleanup)


def analyse(tool: Tool, request: Request, steps: Sequence[StepOutput]) -> Analysis:
    """Run the tool's analyser; a bug there must not cost the user the raw output."""
    try:
        return tool.analyser([s.text for s in steps], request.options)
    except Exception:
        log.exception("analyser.failed")
        return Analysis(
            f"{tool.name}: the output could not be analysed; the raw output is attached",
            notes=("analyser error (logged)",),
        )
