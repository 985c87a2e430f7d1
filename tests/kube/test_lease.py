"""Leader election (`bot.kube.lease.LeaderElector`) with one replica against kubesim, and the
values it reads and writes. Two replicas: test_lease_failover.py; write races:
test_lease_conflicts.py; fixtures: conftest.py."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.kube.api import KubeApi
from bot.kube.lease import (
    DEFAULT_LEASE_NAME,
    default_identity,
    format_micro_time,
    parse_micro_time,
    read_record,
)
from kubesim import KubeSim
from tests.kube.conftest import (
    FAST,
    MICRO_TIME,
    Campaign,
    RacingApi,
    Timing,
    candidate,
    eventually,
    kubectl,
    lease_as_kubectl_shows_it,
    micro,
)


# -- one replica ----------------------------------------------------------------------------------
async def test_single_replica_leads_renews_and_reads_in_kubectl_as_the_holder(
    lease_sim: KubeSim, replica: Callable[[], KubeApi], campaign: Callable[..., Campaign]
) -> None:
    """Uses the default Lease name in the bot's namespace, under the least-privilege Role."""
    elector = candidate(replica(), "bot-7d9f-a", DEFAULT_LEASE_NAME, FAST, namespace="jdebug")
    assert elector.name == DEFAULT_LEASE_NAME
    running = campaign(elector)
    await eventually(lambda: elector.is_leader and running.work.running, "a lone replica leads", 5)

    first = await lease_as_kubectl_shows_it(lease_sim, "jdebug", DEFAULT_LEASE_NAME)
    # Renewed past the end of the term it held when first read: it keeps renewing.
    term_end = micro(first["spec"]["renewTime"]) + timedelta(seconds=FAST.lease_duration_s)
    deadline = time.monotonic() + 30
    while True:
        later = await lease_as_kubectl_shows_it(lease_sim, "jdebug", DEFAULT_LEASE_NAME)
        if micro(later["spec"]["renewTime"]) > term_end:
            break
        assert running.work.cancelled == [], "the lone leader stopped its work"
        assert time.monotonic() < deadline, "the lone leader stopped renewing"

    assert elector.is_leader and running.work.running and running.work.cancelled == []
    assert later["kind"] == "Lease" and later["apiVersion"] == "coordination.k8s.io/v1"
    spec = later["spec"]
    assert spec["holderIdentity"] == "bot-7d9f-a"
    assert spec["leaseDurationSeconds"] == 2
    assert MICRO_TIME.match(spec["renewTime"]) and MICRO_TIME.match(spec["acquireTime"])
    assert spec["acquireTime"] == first["spec"]["acquireTime"]  # renewing is not re-acquiring
    assert spec["leaseTransitions"] == first["spec"]["leaseTransitions"]

    # The Role allows exactly what election needs, on this Lease only.
    may = {
        check: (
            await kubectl(
                lease_sim, "auth", "can-i", *check.split(), "-n", "jdebug", identity="jdebug/jdebug"
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
    released = (await lease_as_kubectl_shows_it(lease_sim, "jdebug", DEFAULT_LEASE_NAME))["spec"]
    assert released["holderIdentity"] == ""
    # Already over by its own reckoning, so no candidate waits for it.
    term = timedelta(seconds=released["leaseDurationSeconds"])
    assert micro(released["renewTime"]) + term <= datetime.now(UTC)
    assert released["leaseTransitions"] == spec["leaseTransitions"]


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
