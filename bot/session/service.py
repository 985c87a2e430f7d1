"""The one request pipeline every frontend calls: admit a command, run it, account for it.

`admit` parses the text and checks the gate (policy or allow-list) and the limits; `run`
settles the Kubernetes identity and the cluster, waits for a slot, runs one target or a
fan-out, and reports through the frontend's `Reporter`. Whatever happens, it writes the audit
record, the requester's history and the metrics. Frontends only turn their input into text
and a `Requester`, and implement `Reporter`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from bot.access.audit import Outcome, Run, emit, record, run_of
from bot.access.gate import Gate
from bot.access.impersonation import ActingAs, NoKubeIdentity
from bot.access.limits import Limiter, Permit
from bot.backends.protocols import Backend, ImpersonatingBackend
from bot.commands.echo import command_text, pod_request
from bot.commands.grammar import HelpRequest, parse_command
from bot.model.errors import Busy, Draining, JdebugError, PolicyDenied, Undeliverable
from bot.model.request import Request, Requester
from bot.session.backends import Backends
from bot.session.history import RequestHistory
from bot.session.inflight import InFlight
from bot.session.metrics import Metrics
from bot.session.reporter import PodAnswer, Reporter, fanout_headline
from bot.session.run import PodOutcome, Progress, map_each, run_request
from bot.settings import JdebugSettings

log = structlog.get_logger("jdebug.service")

DRAINING = "jdebug is restarting; try again in a minute."
CANCELLED = "jdebug was restarting and stopped this before it finished; try again."


@dataclass(frozen=True)
class Admitted:
    """A request that will run: the limiter permit it holds until the run ends (or the
    frontend fails before running it) and the policy rule that allowed it (for the audit)."""

    request: Request
    permit: Permit
    rule: str | None = None


Refusal = HelpRequest | JdebugError


@dataclass(frozen=True)
class Finished:
    """How a run ended, for the frontend's own bookkeeping (the terminal's exit code)."""

    outcome: Outcome
    message: str
    request_id: str


class JdebugService:
    """Admission, runs, audit, history and metrics for every frontend of one process."""

    def __init__(
        self,
        settings: JdebugSettings,
        backends: Backends,
        gate: Gate,
        *,
        acting_as: ActingAs | None = None,
        metrics: Metrics | None = None,
        audit_to_log: bool = True,
    ) -> None:
        self.settings = settings
        self.audit_to_log = audit_to_log
        self.backends = backends
        self.gate = gate
        self.acting_as = acting_as or ActingAs("off")
        self.metrics = metrics or Metrics()
        self.history = RequestHistory()
        self.inflight = InFlight()
        self.limiter = Limiter(settings.limits())
        self._slots = asyncio.Semaphore(settings.max_concurrent_requests)
        if self.acting_as.mode != "off":
            for backend in backends.all():
                if not isinstance(backend, ImpersonatingBackend):
                    raise NoKubeIdentity(
                        f"JDEBUG_IMPERSONATION={self.acting_as.mode} needs a Kubernetes "
                        "cluster, but jdebug found no kubeconfig or in-cluster configuration"
                    )

    # -- admission ------------------------------------------------------------------------
    def admit(self, text: str, requester: Requester) -> Admitted | Refusal:
        """A request to run with its permit, or what to answer instead: help, a grammar
        error, a refusal (policy, busy, draining). Refusals are audited and consume no
        limit; nothing else happens here."""
        if self.inflight.draining:
            self.metrics.refusals.labels("draining").inc()
            return Draining(DRAINING)
        try:
            parsed = parse_command(text, requester)
        except JdebugError as error:
            self.metrics.refusals.labels("bad_input").inc()
            return error
        if isinstance(parsed, HelpRequest):
            return parsed
        verdict = self.gate.judge(parsed)
        if not verdict.allowed:
            self.deny(parsed, verdict.reason)
            self.metrics.refusals.labels("denied").inc()
            return PolicyDenied(verdict.message, verdict.contact)
        permit = self.limiter.admit(requester.user)
        if isinstance(permit, Busy):
            self.deny(parsed, f"busy: {permit.why}", outcome="busy")
            self.metrics.refusals.labels("busy").inc()
            return permit
        return Admitted(parsed, permit, verdict.rule)

    def queue_note(self) -> str:
        """For the ack of a request about to run: empty when it will start at once."""
        limit = self.settings.max_concurrent_requests
        ahead = self.limiter.admitted - 1  # admission already counted this one
        if ahead < limit:
            return ""
        return f" (queued, {ahead - limit} ahead; {limit} run at once)"

    def deny(self, request: Request, reason: str, outcome: Outcome = "denied") -> None:
        """Audit a refusal (policy, allow-list or busy): nothing ran, so there is no run."""
        entry = record(
            request, uuid.uuid4().hex[:12], outcome=outcome, message=reason, reason=reason
        )
        emit(entry, self.settings.audit_file, to_log=self.audit_to_log)

    # -- running --------------------------------------------------------------------------
    async def run(self, admitted: Admitted, reporter: Reporter) -> Finished:
        """Run an admitted request, report it, release its permit, and account for it."""
        request, permit = admitted.request, admitted.permit
        request_id = uuid.uuid4().hex[:12]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request_id, user=request.requester.user, channel=request.requester.channel
        )
        started = time.monotonic()
        outcome: Outcome = "failed"
        message, kube_user, strategy = "", None, ""
        runs: list[Run] = []
        self.metrics.in_flight.inc()
        try:
            # Who the request runs as is settled before it queues: someone without a
            # Kubernetes identity is told at once, not after waiting for a slot.
            backend, kube_user = await self._backend_for(request)
            self.metrics.waiting.inc()
            try:
                await self._slots.acquire()
            finally:
                self.metrics.waiting.dec()
            # The slot is held until the raw output is delivered: that bounds how many
            # (possibly huge) results this process holds at once, not only runs.
            try:
                permit.start()
                if request.every_pod:
                    message = await self._fan_out(request, backend, reporter, runs)
                    outcome = "ok" if all(r.outcome == "ok" for r in runs) else "failed"
                else:
                    result = await run_request(
                        request,
                        backend,
                        progress=reporter.progress,
                        step_deadline_s=self.settings.step_deadline_seconds,
                    )
                    runs = [run_of(result)]
                    outcome, message = "ok", result.analysis.headline
                    message += await reporter.result(result)
            finally:
                self._slots.release()
        except NoKubeIdentity as error:  # refused before any Kubernetes call
            outcome, message = "denied", error.message
            await reporter.error(error)
        except Undeliverable as error:
            message = f"{request.requester.kind} error {error.code}"
            log.warning("report.undeliverable", error=error.code)
            await reporter.error(error)
        except JdebugError as error:
            message = error.message
            await reporter.error(error)
        except asyncio.CancelledError:
            outcome, message = "cancelled", "cancelled at shutdown"
            await reporter.error(JdebugError(CANCELLED))
            raise
        except Exception:
            log.exception("request.crashed")
            outcome, message = "internal_error", f"internal error (id {request_id})"
            await reporter.error(
                JdebugError(f"internal error (id {request_id}); the details are in jdebug's log.")
            )
        finally:
            permit.release()
            self.metrics.in_flight.dec()
            strategy = runs[0].strategy if runs else ""
            self._account(admitted, request_id, outcome, message, started, runs, kube_user)
            self.metrics.requests.labels(request.tool, outcome, strategy).inc()
            self.metrics.duration.labels(request.tool).observe(time.monotonic() - started)
        return Finished(outcome, message, request_id)

    async def _backend_for(self, request: Request) -> tuple[Backend, str | None]:
        """The backend of the request's cluster, acting as the requester when impersonation
        is on, and the Kubernetes user it acts as (None: jdebug's own)."""
        backend = self.backends.get(request.target.cluster)
        identity = await self.acting_as.identity(request.requester.user)
        if identity is None:
            return backend, None
        structlog.contextvars.bind_contextvars(kube_user=identity.user)
        assert isinstance(backend, ImpersonatingBackend)  # checked at start
        return backend.acting_as(identity), identity.user

    async def _fan_out(
        self, request: Request, backend: Backend, reporter: Reporter, runs: list[Run]
    ) -> str:
        """Every matching pod, each reply posted as it comes; `runs` gets one entry per pod as
        it finishes (so the audit has them even if the frontend fails later)."""
        await reporter.progress(
            _fanning_out(request, f"running on every pod of {request.target.describe()}")
        )

        async def post(outcome: PodOutcome) -> PodAnswer:
            if outcome.result is None:
                message = outcome.error.message if outcome.error else "no answer"
                namespace, _, pod = outcome.target.rpartition("/")
                runs.append(Run.failed(request.target.cluster, namespace or None, pod, message))
                return PodAnswer(outcome.target, error=message)
            result = dataclasses.replace(
                outcome.result, request=pod_request(request, outcome.result.place)
            )
            runs.append(run_of(result))
            note = await reporter.pod(result)
            return PodAnswer(outcome.target, headline=result.analysis.headline + note)

        answers: Sequence[PodAnswer] = await map_each(
            request,
            backend,
            post,
            concurrency=self.settings.max_concurrent_requests,
            step_deadline_s=self.settings.step_deadline_seconds,
            max_pods=self.settings.max_pods_per_request,
        )
        await reporter.fanout(request, answers)
        return fanout_headline(answers)

    def _account(
        self,
        admitted: Admitted,
        request_id: str,
        outcome: Outcome,
        message: str,
        started: float,
        runs: Sequence[Run],
        kube_user: str | None,
    ) -> None:
        request = admitted.request
        mark = "ok: " if outcome == "ok" else ""
        self.history.add(request.requester.user, command_text(request), (mark + message)[:150])
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
        emit(entry, self.settings.audit_file, to_log=self.audit_to_log)


def _fanning_out(request: Request, message: str) -> Progress:
    return Progress("running", message, request.target.describe())
