"""One request from start to finish: resolve the target, choose a strategy, run the agent,
analyse, clean up.

This is the only module that calls the others in sequence (DESIGN.md, "Data flow"). It
knows nothing about Slack or the terminal: frontends pass a `progress` callback and render
the `Result` or the `JdebugError` it raises.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal, TypeVar

import structlog

from bot.backends.protocols import Backend, ResolvedTarget, Strategy
from bot.jvm.agent import (
    AgentCall,
    AttachTool,
    parse_agent_output,
    plan_agent_call,
    raise_for_agent,
)
from bot.jvm.catalog import Tool, find_tool
from bot.model.errors import JdebugError, StrategyFailed, StrategyUnavailable
from bot.model.request import Request
from bot.model.results import Analysis, Place, RawOutput, Result, StepOutput
from bot.model.spool import Spool
from bot.redaction.redactor import Redactor

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


async def run_first_strategy(
    request: Request,
    target: ResolvedTarget,
    backend: Backend,
    call: AgentCall,
    progress: ProgressListener,
) -> tuple[RawOutput, Strategy, str]:
    """Run the first strategy whose check passes; one that finds at run time that it cannot
    work here (StrategyFailed) hands over to the next. Otherwise list every reason."""
    reasons: list[str] = []
    for strategy in backend.strategies():
        verdict = await strategy.check(request, target)
        if not verdict.ok:
            reasons.append(
                f"{strategy.name}: {verdict.reason}"
                + (f" (fix: {verdict.fix})" if verdict.fix else "")
            )
            continue
        try:
            await progress(
                Progress(
                    "running", f"running {request.tool} via {strategy.name}", target, strategy.name
                )
            )
            raw = await strategy.run(request, target, call)
        except StrategyFailed as error:
            reasons.append(f"{strategy.name}: {error.message}")
            continue
        finally:
            cleanup = await strategy.cleanup()
        return raw, strategy, cleanup
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
    """Resolve the one target of `request`, then run it (see `run_resolved`)."""
    structlog.contextvars.bind_contextvars(tool=request.tool, target=request.target.describe())
    target = await backend.resolve(request)
    return await run_resolved(
        request,
        target,
        backend,
        progress=progress,
        step_deadline_s=step_deadline_s,
        attach_tool=attach_tool,
    )


async def run_resolved(
    request: Request,
    target: ResolvedTarget,
    backend: Backend,
    *,
    progress: ProgressListener = _quiet,
    step_deadline_s: int = DEFAULT_STEP_DEADLINE_S,
    attach_tool: AttachTool = "auto",
) -> Result:
    """Run `request` against a resolved target through the first strategy that can work;
    always clean up after it."""
    tool = find_tool(request.tool)
    if tool is None:  # the grammar only builds requests for catalog tools
        raise JdebugError(f"unknown tool {request.tool!r}; try help")
    started = time.monotonic()
    await progress(Progress("resolved", f"found {target.description}", target))
    call = plan_agent_call(
        tool.jcmd_line(request.options),
        tool.name,
        request.options,
        deadline_s=agent_deadline(request, step_deadline_s),
        pid=target.pid,
        match=target.match,
        attach_tool=attach_tool,
    )
    raw, strategy, cleanup = await run_first_strategy(request, target, backend, call, progress)
    try:
        out = parse_agent_output(raw.stdout, call.nonce)
    finally:
        if isinstance(raw.stdout, Spool):
            raw.stdout.close()
    raise_for_agent(out, raw.exit_code, raw.stderr)
    steps = out.steps if tool.jcmd else (StepOutput("jps", None, 0, out.jvm_text),)
    # Before anything leaves the bot (summary, snippets, Slack): secret-looking values go.
    steps, redacted = redact_steps(steps, tool.name)
    # The framed stdout is no longer needed once split: keep one copy of the output.
    raw = dataclasses.replace(raw, steps=steps, stdout="", duration_s=time.monotonic() - started)
    await progress(Progress("analysing", "analysing", target, strategy.name))
    analysis = analyse(tool, request, steps)
    if redacted:
        note = f"{redacted} secret-looking value{'s' if redacted != 1 else ''} redacted"
        analysis = dataclasses.replace(analysis, notes=(*analysis.notes, note))
    if out.target is None:
        description = target.description
    elif target.pod:  # Kubernetes: the pod and container, then the JVM found inside
        description = f"{target.description} · {out.target.describe()}"
    else:
        description = out.target.describe()
    log.info(
        "request.done",
        strategy=strategy.name,
        duration_s=round(raw.duration_s, 3),
        output_bytes=sum(len(s.text) for s in steps),
    )
    place = Place(
        request.target.cluster,
        target.namespace,
        target.pod,
        target.container,
        out.target.pid if out.target is not None else target.pid,
    )
    return Result(request, description, analysis, raw, cleanup, place)


@dataclass(frozen=True)
class PodOutcome:
    """One pod of a fan-out: its result, or the error that pod alone ran into."""

    target: str
    result: Result | None = None
    error: JdebugError | None = None


T = TypeVar("T")

# How many pods one `all` may run on unless the frontend says otherwise: enough for a
# deployment's replicas, few enough that a typo'd selector cannot start a debug session in
# every pod of the cluster.
DEFAULT_MAX_PODS = 20


async def run_each(
    request: Request,
    backend: Backend,
    *,
    concurrency: int = 8,
    step_deadline_s: int = DEFAULT_STEP_DEADLINE_S,
    max_pods: int = DEFAULT_MAX_PODS,
) -> list[PodOutcome]:
    """`all` with deploy=/selector=: run on every matching pod, at most `concurrency` at a
    time; one pod failing does not hide the others."""

    async def keep(outcome: PodOutcome) -> PodOutcome:
        return outcome

    return await map_each(
        request,
        backend,
        keep,
        concurrency=concurrency,
        step_deadline_s=step_deadline_s,
        max_pods=max_pods,
    )


async def map_each(
    request: Request,
    backend: Backend,
    then: Callable[[PodOutcome], Awaitable[T]],
    *,
    concurrency: int = 8,
    step_deadline_s: int = DEFAULT_STEP_DEADLINE_S,
    max_pods: int = DEFAULT_MAX_PODS,
) -> list[T]:
    """`run_each`, handing each pod's outcome to `then` as soon as that pod is done (so a
    frontend can post it and let the output go) and returning what `then` returned, in the
    pods' order. More than `max_pods` matching pods is refused before anything runs."""
    structlog.contextvars.bind_contextvars(tool=request.tool, target=request.target.describe())
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str, found: ResolvedTarget | JdebugError) -> T:
        if isinstance(found, JdebugError):
            return await then(PodOutcome(name, error=found))
        async with gate:
            try:
                result = await run_resolved(
                    request, found, backend, step_deadline_s=step_deadline_s
                )
            except JdebugError as error:
                outcome = PodOutcome(name, error=error)
            except Exception:
                # A bug in one pod's run must not cancel, or outlive unseen, the others.
                log.exception("request.pod_crashed", pod=name)
                outcome = PodOutcome(
                    name, error=JdebugError("internal error; the details are in jdebug's log")
                )
            else:
                outcome = PodOutcome(name, result=result)
        return await then(outcome)

    candidates = await backend.resolve_all(request)
    if len(candidates) > max_pods:
        raise JdebugError(
            f"{request.target.describe()} matches {len(candidates)} pods and `all` runs on "
            f"at most {max_pods} at once, so nothing ran; narrow it with selector= or ns=",
            fix="in Slack, JDEBUG_MAX_PODS_PER_REQUEST sets the bound",
        )
    return list(await asyncio.gather(*(one(name, found) for name, found in candidates)))


def redact_steps(
    steps: Sequence[StepOutput], kind: str, redactor: Redactor | None = None
) -> tuple[tuple[StepOutput, ...], int]:
    """Each step's text with secret-looking values replaced, and how many were."""
    redactor = redactor or default_redactor()
    total, cleaned = 0, []
    for step in steps:
        text, count = redactor.redact(step.text, kind)
        total += count
        cleaned.append(dataclasses.replace(step, text=text) if count else step)
    return tuple(cleaned), total


@cache
def default_redactor() -> Redactor:
    return Redactor.default()


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
