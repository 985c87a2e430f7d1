"""Run one Request for a Slack user: post the parent once the target is found, update it as
the session advances, finish with the summary and the raw outputs threaded under it.

Every failure becomes one sentence for the user, never a traceback: errors before the
parent exists go to the requester only (response_url), later ones into the parent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.audit import Outcome, Run, emit, record, run_of
from bot.access.impersonation import NoKubeIdentity
from bot.access.limits import Limiter
from bot.access.policy import PolicyWatcher
from bot.backends.protocols import Backend
from bot.commands.echo import command_text
from bot.commands.grammar import HelpRequest, parse_command
from bot.model.errors import Busy, JdebugError
from bot.model.request import Request, Requester
from bot.model.results import Result
from bot.report.snippets import snippets
from bot.session.admission import Admitted
from bot.session.history import RequestHistory
from bot.session.inflight import InFlight
from bot.session.run import Progress, run_request
from bot.settings import Settings
from handlers.slack.blocks import (
    TEXT_LIMIT,
    clip,
    error_message,
    error_text,
    help_text,
    home_view,
    progress_message,
    result_message,
)
from handlers.slack.fanout import FanOut, run_every_pod
from handlers.slack.identity import ActingAs
from handlers.slack.thread import SlackThread

Say = Callable[[str], Awaitable[Any]]

log = structlog.get_logger("jdebug.slack")

# Slack answers `not_in_channel` in public and `channel_not_found` in private channels
# the bot was never added to.
_NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})
INVITE = "✖ I am not a member of this channel: invite me with /invite @jdebug, then try again."
DRAINING = "✖ jdebug is restarting; try again in a minute."
CANCELLED = "✖ jdebug was restarting and stopped this before it finished; try again."
TELL_TIMEOUT_S = 10
ACK_FLUSH_S = 0.012


class SlackService:
    """What the Bolt listeners call; it knows Slack and the session, never Kubernetes."""

    def __init__(self, backend: Backend, settings: Settings) -> None:
        self.backend = backend
        self.settings = settings
        self.acting_as = ActingAs(settings, backend)  # impersonation, when it is on
        self.history = RequestHistory()
        self.inflight = InFlight()
        self._slots = asyncio.Semaphore(settings.max_concurrent_requests)
        # Admits (or refuses as busy) what policy allowed: bounds per user and in all.
        self.limiter = Limiter(settings.limits())
        # Loading checks the file: an invalid policy stops the bot at start (PolicyError).
        self.policy: PolicyWatcher | None = (
            PolicyWatcher(
                settings.policy_file, lambda _: None, interval_s=settings.policy_poll_seconds
            )
            if settings.policy_file
            else None
        )

    def queue_note(self) -> str:
        """For the ack of a request about to run: empty when it will start at once."""
        limit = self.settings.max_concurrent_requests
        ahead = self.limiter.admitted - 1  # admission already counted this one
        if ahead < limit:
            return ""
        return f" (queued, {ahead - limit} ahead; {limit} run at once)"

    def admit(self, text: str, user: str, channel: str | None) -> Admitted | str:
        """A request to run with its limiter permit, or the one ephemeral answer to give
        instead (help, a grammar error, a refusal, busy). Denials are audited and consume
        no limit; nothing else happens here."""
        if self.inflight.draining:
            return DRAINING
        try:
            parsed = parse_command(text, Requester("slack", user, channel))
        except JdebugError as error:
            return error_text(error) + "\nType `/jdebug help` for usage."
        if isinstance(parsed, HelpRequest):
            return help_text(parsed.topic)
        if self.policy is not None:
            decided = self._by_policy(parsed)
            return decided if isinstance(decided, str) else self._limited(*decided)
        if not self.settings.allows(user, channel):
            self.deny(parsed, "not on the allow-list")
            return (
                f"✖ You may not run jdebug here. Ask an admin to add your Slack user ID "
                f"({user}) to JDEBUG_ALLOWED_USERS, or this channel ({channel}) to "
                "JDEBUG_ALLOWED_CHANNELS."
            )
        return self._limited(parsed, None)

    def _limited(self, request: Request, rule: str | None) -> Admitted | str:
        permit = self.limiter.admit(request.requester.user)
        if isinstance(permit, Busy):
            self.deny(request, f"busy: {permit.why}", outcome="busy")
            return error_text(permit)
        return Admitted(request, permit, rule)

    def _by_policy(self, request: Request) -> tuple[Request, str | None] | str:
        """The policy file decides; a request without ns= is judged where it would run."""
        assert self.policy is not None
        policy = self.policy.policy
        if policy.contact is None:  # the file names no contact: the setting's, if any
            policy.contact = self.settings.policy_contact
        target = request.target
        if not target.namespace and not (target.pid is not None and not target.pod):
            target = dataclasses.replace(target, namespace=self.settings.namespace)
        judged = dataclasses.replace(request, target=target)
        decision = policy.decide(judged)
        if decision.allowed:
            return request, decision.rule
        self.deny(request, f"policy: {decision.reason}")
        return "✖ " + policy.deny_message(judged, decision)

    async def run(
        self,
        admitted: Admitted,
        client: AsyncWebClient,
        channel: str,
        user: str,
        say_ephemeral: Say,
        root_ts: str | None = None,
    ) -> None:
        """Run an admitted request and release its permit; the caller has already acked."""
        request, permit = admitted.request, admitted.permit
        request_id = uuid.uuid4().hex[:12]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, user=user, channel=channel)
        thread = SlackThread(client, channel, root_ts)
        started = time.monotonic()

        async def progress(event: Progress) -> None:
            text, blocks = progress_message(request, user, event.message)
            if thread.ts is None:
                # Posting may fail (not_in_channel); then nothing has run yet, and nothing will.
                await thread.post(text, blocks)
            else:
                thread.show(text, blocks)

        async def upload(where: SlackThread, result: Result) -> str:
            return await self._upload(where, result, say_ephemeral, request_id)

        outcome: Outcome = "failed"
        message, kube_user = "", None
        runs: list[Run] = []
        try:
            # Bolt looks for the ack every 10 ms (slack_bolt/listener/asyncio_runner.py) and
            # only then sends it; work started first (spawning a process holds the loop for
            # milliseconds) would delay every pending ack.
            await asyncio.sleep(ACK_FLUSH_S)
            # Who the request runs as is settled before it queues: someone without a
            # Kubernetes identity is told at once, not after waiting for a slot.
            backend, kube_user = await self.acting_as.backend_for(user, client)
            # The slot is held until the raw output is uploaded: that bounds how many
            # (possibly huge) results this replica holds at once, not only runs.
            async with self._slots:
                permit.start()
                deadline = self.settings.step_deadline_seconds
                if request.options.every_pod:
                    # One slot, and within it as many pods at once as requests may run.
                    how = FanOut(
                        self.settings.max_concurrent_requests,
                        self.settings.max_pods_per_request,
                        deadline,
                    )
                    message = await run_every_pod(
                        request, backend, client, thread, user, upload, how, runs
                    )
                    outcome = "ok" if all(r.outcome == "ok" for r in runs) else "failed"
                else:
                    result = await run_request(
                        request, backend, progress=progress, step_deadline_s=deadline
                    )
                    runs = [run_of(result)]
                    await thread.finish(*result_message(result, user))
                    outcome, message = "ok", result.analysis.headline
                    message += await upload(thread, result)
        except JdebugError as error:
            message = error.message
            if isinstance(error, NoKubeIdentity):  # refused before any Kubernetes call
                outcome = "denied"
            await self._tell(thread, request, user, say_ephemeral, error_text(error))
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            message = f"slack error {code}"
            log.warning("slack.api_error", error=code)
            await self._tell(thread, request, user, say_ephemeral, _slack_refusal(code))
        except asyncio.CancelledError:
            outcome, message = "cancelled", "cancelled at shutdown"
            await self._tell(thread, request, user, say_ephemeral, CANCELLED)
            raise
        except Exception:
            log.exception("request.crashed")
            outcome, message = "internal_error", f"internal error (id {request_id})"
            await self._tell(
                thread,
                request,
                user,
                say_ephemeral,
                f"✖ internal error (id {request_id}); the details are in jdebug's log.",
            )
        finally:
            permit.release()
            await thread.close()
            mark = "ok: " if outcome == "ok" else ""
            self.history.add(user, command_text(request), (mark + message)[:150])
            entry = record(
                request,
                request_id,
                outcome=outcome,
                message=message,
                duration_s=time.monotonic() - started,
                rule=admitted.rule,
                runs=runs,
                kube_user=kube_user,
            )
            emit(entry, self.settings.audit_file)

    async def _upload(self, thread: SlackThread, result: Result, say: Say, request_id: str) -> str:
        """Upload the raw outputs; a failure is told to the requester, and the summary
        already in the channel stays. Returns a note for the outcome, empty when fine."""
        try:
            await thread.upload(snippets(result))
            return ""
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            log.warning("slack.upload_failed", error=code)
            await self._safe_say(say, _slack_refusal(code, "the raw output"))
            return f" (upload failed: {code})"
        except (SlackClientError, aiohttp.ClientError, TimeoutError):
            # The SDK lets the network's own errors through (a connection reset mid-upload).
            log.exception("slack.upload_failed")
            await self._safe_say(
                say, f"✖ the raw output could not be uploaded (id {request_id}); try again."
            )
            return " (upload failed)"

    async def _tell(
        self, thread: SlackThread, request: Request, user: str, say: Say, message: str
    ) -> None:
        """Errors go into the parent when there is one, else to the requester only."""
        try:
            async with asyncio.timeout(TELL_TIMEOUT_S):
                if thread.ts is not None:
                    await thread.finish(*error_message(request, user, message))
                    return
        except (SlackClientError, aiohttp.ClientError, TimeoutError):
            log.warning("slack.error_update_failed")
        await self._safe_say(say, message)

    async def _safe_say(self, say: Say, message: str) -> None:
        try:
            async with asyncio.timeout(TELL_TIMEOUT_S):
                await say(clip(message, TEXT_LIMIT))
        except Exception:
            log.exception("slack.ephemeral_failed")

    def deny(self, request: Request, reason: str, outcome: Outcome = "denied") -> None:
        """Audit a refusal (policy, allow-list or busy): nothing ran, so there is no run."""
        entry = record(
            request, uuid.uuid4().hex[:12], outcome=outcome, message=reason, reason=reason
        )
        emit(entry, self.settings.audit_file)

    def home(self, user: str) -> dict[str, Any]:
        return home_view(self.history.recent(user))


def _slack_refusal(code: str, what: str = "a message for this request") -> str:
    if code in _NOT_A_MEMBER:
        return INVITE
    return f"✖ Slack refused {what} ({code}); try again, or ask an admin to check jdebug's log."
