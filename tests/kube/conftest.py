"""Leader-election fixtures and helpers for tests/kube/test_lease*.py: a kubesim serving
Leases, electors (`bot.kube.lease.LeaderElector`) as replicas with their own clients,
authenticated as the bot's ServiceAccount under the RBAC rule the report recommends, and a
client that lets a rival write first (real 409s from the server). No pods are started, so
kubesim needs no root here."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from bot.kube.api import KubeApi
from bot.kube.errors import KubeConflict, KubeNotFound
from bot.kube.lease import (
    LeaderElector,
    LeaseApi,
    format_micro_time,
    parse_micro_time,
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
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lease_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeSim]:
    """kubesim with WORLD: the bot's least-privilege Lease Role, and `elections` for the rest."""
    world = tmp_path_factory.mktemp("lease") / "world.yaml"
    world.write_text(WORLD)
    with KubeSim(manifests=[world]) as running:
        yield running


@pytest.fixture
async def lease_admin(lease_sim: KubeSim) -> AsyncIterator[KubeApi]:
    async with KubeApi.from_kubeconfig(str(lease_sim.kubeconfig("admin"))) as api:
        yield api


@pytest.fixture
async def replica(lease_sim: KubeSim) -> AsyncIterator[Callable[[], KubeApi]]:
    """A new client as the bot's ServiceAccount per call: one per replica."""
    made: list[KubeApi] = []

    def new() -> KubeApi:
        made.append(KubeApi.from_kubeconfig(str(lease_sim.kubeconfig("jdebug/jdebug"))))
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
    the server sees its write first and answers ours with 409. Counts the 409s we got, and
    keeps the Leases we read (what the elector has seen)."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self.rival: Callable[[], Awaitable[None]] | None = None
        self.conflicts = 0
        self.read: list[dict[str, Any]] = []

    async def get_lease(
        self, namespace: str, name: str, *, timeout_s: float | None = None
    ) -> dict[str, Any]:
        lease = await self.api.get_lease(namespace, name, timeout_s=timeout_s)
        self.read.append(lease)
        return lease

    def renewals_seen(self, holder: str) -> int:
        """How many versions of the Lease held by `holder` we read: two mean we saw it renew,
        after which an elector counts that holder's term from its renewTime."""
        versions = {
            lease["metadata"]["resourceVersion"]
            for lease in self.read
            if lease["spec"].get("holderIdentity") == holder
        }
        return len(versions)

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


async def eventually(check: Callable[[], bool], what: str, timeout: float) -> float:
    """Seconds until `check()` holds, polled every 10 ms; fails naming `what` after `timeout`."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - began


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
