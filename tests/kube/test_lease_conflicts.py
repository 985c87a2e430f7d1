"""Leader election when another writer gets there first: real 409s from kubesim, a leader
that loses its Lease or cannot renew it stops its work in time, and work that fails ends the
campaign."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from bot.kube.api import KubeApi
from bot.kube.lease import (
    format_micro_time,
)
from kubesim import KubeSim
from tests.kube.conftest import (
    FAST,
    NS,
    Campaign,
    RacingApi,
    candidate,
    eventually,
    leads,
    micro,
    rival_write,
    unique_name,
)


# -- conflicts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lease_before", ["absent", "expired"])
async def test_candidate_that_loses_the_write_race_does_not_lead(
    lease_before: str,
    lease_admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
) -> None:
    name = unique_name()
    if lease_before == "expired":
        long_ago = format_micro_time(datetime.now(UTC) - timedelta(minutes=5))
        await lease_admin.create_lease(
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
    # Creates or takes the lease just before our write.
    racing.rival = rival_write(lease_admin, name)
    a = campaign(candidate(racing, "a", name, FAST))
    await eventually(lambda: racing.conflicts == 1, "a's write is answered 409", 5)
    # The round after the 409 reads the rival's Lease (and decides, without awaiting anything
    # more, not to take it): a has then seen it and must not lead.
    await eventually(lambda: racing.renewals_seen("rival") >= 1, "a reads the rival's Lease", 5)
    assert not a.elector.is_leader and not a.work.running
    assert a.work.started == []
    assert (await lease_admin.get_lease(NS, name))["spec"]["holderIdentity"] == "rival"


async def test_leader_whose_renewal_loses_to_another_writer_stops_its_work(
    lease_admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
    record_property: Callable[[str, object], None],
) -> None:
    name = unique_name()
    racing = RacingApi(replica())
    a = campaign(candidate(racing, "a", name, FAST))
    await eventually(lambda: leads(a), "a leads", 5)

    with structlog.testing.capture_logs() as logs:
        racing.rival = rival_write(lease_admin, name)  # just before a's next renewal
        lost = await eventually(lambda: not a.work.running, "a's work is cancelled", 5)
        record_property("lost_after_s", round(lost, 3))
        assert racing.conflicts == 1
        # On the next round, when it reads the rival's Lease, not at the renew deadline.
        reasons = [e["reason"] for e in logs if e["event"] == "lease.lost"]
        assert reasons == ["another replica holds it"]
        assert not a.elector.is_leader
        # It campaigns again: once it has read the rival's Lease twice more, it has had its
        # chance to take it back.
        seen = len(racing.read)
        await eventually(lambda: len(racing.read) >= seen + 2, "a campaigns again", 5)
        assert not a.elector.is_leader and len(a.work.started) == 1
    assert (await lease_admin.get_lease(NS, name))["spec"]["holderIdentity"] == "rival"


async def test_leader_that_cannot_renew_stops_before_another_may_start(
    lease_sim: KubeSim,
    lease_admin: KubeApi,
    replica: Callable[[], KubeApi],
    campaign: Callable[..., Campaign],
) -> None:
    name = unique_name()
    racing = RacingApi(replica())
    a = campaign(candidate(racing, "a", name, FAST))
    await eventually(lambda: leads(a), "a leads", 5)
    b = campaign(candidate(replica(), "b", name, FAST))

    # From now on a's calls are answered 403 by the server, as if its RBAC had been removed.
    racing.api = KubeApi.from_kubeconfig(str(lease_sim.kubeconfig("default/nobody")))
    try:
        await eventually(lambda: not a.work.running, "a stops its work", 5)
        lease = (await lease_admin.get_lease(NS, name))["spec"]
        assert lease["holderIdentity"] == "a"
        last, stopped_at = micro(lease["renewTime"]), a.work.cancelled[0]
        # Not before the renew deadline, and before the lease term ends for anyone else.
        assert stopped_at - last >= timedelta(seconds=FAST.renew_deadline_s - 0.05)
        assert stopped_at < last + timedelta(seconds=FAST.lease_duration_s)
        assert not b.work.started, "b started while a's lease was still valid"
        assert not a.elector.is_leader
        await eventually(lambda: leads(b), "b takes over the expired lease", 5)
        assert a.work.cancelled[0] < b.work.started[0]
    finally:
        await racing.api.close()


async def test_work_that_fails_ends_run_and_releases_the_lease(
    lease_admin: KubeApi, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
) -> None:
    name = unique_name()

    async def broken() -> None:
        raise RuntimeError("janitor bug")

    a = campaign(candidate(replica(), "a", name, FAST), broken)
    with pytest.raises(RuntimeError, match="janitor bug"):
        await asyncio.wait_for(a.task, 5)
    assert not a.elector.is_leader
    assert (await lease_admin.get_lease(NS, name))["spec"]["holderIdentity"] == ""
