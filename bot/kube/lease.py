"""Leader election on a `coordination.k8s.io/v1` Lease, so singleton work runs on one replica.

`LeaderElector.run` takes the Lease when it is free, renews it every retry period, cancels the
work when it cannot renew within the renew deadline, and hands the Lease over on a graceful stop.
Every write carries the resourceVersion it read, so two candidates can never both win a round.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from bot.kube.errors import KubeConflict, KubeError, KubeNotFound
from bot.model.errors import DeadlineExceeded

log = structlog.get_logger("jdebug.lease")

DEFAULT_LEASE_NAME = "jdebug-leader"


class LeaseApi(Protocol):
    """The three Lease calls election needs; `bot.kube.api.KubeApi` provides them."""

    async def get_lease(
        self, namespace: str, name: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]: ...

    async def create_lease(
        self, namespace: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]: ...

    async def replace_lease(
        self, namespace: str, name: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LeaseRecord:
    """What a Lease's spec says, read leniently: a missing or garbled field is None (or 0)."""

    holder: str
    duration_s: int | None
    acquire_time: datetime | None
    renew_time: datetime | None
    transitions: int
    resource_version: str


def format_micro_time(moment: datetime) -> str:
    """A `MicroTime` as the API server writes it: `2025-01-02T03:04:05.123456Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(value: object) -> datetime | None:
    """An RFC 3339 time (with or without fractional seconds) as an aware datetime, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def read_record(lease: object) -> LeaseRecord:
    """The election-relevant fields of a Lease object; never raises, whatever the object holds."""
    body = lease if isinstance(lease, dict) else {}
    spec = body.get("spec")
    spec = spec if isinstance(spec, dict) else {}
    meta = body.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    holder = spec.get("holderIdentity")
    return LeaseRecord(
        holder=holder if isinstance(holder, str) else "",
        duration_s=_positive_int(spec.get("leaseDurationSeconds")),
        acquire_time=parse_micro_time(spec.get("acquireTime")),
        renew_time=parse_micro_time(spec.get("renewTime")),
        transitions=_positive_int(spec.get("leaseTransitions")) or 0,
        resource_version=str(meta.get("resourceVersion") or ""),
    )


def default_identity() -> str:
    """POD_NAME (from the downward API), else the hostname, plus a suffix new in every process.

    A killed container restarts in the same pod, under the same POD_NAME: with the name alone
    the new process would renew its dead predecessor's Lease as if it had held it all along.
    """
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{secrets.token_hex(4)}"


class LeaderElector:
    """Runs work only while this replica holds the Lease `namespace/name`.

        elector = LeaderElector(api, "jdebug")
        await elector.run(lambda: janitor_loop(backend, 60), stop)   # until `stop` is set

    Set `stop` for a graceful end: the work is cancelled, then the Lease released so another
    replica takes over within one retry period. Cancelling `run` abandons the Lease without
    releasing it (as a dead process would); the others take over once it expires.
    `identity` must differ between replicas. Clocks are assumed synced to well within
    `lease_duration_s - renew_deadline_s`, the margin between this replica stopping its work
    and another starting it.
    """

    def __init__(
        self,
        api: LeaseApi,
        namespace: str,
        name: str = DEFAULT_LEASE_NAME,
        identity: str | None = None,
        lease_duration_s: int = 15,
        renew_deadline_s: float = 10,
        retry_period_s: float = 2,
    ) -> None:
        if not 0 < retry_period_s < renew_deadline_s < lease_duration_s:
            raise ValueError(
                "leader election needs 0 < retry_period_s < renew_deadline_s < lease_duration_s, "
                f"got {retry_period_s} / {renew_deadline_s} / {lease_duration_s}"
            )
        self.api = api
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_duration_s = lease_duration_s
        self.renew_deadline_s = renew_deadline_s
        self.retry_period_s = retry_period_s
        self._leading = False
        # Monotonic time at which our last successful write was sent: the lease counts from the
        # renewTime written then, so the renew deadline must too, never from when the answer came.
        self._renewed_at = -float("inf")
        # The Lease as stored after our last successful write; what a release overwrites.
        self._ours: dict[str, Any] | None = None
        # The Lease version we last read and when we first saw it (monotonic).
        self._seen: tuple[str, float] = ("", 0.0)
        # Whether another's renewTime may end its term for us: once we have seen the Lease
        # change (we were there while it was renewed), or if it was already over when we came.
        self._trust_renew_time = False
        self._last_failure = ""

    @property
    def is_leader(self) -> bool:
        """True while the work may run: leading, and renewed within the renew deadline."""
        return self._leading and time.monotonic() - self._renewed_at < self.renew_deadline_s

    async def run(
        self, on_started_leading: Callable[[], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Campaign, lead, and campaign again after losing the Lease, until `stop` is set.

        `on_started_leading()` starts each time leadership is gained and is cancelled when it is
        lost. If it returns, the Lease is kept (the work is not restarted elsewhere) until stop;
        if it raises, the Lease is released and the exception ends `run`.
        """
        abandoned = False
        try:
            while not stop.is_set():
                if await self._attempt(self.renew_deadline_s):
                    await self._lead(on_started_leading, stop)
                else:
                    await _sleep_unless(stop, self.retry_period_s)
        except asyncio.CancelledError:
            abandoned = True  # as a dead process would: the Lease runs out on its own
            raise
        finally:
            self._leading = False
            if not abandoned:
                await self._release()

    # -- leading ------------------------------------------------------------------------------
    async def _lead(self, work: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        """Run `work` and renew every retry period until stop, loss, or renewal timing out."""
        self._leading = True
        log.info("lease.leading", lease=self._where(), identity=self.identity)
        task: asyncio.Future[None] = asyncio.ensure_future(work())
        watched: set[asyncio.Future[None]] = {task}
        try:
            while True:
                await _sleep_unless(stop, self.retry_period_s, *watched)
                if stop.is_set():
                    return
                if watched and task.done():
                    watched.clear()
                    if not task.cancelled() and task.exception() is not None:
                        log.error(
                            "lease.work_failed", lease=self._where(), exc_info=task.exception()
                        )
                        task.result()  # ends `run` with the work's own exception
                if not await self._renew(stop):
                    return
        finally:
            self._leading = False
            await self._cancel(task, reported=not watched)

    async def _renew(self, stop: asyncio.Event) -> bool:
        """Retry renewing until the renew deadline; False once leadership is lost."""
        while not stop.is_set():
            left = self._renewed_at + self.renew_deadline_s - time.monotonic()
            if left <= 0:
                reason = f"not renewed within {self.renew_deadline_s:g} s"
                log.warning("lease.lost", lease=self._where(), reason=reason)
                return False
            if await self._attempt(left):
                return True
            if self._ours is None:
                log.warning("lease.lost", lease=self._where(), reason="another replica holds it")
                return False
            await _sleep_unless(stop, min(self.retry_period_s, left))
        return True  # `_lead` sees the stop and ends

    async def _cancel(self, task: asyncio.Future[None], reported: bool) -> None:
        """Cancel the work and wait for it, within the renew deadline: the margin before
        another replica may start it is only lease duration minus renew deadline."""
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=self.renew_deadline_s)
        if not done:
            log.error("lease.work_ignores_cancel", lease=self._where())
        elif not reported and not task.cancelled() and task.exception() is not None:
            log.error("lease.work_failed", lease=self._where(), exc_info=task.exception())

    # -- one round ----------------------------------------------------------------------------
    async def _attempt(self, timeout_s: float) -> bool:
        """Get the Lease and take or renew it if it is absent, free, expired or ours; True when
        we hold it afterwards. A 409 means another candidate wrote first: we lost this round."""
        ends = time.monotonic() + timeout_s

        def left() -> float:
            return max(ends - time.monotonic(), 0.01)

        try:
            try:
                lease = await self.api.get_lease(self.namespace, self.name, timeout_s=left())
            except KubeNotFound:
                sent_at, now = time.monotonic(), datetime.now(UTC)
                created = await self.api.create_lease(
                    self.namespace, self._created(now), timeout_s=left()
                )
                return self._won(created, sent_at)
            record = read_record(lease)
            self._observe(record)
            if record.holder not in ("", self.identity) and not self._expired(record):
                self._ours = None
                self._last_failure = ""
                return False
            sent_at, now = time.monotonic(), datetime.now(UTC)
            replaced = await self.api.replace_lease(
                self.namespace, self.name, self._claimed(lease, record, now), timeout_s=left()
            )
            return self._won(replaced, sent_at)
        except KubeConflict:
            return False
        except (KubeError, DeadlineExceeded) as error:
            self._failed(error.message)
            return False

    def _won(self, stored: dict[str, Any], sent_at: float) -> bool:
        self._ours = stored
        self._renewed_at = sent_at
        self._last_failure = ""
        return True

    def _failed(self, message: str) -> None:
        """Log a failed round once per distinct reason, not every retry period."""
        if message != self._last_failure:
            log.warning("lease.round_failed", lease=self._where(), error=message)
        self._last_failure = message

    def _observe(self, record: LeaseRecord) -> None:
        if record.resource_version == self._seen[0]:
            return
        if self._seen[0] or self._over(record):
            self._trust_renew_time = True
        self._seen = (record.resource_version, time.monotonic())

    def _over(self, record: LeaseRecord) -> bool:
        """The holder's term has ended by its renewTime (False when there is none)."""
        duration = timedelta(seconds=record.duration_s or self.lease_duration_s)
        return record.renew_time is not None and record.renew_time + duration < datetime.now(UTC)

    def _expired(self, record: LeaseRecord) -> bool:
        """A term ends by the holder's renewTime, but a candidate that came while it was still
        running (a restarted replica, say) first watches it unchanged for a whole term, as
        client-go does: the replicas that were already waiting take over first, and a
        crash-looping replica does not win the Lease back each time it restarts. After that
        the holder's renewTime is trusted (client-go never trusts it, only its own clock), so
        clocks skewed by more than a retry period can briefly give two leaders; the janitor's
        deletes are idempotent, so that costs nothing but a duplicate sweep. Without a
        readable renewTime the Lease is counted from when this version of it was first seen."""
        duration = record.duration_s or self.lease_duration_s
        watched_out = time.monotonic() - self._seen[1] > duration
        if record.renew_time is None:
            return watched_out
        return self._over(record) and (self._trust_renew_time or watched_out)

    # -- bodies -------------------------------------------------------------------------------
    def _created(self, now: datetime) -> dict[str, Any]:
        stamp = format_micro_time(now)
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.lease_duration_s,
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 0,
            },
        }

    def _claimed(self, lease: dict[str, Any], record: LeaseRecord, now: datetime) -> dict[str, Any]:
        """The Lease as read (resourceVersion and unknown fields kept), now held by us."""
        body = copy.deepcopy(lease)
        spec = body.get("spec")
        spec = dict(spec) if isinstance(spec, dict) else {}
        stamp = format_micro_time(now)
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=self.lease_duration_s,
            renewTime=stamp,
        )
        if record.holder != self.identity:
            spec.update(acquireTime=stamp, leaseTransitions=record.transitions + 1)
        elif record.acquire_time is None:
            spec["acquireTime"] = stamp
        body["spec"] = spec
        return body

    async def _release(self) -> None:
        """Mark the Lease free (no holder, already expired) if it is still the one we wrote;
        a 409 means someone else wrote since, so there is nothing of ours to release."""
        if self._ours is None:
            return
        lease, self._ours = self._ours, None
        body = copy.deepcopy(lease)
        spec = body.get("spec")
        spec = dict(spec) if isinstance(spec, dict) else {}
        past = format_micro_time(datetime.now(UTC) - timedelta(seconds=1))
        spec.update(holderIdentity="", leaseDurationSeconds=1, renewTime=past)
        body["spec"] = spec
        try:
            await self.api.replace_lease(
                self.namespace, self.name, body, timeout_s=self.renew_deadline_s
            )
        except KubeConflict:
            return
        except (KubeError, DeadlineExceeded) as error:
            log.warning("lease.release_failed", lease=self._where(), error=error.message)
            return
        log.info("lease.released", lease=self._where(), identity=self.identity)

    def _where(self) -> str:
        return f"{self.namespace}/{self.name}"


async def _sleep_unless(stop: asyncio.Event, seconds: float, *also: asyncio.Future[Any]) -> None:
    """Sleep `seconds`, waking early when `stop` is set or any of `also` finishes."""
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter, *also}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
