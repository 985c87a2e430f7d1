"""Failover of the two `jdebug serve` replicas of the rendered socket-mode overlay, inside
kubesim: the Lease holder's process is SIGKILLed by pid (no graceful release). The other
replica must hold the Lease within the lease duration of the dead holder's last renewal (plus
two retry periods, see below), its janitor must
remove a leftover node debug pod, and a command sent during the failover is answered once,
also when its first delivery went to the dying replica. Needs root (pods are processes)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes import client, config

from bot.kube.lease import DEFAULT_LEASE_NAME
from bot.kube.strategies.node import MANAGED_BY, SESSION_LABEL
from kubesim import KubeSim
from tests.fakeslack import FakeSlack
from tests.incluster.test_bot_in_cluster import APPS, USER, rendered_overlay
from tests.slack.conftest import log_records

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="kubesim needs root for namespaces")

NAMESPACE = "jdebug"
# Long enough that scheduling noise on two busy cores (a fraction of a second) is small beside
# the bound, and that the command typed again after the kill comfortably lands while the dead
# holder's 10 s term still runs; the renew deadline leaves the holder 4 s of slack. The janitor
# sweeps when a replica starts leading, and then not again within the test, so the leftover
# below can only be removed by the replica that takes over.
LEASE = {
    "JDEBUG_LEASE_DURATION_SECONDS": "10",
    "JDEBUG_LEASE_RENEW_DEADLINE_SECONDS": "6",
    "JDEBUG_LEASE_RETRY_PERIOD_SECONDS": "2",
    "JDEBUG_JANITOR_INTERVAL_SECONDS": "3600",
}
COMMAND = "version pod=cowweb ns=apps"
T = TypeVar("T")


async def eventually(probe: Callable[[], T | None], what: str, timeout: float = 60) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def pod_of_identity(identity: str, pods: list[Any]) -> Any | None:
    """The bot pod a holderIdentity names: POD_NAME itself, or POD_NAME_<suffix>."""
    for pod in pods:
        name = pod.metadata.name
        if identity == name or identity.startswith(name + "_"):
            return pod
    return None


def serve_pid(pod_name: str) -> int:
    """The host pid of the `jdebug serve` process of `pod_name`, as a node admin finds it:
    the process whose environment holds the pod's POD_NAME (set by the downward API)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:4] == [b"-m", b"handlers", b"serve"] and f"POD_NAME={pod_name}".encode() in env:
            found.append(int(entry.name))
    (pid,) = found
    return pid


def tcp_ports(pid: int) -> set[int]:
    """Local ports of the TCP sockets `pid` has open (what `ss -tp` shows for it)."""
    inodes = set()
    for fd in (Path("/proc") / str(pid) / "fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in (Path("/proc") / str(pid) / "net" / table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def leftover_node_pod(owner: Any) -> dict[str, Any]:
    """A node debug pod the dying replica left behind: labelled and owned as the node strategy
    makes them, and finished, which is what the janitor removes."""
    name = f"jdebug-node-{secrets.token_hex(4)}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": {MANAGED_BY: "jdebug", SESSION_LABEL: name.removeprefix("jdebug-node-")},
            "annotations": {"jdebug/target": "apps/cowweb/cowweb"},
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": owner.metadata.name,
                    "uid": owner.metadata.uid,
                }
            ],
        },
        "spec": {
            "hostPID": True,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 120,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "agent",
                    "image": "jdebug.local/busybox:latest",
                    "command": ["/bin/sh", "-c", "exit 0"],
                }
            ],
        },
    }


async def test_killed_leader_is_replaced_within_the_lease_and_a_command_is_answered_once(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    async with FakeSlack() as slack:
        docs = rendered_overlay(slack)
        settings = next(d for d in docs if d["kind"] == "ConfigMap")
        settings["data"].update(LEASE)
        duration = float(LEASE["JDEBUG_LEASE_DURATION_SECONDS"])
        retry = float(LEASE["JDEBUG_LEASE_RETRY_PERIOD_SECONDS"])
        manifest = tmp_path / "cluster.yaml"
        manifest.write_text(yaml.safe_dump_all(docs) + "---\n" + APPS)
        with KubeSim(manifests=[manifest]) as sim:
            api = config.new_client_from_config(str(sim.kubeconfig("admin")))
            core, leases = client.CoreV1Api(api), client.CoordinationV1Api(api)

            def lease() -> Any:
                try:
                    return leases.read_namespaced_lease(DEFAULT_LEASE_NAME, NAMESPACE)
                except client.ApiException as error:
                    if error.status != 404:  # not yet created by the first candidate
                        raise
                    return client.V1Lease(spec=client.V1LeaseSpec())

            def bot_pods() -> list[Any]:
                selector = "app.kubernetes.io/component=bot"
                return core.list_namespaced_pod(NAMESPACE, label_selector=selector).items

            await slack.wait_for_connections(2, timeout=60)
            # The holder has renewed at least once since it took the Lease: its janitor's
            # first (and, with this interval, only) sweep is behind it.
            held = await eventually(
                lambda: (
                    (got := lease()).spec.holder_identity
                    and got.spec.renew_time > got.spec.acquire_time
                    and pod_of_identity(got.spec.holder_identity, bot_pods())
                    and got
                ),
                "a replica to hold and renew the Lease",
            )
            dying_identity = held.spec.holder_identity
            dying = pod_of_identity(dying_identity, bot_pods())
            (survivor,) = [p for p in bot_pods() if p.metadata.name != dying.metadata.name]
            leftover = core.create_namespaced_pod(NAMESPACE, leftover_node_pod(dying))
            name = leftover.metadata.name
            await eventually(
                lambda: core.read_namespaced_pod(name, NAMESPACE).status.phase == "Succeeded",
                "the leftover node pod to finish",
            )

            pid = serve_pid(dying.metadata.name)
            (answering,) = [
                c
                for c in slack.connections
                if c.peer_port in tcp_ports(serve_pid(survivor.metadata.name))
            ]
            # Freeze it first, so that an envelope provably reaches it and is never acked;
            # then SIGKILL: no `finally`, no Lease release, no goodbye to Slack.
            os.kill(pid, signal.SIGSTOP)
            (doomed,) = [c for c in slack.connections if c.peer_port in tcp_ports(pid)]
            first_try = asyncio.create_task(
                slack.send_slash_command(text=COMMAND, user_id=USER, connection=doomed.id)
            )
            await eventually(
                lambda: [e for e in slack.envelopes if e.connection == doomed.id],
                "the envelope to reach the dying replica",
            )
            killed_at = datetime.now(UTC)
            os.kill(pid, signal.SIGKILL)
            last_renewal = lease().spec.renew_time
            await eventually(
                lambda: doomed.id not in {c.id for c in slack.connections},
                "Slack to see the dying replica's connection close",
            )
            # The user types the command again at once, while the dead replica's Lease runs out.
            again = await slack.send_slash_command(text=COMMAND, user_id=USER)
            during = lease().spec.holder_identity == dying_identity
            term_left = last_renewal + timedelta(seconds=duration) - datetime.now(UTC)
            record_property("retyped_before_term_end_s", round(term_left.total_seconds(), 3))
            with pytest.raises(TimeoutError, match="no ack"):
                await first_try  # Slack shows operation_timeout and does not deliver it again

            taken = await eventually(
                lambda: (got := lease()).spec.holder_identity != dying_identity and got,
                "another replica to take the Lease",
            )
            takeover = (taken.spec.acquire_time - killed_at).total_seconds()
            since_renewal = (taken.spec.acquire_time - last_renewal).total_seconds()
            after_expiry = since_renewal - duration
            record_property("takeover_s", round(takeover, 3))
            record_property("takeover_since_last_renewal_s", round(since_renewal, 3))
            record_property("takeover_after_expiry_s", round(after_expiry, 3))
            print(
                f"\ntakeover {takeover:.3f} s after SIGKILL (lease {duration:g} s, retry "
                f"{retry:g} s; {after_expiry:.3f} s after the dead holder's lease expired); "
                f"retyped command sent while the dead replica still held the Lease: {during}"
            )
            new_holder = pod_of_identity(taken.spec.holder_identity, bot_pods())
            assert new_holder is not None
            assert new_holder.metadata.name == survivor.metadata.name
            assert taken.spec.lease_transitions == held.spec.lease_transitions + 1
            # The bound: the other replica leads within the lease duration. Counted from
            # the dead holder's last renewal (its term ends there, whenever the kill came), plus
            # two retry periods: a waiting candidate, like client-go's, measures the term from
            # when it observed that renewal (up to one retry period after it was written), and
            # notices the end at its next round (up to one more).
            assert since_renewal <= duration + 2 * retry
            assert during, "the retyped command came after the failover, not during it"

            await eventually(
                lambda: (
                    name not in {p.metadata.name for p in core.list_namespaced_pod(NAMESPACE).items}
                ),
                "the new leader's janitor to remove the leftover node pod",
            )
            log = core.read_namespaced_pod_log(
                survivor.metadata.name, NAMESPACE, container="jdebug"
            )
            records = log_records(io.StringIO(log))
            swept = [r for r in records if r.get("event") == "janitor.swept"]
            assert [r["deleted"] for r in swept] == [[name]]

            files = await slack.wait_for(
                lambda s: [f for f in s.files.values() if f.completed], timeout=60
            )
            (parent,) = slack.top_level_messages()
            await slack.wait_for(lambda s: "ended" in str(s.messages[parent.ts].blocks), timeout=30)
            assert "JDK 11" in files[0].text and files[0].thread_ts == parent.ts
            assert again.connection == answering.id  # the survivor answered it
            assert [a.envelope_id for a in slack.acks] == [again.envelope_id]
            assert len(slack.top_level_messages()) == 1 and len(files) == 1
            assert slack.responses == []  # nothing ephemeral either: no error, no duplicate
