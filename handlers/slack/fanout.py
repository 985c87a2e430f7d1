"""`all` with deploy=/selector= in Slack: one parent for the request, one reply per pod.

Each pod's answer (with follow-up buttons aimed at that pod) and raw output go into the
thread as soon as that pod is done, and the output is let go; the parent ends with one line
per pod. One pod failing, or Slack refusing one pod's reply, never hides the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.audit import Run, run_of
from bot.backends.protocols import Backend
from bot.model.request import Request, TargetSelector
from bot.model.results import Result
from bot.session.run import PodOutcome, map_each
from handlers.slack.blocks import fanout_headline, fanout_message, progress_message, result_message
from handlers.slack.thread import SlackThread

Upload = Callable[[SlackThread, Result], Awaitable[str]]
Answer = tuple[str, str | None, str | None]  # pod, headline, error

log = structlog.get_logger("jdebug.slack")


@dataclasses.dataclass(frozen=True)
class FanOut:
    """How one `all` request runs: pods at once, the most pods, the step deadline."""

    concurrency: int
    max_pods: int
    step_deadline_s: int


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
    how: FanOut,
    runs: list[Run],
) -> str:
    """Run on every matching pod and post each answer as it comes; `runs` gets one entry
    per pod as it finishes (so the audit has them even if Slack fails later). Returns the
    headline ("3 pods: 2 answered, 1 failed")."""
    text, blocks = progress_message(
        request, user, f"running on every pod of {request.target.describe()}"
    )
    await thread.post(text, blocks)

    async def post(outcome: PodOutcome) -> Answer:
        if outcome.result is None:
            message = outcome.error.message if outcome.error else "no answer"
            namespace, _, pod = outcome.target.rpartition("/")
            runs.append(Run.failed(request.target.cluster, namespace or None, pod, message))
            return outcome.target, None, message
        result = dataclasses.replace(outcome.result, request=pod_request(request, outcome.result))
        runs.append(run_of(result))
        reply = SlackThread(client, thread.channel, root_ts=thread.files_ts)
        try:
            await reply.post(*result_message(result, user))
            note = await upload(reply, result)
        except (SlackApiError, SlackClientError) as error:
            code = error.response.get("error") if isinstance(error, SlackApiError) else None
            log.warning("slack.fanout_reply_failed", pod=outcome.target, error=code)
            note = f" (its reply could not be posted: {code or 'connection failed'})"
        return outcome.target, result.analysis.headline + note, None

    answers = await map_each(
        request,
        backend,
        post,
        concurrency=how.concurrency,
        step_deadline_s=how.step_deadline_s,
        max_pods=how.max_pods,
    )
    await thread.finish(*fanout_message(request, user, answers))
    return fanout_headline(answers)
