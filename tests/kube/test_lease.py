"""Leader election (`bot.kube.lease.LeaderElector`) against a real kubesim serving Leases.

Replicas are electors with their own `KubeApi` clients, authenticated as the bot's ServiceAccount
with only the RBAC rule the report recommends. Conflicts are real 409s from the server: a rival
writes through the admin client between an elector's read and its write. No pods are started,
so kubesim needs no root here.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.kube.api import KubeApi
from bot.kube.errors import KubeConflict, KubeNotFound
from bot.kube.lease import (
    DEFAULT_LEASE_NAME,
    LeaderElector,
    LeaseApi,
    default_identity,
    format_micro_time,
    parse_micro_time,
    read_record,
)
from kubesim import KubeSim

# The bot's namespace holds the Lease under its default name, guarded by the recommended rule
# (get/update only on that name; create cannot be limited by name). `elections` lets the other
# tests use a fresh Lease name each.
WORLD = """
apiVersion: v1
kind: Namespace
metadata: {name: jdebug}
---
apiVersion: v1
kind: Namespace
metadata: {name: elections}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: jdebug, namespace: jdebug}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: jdebug-leader-election, namespace: jdebug}
rules:
- {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [create]}
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [jdebug-leader]
  verbs: [get, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: elections, namespace: elections}
rules:
- {apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jdebug-leader-election, namespace: jdebug}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: jdebug-leader-election}
subjects: [{kind: ServiceAccount, name: jdebug, namespace: jdebug}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: elections, namespace: elections}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: elections}
subjects: [{kind: ServiceAccount, name: jdebug, namespace: jdebug}]
"""
NS = "elections"


@dataclass(frozen=True)
class Timing:
    lease_duration_s: int
    renew_deadline_s: float
    retry_period_s: float


FAST = Timing(lease_duration_s=2, renew_deadline_s=1.5, retry_period_s=0.3)
LATENCY_S = 0.5  # allowance for API round trips and scheduling on a busy machine
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    world = tmp_path_factory.mktemp("lease") / "world.yaml"
    world.write_text(WORLD)
    with KubeSim(manifests=[world]) as running:
        yield running


@pytest.fixture
async def admin(sim: KubeSim) -> AsyncIterator[KubeApi]:
    async with KubeApi.from_kubeconfig(str(sim.kubeconfig("admin"))) as api:
        yield api


@pytest.fixture
async def replica(sim: KubeSim) -> AsyncIterator[Callable[[], KubeApi]]:
    """A new client as the bot's ServiceAccount per call: one per replica."""
    made: list[KubeApi] = []

    def new() -> KubeApi:
        made.append(KubeApi.from_kubeconfig(str(sim.kubeconfig("jdebug/jdebug"))))
        return made[-1]

    yield new
    for api in made:
        await api.close()


@dataclass
class Work:
    """Stands in for the janitor: runs until cancelled, recording when (UTC) it started and
    stopped, to compare with the Lease's own timestamps."""

    started: list[datetime] = field(default_factory=list)
    cancelled: list[datetime] = field(default_factory=list)

    async def __call__(self) -> None:
        self.started.append(datetime.now(UTC))
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.append(datetime.now(UTC))
            raise

    @property
    def running(self) -> bool:
        return len(self.started) > len(self.cancelled)


@dataclass
class Campaign:
    elector: LeaderElector
    work: Work
    stop: asyncio.Event
    task: asyncio.Task[None]


def leads(running: Campaign) -> bool:
    """Leading, with the work started (it starts on the loop's next turn after the win)."""
    return running.elector.is_leader and running.work.running


@pytest.fixture
async def campaign() -> AsyncIterator[Callable[..., Campaign]]:
    """Start `LeaderElector.run` in a task; every campaign is stopped and awaited afterwards."""
    started: list[Campaign] = []

    def start(
        elector: LeaderElector, work: Callable[[], Awaitable[None]] | None = None
    ) -> Campaign:
        job = Work()
        stop = asyncio.Event()
        task = asyncio.create_task(elector.run(work or job, stop))
        started.append(Campaign(elector, job, stop, task))
        return started[-1]

    yield start
    for running in started:
        running.stop.set()
    await asyncio.gather(*(c.task for c in started), return_exceptions=True)


class RacingApi:
    """Forwards to a real client; `rival` (if set) runs once just before our next write, so
    the server sees its write first and answers ours with 409. Counts the 409s we got."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self.rival: Callable[[], Awaitable[None]] | None = None
        self.conflicts = 0

    async def get_lease(
        self, namespace: str, name: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        return await self.api.get_lease(namespace, name, timeout_s=timeout_s)

    async def create_lease(
        self, namespace: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        await self._race()
        return await self._counted(self.api.create_lease(namespace, body, timeout_s=timeout_s))

    async def replace_lease(
        self, namespace: str, name: str, body: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        await self._race()
        return await self._counted(
            self.api.replace_lease(namespace, name, body, timeout_s=timeout_s)
        )

    async def _race(self) -> None:
        rival, self.rival = self.rival, None
        if rival is not None:
            await rival()

    async def _counted(self, call: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        try:
            return await call
        except KubeConflict:
            self.conflicts += 1
            raise


def candidate(
    api: LeaseApi, identity: str, name: str, timing: Timing, namespace: str = NS
) -> LeaderElector:
    return LeaderElector(
        api,
        namespace,
        name,
        identity,
        lease_duration_s=timing.lease_duration_s,
        renew_deadline_s=timing.renew_deadline_s,
        retry_period_s=timing.retry_period_s,
    )


async def eventually(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `check()` holds, polled every 10 ms."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


async def never(check: Callable[[], bool], seconds: float, what: str) -> None:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        assert not check(), what
        await asyncio.sleep(0.01)


def unique_name() -> str:
    return f"leader-{os.urandom(3).hex()}"


def rival_write(admin: KubeApi, name: str, holder: str = "rival") -> Callable[[], Awaitable[None]]:
    """Another candidate taking the Lease with a fresh 30 s term, created if absent."""

    async def write() -> None:
        now = format_micro_time(datetime.now(UTC))
        spec = {
            "holderIdentity": holder,
            "leaseDurationSeconds": 30,
            "acquireTime": now,
            "renewTime": now,
        }
        try:
            lease = await admin.get_lease(NS, name)
        except KubeNotFound:
            await admin.create_lease(NS, {"metadata": {"name": name}, "spec": spec})
            return
        lease["spec"] = {**lease.get("spec", {}), **spec}
        await admin.replace_lease(NS, name, lease)

    return write


def micro(value: object) -> datetime:
    parsed = parse_micro_time(value)
    assert parsed is not None, f"not a MicroTime: {value!r}"
    return parsed


async def kubectl(sim: KubeSim, *args: str, identity: str = "admin") -> str:
    binary = shutil.which("kubectl")
    assert binary, "kubectl is needed to read the Lease as an independent client"
    argv = [binary, "--kubeconfig", str(sim.kubeconfig(identity)), *args]
    env = {**os.environ, "KUBECACHEDIR": str(sim.state_dir / "kubecache")}
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode in (0, 1), f"kubectl {' '.join(args)} failed: {err.decode()}"
    return out.decode()


async def lease_as_kubectl_shows_it(sim: KubeSim, namespace: str, name: str) -> dict[str, Any]:
    shown = yaml.safe_load(await kubectl(sim, "get", "lease", name, "-n", namespace, "-o", "yaml"))
    assert isinstance(shown, dict)
    return shown


# -- one replica ----------------------------------------------------------------------------------
async def test_single_replica_leads_renews_and_reads_in_kubectl_as_the_holder(
    sim: KubeSim, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
) -> None:
    """Uses the default Lease name in the bot's namespace, under the least-privilege Role."""
    elector = candidate(replica(), "bot-7d9f-a", DEFAULT_LEASE_NAME, FAST, namespace="jdebug")
    assert elector.name == DEFAULT_LEASE_NAME
    running = campaign(elector)
    await eventually(lambda: elector.is_leader and running.work.running, 5, "a lone replica leads")

    first = await lease_as_kubectl_shows_it(sim, "jdebug", DEFAULT_LEASE_NAME)
    await asyncio.sleep(FAST.lease_duration_s + 0.5)  # longer than one lease term
    later = await lease_as_kubectl_shows_it(sim, "jdebug", DEFAULT_LEASE_NAME)

    assert elector.is_leader and running.work.running and running.work.cancelled == []
    assert later["kind"] == "Lease" and later["apiVersion"] == "coordination.k8s.io/v1"
    spec = later["spec"]
    assert spec["holderIdentity"] == "bot-7d9f-a"
    assert spec["leaseDurationSeconds"] == 2
    assert MICRO_TIME.match(spec["renewTime"]) and MICRO_TIME.match(spec["acquireTime"])
    assert spec["acquireTime"] == first["spec"]["acquireTime"]  # renewing is not re-acquiring
    assert spec["leaseTransitions"] == first["spec"]["leaseTransitions"]
    renewed = micro(spec["renewTime"])
    assert renewed > micro(first["spec"]["renewTime"])
    assert datetime.now(UTC) - renewed < timedelta(seconds=FAST.retry_period_s + LATENCY_S)

    # The Role allows exactly what election needs, on this Lease only.
    may = {
        check: (
            await kubectl(
                sim, "auth", "can-i", *check.split(), "-n", "jdebug", identity="jdebug/jdebug"
            )
        ).strip()
        for check in (
            "update leases/jdebug-leader",
            "create leases",
            "delete leases/jdebug-leader",
            "update leases/someone-else",
        )
    }
    assert may == {
        "update leases/jdebug-leader": "yes",
        "create leases": "yes",
        "delete leases/jdebug-leader": "no",
        "update leases/someone-else": "no",
    }

    running.stop.set()
    await asyncio.wait_for(running.task, 5)
    assert not elector.is_leader and not running.work.running
    released = (await lease_as_kubectl_shows_it(sim, "jdebug", DEFAULT_LEASE_NAME))["spec"]
    assert released["holderIdentity"] == ""
    # Already over by its own reckoning, so no candidate waits for it.
    term = timedelta(seconds=released["leaseDurationSeconds"])
    assert micro(released["renewTime"]) + term <= datetime.now(UTC)
    assert released["leaseTransitions"] == spec["leaseTransitions"]


# -- two replicas ---------------------------------------------------------------------------------
async def test_two_replicas_starting_together_never_both_lead(
    admin: KubeApi, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
) -> None:
    name = unique_name()
    a = campaign(candidate(replica(), "a", name, FAST))
    b = campaign(candidate(replica(), "b", name, FAST))
    samples: list[tuple[bool, bool, bool, bool]] = []
    ends = time.monotonic() + 3
    while time.monotonic() < ends:
        samples.append((a.elector.is_leader, b.elector.is_leader, a.work.running, b.work.running))
        await asyncio.sleep(0.01)

    both = [s for s in samples if (s[0] and s[1]) or (s[2] and s[3])]
    assert both == [], f"{len(both)} of {len(samples)} samples saw two leaders"
    first = next(i for i, s in enumerate(samples) if s[0] or s[1])
    assert all(s[0] != s[1] for s in samples[first:]), "leadership lapsed without any failure"
    assert len(a.work.started) + len(b.work.started) == 1, "leadership changed hands"
    leader = "a" if a.elector.is_leader else "b"
    lease = await admin.get_lease(NS, name)
    assert lease["spec"]["holderIdentity"] == leader
    assert lease["spec"]["leaseTransitions"] == 0


async def test_dead_leader_is_replaced_once_its_lease_expires(
    admin: KubeApi, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
) -> None:
    name = unique_name()
    a = campaign(candidate(replica(), "a", name, FAST))
    await eventually(lambda: leads(a), 5, "a leads")
    b = campaign(candidate(replica(), "b", name, FAST))
    await never(lambda: b.elector.is_leader, 0.6, "b took a lease that a keeps renewing")
    before = (await admin.get_lease(NS, name))["spec"]

    a.task.cancel()  # a dead process: no release
    killed = datetime.now(UTC)
    with pytest.raises(asyncio.CancelledError):
        await a.task
    assert not a.work.running
    assert (await admin.get_lease(NS, name))["spec"]["holderIdentity"] == "a"

    waited = await eventually(lambda: leads(b), 10, "b takes over")
    duration, retry = FAST.lease_duration_s, FAST.retry_period_s
    # a renewed at most one retry period before dying, so the term cannot end much sooner...
    assert waited > duration - retry - 0.1, f"b took a live lease after {waited:.2f} s"
    # ...and b notices within one retry period of its end.
    assert waited < duration + retry + LATENCY_S, f"failover took {waited:.2f} s"
    assert b.work.running
    after = (await admin.get_lease(NS, name))["spec"]
    assert after["holderIdentity"] == "b"
    assert after["leaseTransitions"] == before["leaseTransitions"] + 1
    assert micro(before["acquireTime"]) < killed < micro(after["acquireTime"])
    assert killed < b.work.started[0]


async def test_restarted_replica_leaves_its_dead_predecessors_lease_to_the_waiting_one(
    admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A killed container restarts in the same pod, under the same POD_NAME, a second later.
    monkeypatch.setenv("POD_NAME", "jdebug-5c8d-x2k4q")
    name = unique_name()
    timing = Timing(lease_duration_s=3, renew_deadline_s=2, retry_period_s=0.3)
    a = campaign(candidate(replica(), default_identity(), name, timing))
    await eventually(lambda: leads(a), 5, "a leads")
    b = campaign(candidate(replica(), "b", name, timing))
    await never(lambda: b.elector.is_leader, 0.5, "b took a lease that a keeps renewing")

    a.task.cancel()  # killed: no release
    killed = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await a.task
    await asyncio.sleep(1)
    restarted = campaign(candidate(replica(), default_identity(), name, timing))

    await eventually(lambda: leads(b), 10, "b takes over")
    waited = time.monotonic() - killed
    assert waited < timing.lease_duration_s + timing.retry_period_s + LATENCY_S
    assert restarted.work.started == [], "the restarted replica resumed or won the dead lease"
    assert (await admin.get_lease(NS, name))["spec"]["holderIdentity"] == "b"
    # It still takes over once b is gone for good, a whole term after it last saw b renew.
    b.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b.task
    await eventually(lambda: leads(restarted), 10, "the restarted replica takes over from b")


async def test_graceful_stop_hands_over_within_a_retry_period(
    admin: KubeApi, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
) -> None:
    name = unique_name()
    # A long lease: taking over in well under it proves the lease was released, not expired.
    timing = Timing(lease_duration_s=8, renew_deadline_s=5, retry_period_s=0.3)
    a = campaign(candidate(replica(), "a", name, timing))
    await eventually(lambda: leads(a), 5, "a leads")
    b = campaign(candidate(replica(), "b", name, timing))
    await never(lambda: b.elector.is_leader, 0.5, "b took a lease that a keeps renewing")

    a.stop.set()
    waited = await eventually(lambda: leads(b), 5, "b takes over")
    assert waited < timing.retry_period_s + LATENCY_S
    await asyncio.wait_for(a.task, 5)
    assert not a.elector.is_leader
    assert a.work.cancelled[0] <= b.work.started[0], "b started before a's work was cancelled"
    assert (await admin.get_lease(NS, name))["spec"]["holderIdentity"] == "b"


# -- conflicts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lease_before", ["absent", "expired"])
async def test_candidate_that_loses_the_write_race_does_not_lead(
    lease_before: str,
    admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
) -> None:
    name = unique_name()
    if lease_before == "expired":
        long_ago = format_micro_time(datetime.now(UTC) - timedelta(minutes=5))
        await admin.create_lease(
            NS,
            {
                "metadata": {"name": name},
                "spec": {
                    "holderIdentity": "crashed",
                    "leaseDurationSeconds": 15,
                    "acquireTime": long_ago,
                    "renewTime": long_ago,
                },
            },
        )
    racing = RacingApi(replica())
    racing.rival = rival_write(admin, name)  # creates or takes the lease just before our write
    a = campaign(candidate(racing, "a", name, FAST))
    await eventually(lambda: racing.conflicts == 1, 5, "a's write is answered 409")
    await never(lambda: a.elector.is_leader or a.work.running, 1.0, "a leads after losing")
    assert a.work.started == []
    assert (await admin.get_lease(NS, name))["spec"]["holderIdentity"] == "rival"


async def test_leader_whose_renewal_loses_to_another_writer_stops_its_work(
    admin: KubeApi, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
) -> None:
    name = unique_name()
    racing = RacingApi(replica())
    a = campaign(candidate(racing, "a", name, FAST))
    await eventually(lambda: leads(a), 5, "a leads")

    racing.rival = rival_write(admin, name)  # just before a's next renewal
    lost = await eventually(lambda: not a.work.running, 3, "a's work is cancelled")
    assert racing.conflicts == 1
    assert lost < 2 * FAST.retry_period_s + LATENCY_S  # on the next round, not at the deadline
    assert not a.elector.is_leader
    await never(lambda: a.elector.is_leader, 0.6, "a took back a lease held by another")
    assert (await admin.get_lease(NS, name))["spec"]["holderIdentity"] == "rival"


async def test_leader_that_cannot_renew_stops_before_another_may_start(
    sim: KubeSim,
    admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
) -> None:
    name = unique_name()
    racing = RacingApi(replica())
    a = campaign(candidate(racing, "a", name, FAST))
    await eventually(lambda: leads(a), 5, "a leads")
    b = campaign(candidate(replica(), "b", name, FAST))

    # From now on a's calls are answered 403 by the server, as if its RBAC had been removed.
    racing.api = KubeApi.from_kubeconfig(str(sim.kubeconfig("default/nobody")))
    try:
        await eventually(lambda: not a.work.running, 5, "a stops its work")
        lease = (await admin.get_lease(NS, name))["spec"]
        assert lease["holderIdentity"] == "a"
        last, stopped_at = micro(lease["renewTime"]), a.work.cancelled[0]
        # Not before the renew deadline, and before the lease term ends for anyone else.
        assert stopped_at - last >= timedelta(seconds=FAST.renew_deadline_s - 0.05)
        assert stopped_at < last + timedelta(seconds=FAST.lease_duration_s)
        assert not b.work.started, "b started while a's lease was still valid"
        assert not a.elector.is_leader
        await eventually(lambda: leads(b), 5, "b takes over the expired lease")
        assert a.work.cancelled[0] < b.work.started[0]
    finally:
        await racing.api.close()


async def test_work_that_fails_ends_run_and_releases_the_lease(
    admin: KubeApi, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
) -> None:
    name = unique_name()

    async def broken() -> None:
        raise RuntimeError("janitor bug")

    a = campaign(candidate(replica(), "a", name, FAST), broken)
    with pytest.raises(RuntimeError, match="janitor bug"):
        await asyncio.wait_for(a.task, 5)
    assert not a.elector.is_leader
    assert (await admin.get_lease(NS, name))["spec"]["holderIdentity"] == ""


# -- values ---------------------------------------------------------------------------------------
def test_timings_must_leave_room_to_renew_before_the_lease_ends() -> None:
    for bad in (
        Timing(lease_duration_s=10, renew_deadline_s=10, retry_period_s=2),
        Timing(lease_duration_s=15, renew_deadline_s=2, retry_period_s=2),
        Timing(lease_duration_s=15, renew_deadline_s=10, retry_period_s=0),
    ):
        with pytest.raises(
            ValueError, match="retry_period_s < renew_deadline_s < lease_duration_s"
        ):
            candidate(RacingApi(None), "a", "x", bad)  # type: ignore[arg-type]


def test_identity_names_the_pod_else_the_host_and_is_new_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POD_NAME", "jdebug-5c8d-x2k4q")
    first, again = default_identity(), default_identity()
    # kubectl's HOLDER column still names the pod, and a restarted container is someone new.
    assert first.startswith("jdebug-5c8d-x2k4q_") and again.startswith("jdebug-5c8d-x2k4q_")
    assert first != again
    monkeypatch.delenv("POD_NAME")
    assert default_identity().startswith(f"{socket.gethostname()}_")


def test_micro_time_round_trips_and_plain_rfc3339_is_read() -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    assert format_micro_time(moment) == "2025-03-04T05:06:07.890123Z"
    assert parse_micro_time(format_micro_time(moment)) == moment
    assert parse_micro_time("2025-03-04T05:06:07Z") == moment.replace(microsecond=0)
    assert parse_micro_time("2025-03-04T07:06:07.890123+02:00") == moment
    for garbage in ("", "yesterday", "2025-13-40T00:00:00Z", 17, None):
        assert parse_micro_time(garbage) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
    ),
    max_leaves=20,
)
SPEC_KEYS = st.sampled_from(
    ["holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions"]
)


@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {
                "spec": st.dictionaries(SPEC_KEYS, JSON),
                "metadata": st.dictionaries(st.just("resourceVersion"), JSON),
            }
        ),
    )
)
def test_reading_any_lease_body_never_raises(body: object) -> None:
    record = read_record(body)
    assert isinstance(record.holder, str) and record.transitions >= 0
    assert record.duration_s is None or record.duration_s >= 0
