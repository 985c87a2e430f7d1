"""`all` with deploy=/selector= in Slack: one parent for the request, one reply per pod.

The parent says how many pods answered and lists each pod's headline or error; each pod's
answer (with its follow-up buttons aimed at that pod) and raw output go into the thread.
One pod failing never hides the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Run, run_of
from bot.report.blocks import fanout_headline, fanout_message, progress_message, result_message
from bot.request import Request, TargetSelector
from bot.results import Result
from bot.session import run_each
from bot.strategy import Backend
from handlers.slack.thread import SlackThread

Upload = Callable[[SlackThread, Result], Awaitable[str]]


def pod_request(request: Request, result: Result) -> Request:
    """The request as if it had named this one pod: what its reply's buttons re-run."""
    place = result.place
    if place is None or place.pod is None:
        return request
    target = TargetSelector(
        pod=place.pod,
        namespace=place.namespace,
        container=request.target.container,
        cluster=request.target.cluster,
    )
    options = dataclasses.replace(request.options, every_pod=False)
    return dataclasses.replace(request, target=target, options=options)


async def run_every_pod(
    request: Request,
    backend: Backend,
    client: AsyncWebClient,
    thread: SlackThread,
    user: str,
    upload: Upload,
    step_deadline_s: int,
) -> tuple[list[Run], str]:
    """Run on every matching pod and post the answers; returns the runs for the audit and
    the headline ("3 pods: 2 answered, 1 failed")."""
    text, blocks = progress_message(
        request, user, f"running on every pod of {request.target.describe()}"
    )
    await thread.post(text, blocks)
    outcomes = await run_each(request, backend, step_deadline_s=step_deadline_s)
    runs: list[Run] = []
    answers: list[tuple[str, str | None, str | None]] = []
    for outcome in outcomes:
        if outcome.result is None:
            message = outcome.error.message if outcome.error else "no answer"
            answers.append((outcome.target, None, message))
            namespace, _, pod = outcome.target.rpartition("/")
            runs.append(
                Run(None, namespace or None, pod, None, None, "", None, "failed", message, 0)
            )
            continue
        result = dataclasses.replace(outcome.result, request=pod_request(request, outcome.result))
        reply = SlackThread(client, thread.channel, root_ts=thread.files_ts)
        await reply.post(*result_message(result, user))
        note = await upload(reply, result)
        answers.append((outcome.target, result.analysis.headline + note, None))
        runs.append(run_of(result))
    await thread.finish(*fanout_message(request, user, answers))
    return runs, fanout_headline(answers)
