"""Leader election between two replicas against kubesim: never two leaders, a dead leader
replaced once its Lease runs out (a restarted one leaves it to the replica that was waiting),
a graceful stop handing over at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.kube.api import KubeApi
from bot.kube.lease import (
    default_identity,
)
from tests.kube.conftest import (
    FAST,
    NS,
    Campaign,
    RacingApi,
    Timing,
    candidate,
    eventually,
    leads,
    micro,
    unique_name,
)


# -- two replicas ---------------------------------------------------------------------------------
async def test_two_replicas_starting_together_never_both_lead(
    lease_admin: KubeApi, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
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
    lease = await lease_admin.get_lease(NS, name)
    assert lease["spec"]["holderIdentity"] == leader
    assert lease["spec"]["leaseTransitions"] == 0


async def watching(
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
    holder: str,
    name: str,
    timing: Timing,
) -> tuple[Campaign, RacingApi]:
    """Replica b, started once `holder` leads, and not returned before it has seen `holder`
    renew: from then on b counts the holder's term from its renewTime (it is the replica that
    was waiting, not one that just came)."""
    api = RacingApi(replica())
    b = campaign(candidate(api, "b", name, timing))
    await eventually(lambda: api.renewals_seen(holder) >= 2, f"b to see {holder} renew", 10)
    assert not b.elector.is_leader and b.work.started == []
    return b, api


async def test_dead_leader_is_replaced_once_its_lease_expires(
    lease_admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
    record_property: Callable[[str, object], None],
) -> None:
    name = unique_name()
    a = campaign(candidate(replica(), "a", name, FAST))
    await eventually(lambda: leads(a), "a leads", 5)
    b, _ = await watching(replica, campaign, "a", name, FAST)
    before = (await lease_admin.get_lease(NS, name))["spec"]

    a.task.cancel()  # a dead process: no release
    killed = datetime.now(UTC)
    with pytest.raises(asyncio.CancelledError):
        await a.task
    assert not a.work.running
    last = (await lease_admin.get_lease(NS, name))["spec"]  # a writes no more
    assert last["holderIdentity"] == "a"

    waited = await eventually(lambda: leads(b), "b takes over", 30)
    record_property("takeover_after_kill_s", round(waited, 3))
    after = (await lease_admin.get_lease(NS, name))["spec"]
    assert after["holderIdentity"] == "b"
    assert after["leaseTransitions"] == before["leaseTransitions"] + 1
    # b took it only once a's last term had run out (both clocks are this machine's).
    term = timedelta(seconds=FAST.lease_duration_s)
    assert micro(after["acquireTime"]) >= micro(last["renewTime"]) + term
    assert micro(before["acquireTime"]) < killed < micro(after["acquireTime"])
    assert killed < b.work.started[0]


async def test_restarted_replica_leaves_its_dead_predecessors_lease_to_the_waiting_one(
    lease_admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    # A killed container restarts in the same pod, under the same POD_NAME.
    monkeypatch.setenv("POD_NAME", "jdebug-5c8d-x2k4q")
    name = unique_name()
    timing = Timing(lease_duration_s=3, renew_deadline_s=2, retry_period_s=0.3)
    dead = default_identity()
    a = campaign(candidate(replica(), dead, name, timing))
    await eventually(lambda: leads(a), "a leads", 5)
    b, b_api = await watching(replica, campaign, dead, name, timing)

    a.task.cancel()  # killed: no release
    killed = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await a.task
    last = (await lease_admin.get_lease(NS, name))["spec"]
    # The container comes back once b has read the dead holder's Lease again, and (what the
    # test is about) while that Lease's term still runs.
    reads = len(b_api.read)
    await eventually(lambda: len(b_api.read) > reads, "b to read the dead holder's Lease", 5)
    restarted = campaign(candidate(replica(), default_identity(), name, timing))
    term = timedelta(seconds=timing.lease_duration_s)
    assert datetime.now(UTC) < micro(last["renewTime"]) + term, "restarted after the term"

    await eventually(lambda: leads(b), "b takes over", 30)
    record_property("takeover_after_kill_s", round(time.monotonic() - killed, 3))
    assert restarted.work.started == [], "the restarted replica resumed or won the dead lease"
    assert not restarted.elector.is_leader
    assert (await lease_admin.get_lease(NS, name))["spec"]["holderIdentity"] == "b"
    # It still takes over once b is gone for good, a whole term after it last saw b renew.
    b.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await b.task
    await eventually(lambda: leads(restarted), "the restarted replica takes over from b", 30)


async def test_graceful_stop_hands_over_before_the_lease_would_have_ended(
    lease_admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
    record_property: Callable[[str, object], None],
) -> None:
    name = unique_name()
    # A long lease: taking over before it ends proves the lease was released, not expired.
    timing = Timing(lease_duration_s=8, renew_deadline_s=5, retry_period_s=0.3)
    a = campaign(candidate(replica(), "a", name, timing))
    await eventually(lambda: leads(a), "a leads", 5)
    b, _ = await watching(replica, campaign, "a", name, timing)

    last = (await lease_admin.get_lease(NS, name))["spec"]
    a.stop.set()
    waited = await eventually(lambda: leads(b), "b takes over", 30)
    record_property("handover_s", round(waited, 3))
    await asyncio.wait_for(a.task, 5)
    assert not a.elector.is_leader
    assert a.work.cancelled[0] <= b.work.started[0], "b started before a's work was cancelled"
    after = (await lease_admin.get_lease(NS, name))["spec"]
    assert after["holderIdentity"] == "b"
    term = timedelta(seconds=timing.lease_duration_s)
    assert micro(after["acquireTime"]) < micro(last["renewTime"]) + term
