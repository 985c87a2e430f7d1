"""One request from start to finish: resolve the target, choose a strategy, run the agent,
analyse, clean up; or the same on every pod of a fan-out.

This is the only module that calls the backends, the agent and the analysers in sequence.
It knows nothing about frontends: they get `Progress` events and the `Result` or the
`JdebugError` this raises (through `bot.session.service`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar

import structlog

from bot.backends.protocols import Backend, Created, Strategy, Target, Unavailable
from bot.jvm.agent import AgentCall, AttachTool, plan_agent_call
from bot.jvm.agent_errors import raise_for_agent
from bot.jvm.agent_frames import parse_agent_output
from bot.jvm.catalog import Redaction, Tool, tool_named
from bot.jvm.steps import optional_steps, pauses_s, side_steps
from bot.model.errors import JdebugError, StrategyFailed, StrategyUnavailable
from bot.model.request import Request
from bot.model.results import AgentOutput, Analysis, RawOutput, Result, StepOutput, ToolRun
from bot.model.spool import Spool
from bot.redaction.redactor import Redactor

Stage = Literal["resolved", "running", "analysing"]


@dataclass(frozen=True)
class Progress:
    """A step of the session a frontend may show: `resolved` comes before anything runs."""

    stage: Stage
    message: str
    target: str
    strategy: str | None = None


ProgressListener = Callable[[Progress], Awaitable[None]]

log = structlog.get_logger("jdebug.session")

# Seconds one diagnostic may take next to the JVM (a thread dump of thousands of threads
# takes a few seconds; a class histogram forces a full GC).
DEFAULT_STEP_DEADLINE_S = 60


async def _quiet(progress: Progress) -> None:
    del progress


@dataclass(frozen=True)
class Ran:
    """What the strategy that worked returned, and what its cleanup said."""

    output: AgentOutput
    strategy: str
    cleanup: str


async def run_first_strategy(
    request: Request,
    target: Target,
    strategies: Sequence[Strategy[Any, Any]],
    call: AgentCall,
    progress: ProgressListener,
    waits_s: int = 0,
) -> Ran:
    """Run the first strategy that has a plan; one that finds at run time that it cannot
    work here (StrategyFailed) hands over to the next. Otherwise list every reason.
    `waits_s`, the pauses the steps hold (a recording's duration), is counted down in the
    progress while the strategy runs."""
    reasons: list[str] = []
    for strategy in strategies:
        plan = await strategy.check(request, target)
        if isinstance(plan, Unavailable):
            reasons.append(plan.describe(strategy.name))
            continue
        created = Created()
        try:
            running = f"running {request.tool} via {strategy.name}"
            await progress(Progress("running", running, target.description, strategy.name))
            ticker = (
                asyncio.create_task(
                    _count_down(progress, running, target.description, strategy.name, waits_s)
                )
                if waits_s >= TICK_S
                else None
            )
            try:
                output = await strategy.run(plan, call, created)
            finally:
                if ticker is not None:
                    ticker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ticker
        except StrategyFailed as error:
            reasons.append(f"{strategy.name}: {error.message}")
            continue
        finally:
            cleanup = await strategy.cleanup(created)
        return Ran(output, strategy.name, cleanup)
    raise StrategyUnavailable(
        f"no way to reach {target.description} works here: " + "; ".join(reasons)
    )


# How often a long run (a recording, repeated dumps) says how long it still has.
TICK_S = 5


async def _count_down(
    progress: ProgressListener, running: str, target: str, strategy: str, waits_s: int
) -> None:
    """Every TICK_S seconds: about how many of the steps' `waits_s` seconds are left."""
    started = time.monotonic()
    while True:
        await asyncio.sleep(TICK_S)
        left = waits_s - (time.monotonic() - started)
        message = f"{running}: about {left:.0f} s left" if left >= 1 else f"{running}: finishing"
        await progress(Progress("running", message, target, strategy))
        if left < 1:
            return


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
    target: Target,
    backend: Backend,
    *,
    progress: ProgressListener = _quiet,
    step_deadline_s: int = DEFAULT_STEP_DEADLINE_S,
    attach_tool: AttachTool = "auto",
) -> Result:
    """Run `request` against a resolved target through the first strategy that can work;
    always clean up after it."""
    tool = tool_named(request.tool)
    started = time.monotonic()
    await progress(Progress("resolved", f"found {target.description}", target.description))
    steps = tool.steps(request.options)
    call = plan_agent_call(
        steps,
        deadline_s=step_deadline_s + pauses_s(steps),
        pid=target.pid,
        match=target.match,
        attach_tool=attach_tool,
    )
    ran = await run_first_strategy(
        request, target, backend.strategies(), call, progress, pauses_s(steps)
    )
    stdout = ran.output.stdout
    try:
        out = parse_agent_output(stdout, call.nonce)
    finally:
        if isinstance(stdout, Spool):
            stdout.close()
    raise_for_agent(out, ran.output.exit_code, ran.output.stderr, optional_steps(steps))
    outputs = out.steps if steps else (StepOutput("jps", None, 0, out.jvm_text),)
    # Before anything leaves the bot (summary, files, Slack): secret-looking values go.
    outputs, redacted = redact_steps(outputs, tool.redaction)
    side, optional = side_steps(steps), optional_steps(steps)
    files = tuple(
        s for s in outputs if s.name not in side and not (s.name in optional and s.exit_code)
    )
    raw = RawOutput(
        steps=files,
        strategy=ran.strategy,
        where=ran.output.where,
        duration_s=time.monotonic() - started,
        debug_container=ran.output.debug_container,
    )
    await progress(Progress("analysing", "analysing", target.description, ran.strategy))
    analysis = analyse(tool, ToolRun(outputs, request.options, target.facts))
    if redacted:
        note = f"{redacted} secret-looking value{'s' if redacted != 1 else ''} redacted"
        analysis = dataclasses.replace(analysis, notes=(*analysis.notes, note))
    place = target.place
    if out.target is None:
        description = target.description
    else:
        place = dataclasses.replace(place, pid=out.target.pid)
        # Kubernetes: the pod and container, then the JVM found inside.
        description = (
            f"{target.description} · {out.target.describe()}"
            if place.pod
            else out.target.describe()
        )
    log.info(
        "request.done",
        strategy=ran.strategy,
        duration_s=round(raw.duration_s, 3),
        output_bytes=sum(len(s.text) for s in outputs),
    )
    return Result(request, description, analysis, raw, ran.cleanup, place)


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
    """`map_each` that keeps every pod's outcome, in the pods' order."""

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
    """`all` with deploy=/selector=: run on every matching pod, at most `concurrency` at a
    time, handing each pod's outcome to `then` as soon as that pod is done (so a frontend
    can post it and let the output go); returns what `then` returned, in the pods' order.
    One pod failing does not hide the others. More than `max_pods` matching pods is refused
    before anything runs."""
    structlog.contextvars.bind_contextvars(tool=request.tool, target=request.target.describe())
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str, found: Target | JdebugError) -> T:
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
            fix="JDEBUG_MAX_PODS_PER_REQUEST sets the bound",
        )
    return list(await asyncio.gather(*(one(name, found) for name, found in candidates)))


def redact_steps(
    steps: Sequence[StepOutput], mode: Redaction, redactor: Redactor | None = None
) -> tuple[tuple[StepOutput, ...], int]:
    """Each step's text with secret-looking values replaced, and how many were."""
    redactor = redactor or default_redactor()
    total, cleaned = 0, []
    for step in steps:
        text, count = redactor.redact(step.text, mode)
        total += count
        cleaned.append(dataclasses.replace(step, text=text) if count else step)
    return tuple(cleaned), total


@cache
def default_redactor() -> Redactor:
    return Redactor.default()


def analyse(tool: Tool, run: ToolRun) -> Analysis:
    """Run the tool's analyser; a bug there must not cost the user the raw output."""
    try:
        return tool.analyser(run)
    except Exception:
        log.exception("analyser.failed")
        return Analysis(
            f"{tool.name}: the output could not be analysed; the raw output is attached",
            notes=("analyser error (logged)",),
        )
