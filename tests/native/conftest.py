"""Real JVMs in container-like namespaces, and jdebug-attach run next to them in each topology
the agent supports: in the JVM's own namespaces, in its PID namespace only (an ephemeral
container), or from the host (a hostPID node pod). Needs root for the namespaces."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.jvms import COWWEB_JAR, REPO, RunningJvm, jdk_home
from tests.support.sandbox import debug_container, identity, jvm_container

HELPER = REPO / "build" / "native" / "jdebug-attach"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for Linux namespaces")


@pytest.fixture(scope="session")
def helper() -> Path:
    if not os.access(HELPER, os.X_OK):
        pytest.fail(f"{HELPER} is missing: run `make bootstrap`")
    return HELPER


@dataclass(frozen=True)
class Topology:
    """Where the helper runs relative to a JVM started by `start_contained`."""

    name: str
    # The launcher prefix for the helper, as uid/gid, next to the JVM of this host pid.
    launcher: Callable[[int, int, int], list[str]]
    # Whether the helper sees the JVM as PID 1 (it shares its PID namespace) or by host pid.
    shares_pid_namespace: bool

    def pid_of(self, jvm: RunningJvm) -> int:
        return 1 if self.shares_pid_namespace else jvm.pid

    def argv(self, jvm: RunningJvm, uid: int, gid: int, *args: str) -> list[str]:
        return [*self.launcher(jvm.pid, uid, gid), str(HELPER), *args]


def _inside_jvm(host_pid: int, uid: int, gid: int) -> list[str]:
    return [
        "nsenter",
        f"--target={host_pid}",
        "--pid",
        "--mount",
        "--",
        *identity(uid, gid),
    ]


def _ephemeral(host_pid: int, uid: int, gid: int) -> list[str]:
    return debug_container(host_pid, uid, gid, jdk_home(25))


def _node(host_pid: int, uid: int, gid: int) -> list[str]:
    return identity(uid, gid)


SAME = Topology("same-namespaces", _inside_jvm, shares_pid_namespace=True)
EPHEMERAL = Topology("ephemeral-like", _ephemeral, shares_pid_namespace=True)
NODE = Topology("node-like", _node, shares_pid_namespace=False)
TOPOLOGIES = (SAME, EPHEMERAL, NODE)


def start_contained(
    cowweb_factory: Callable[..., RunningJvm],
    version: int,
    uid: int,
    gid: int,
    *,
    read_only_tmp: bool = False,
    java: Path | None = None,
    jvm_args: tuple[str, ...] = (),
) -> RunningJvm:
    """cowweb as PID 1 of its own PID and mount namespace, with a private /tmp, as uid/gid."""
    wrapper, inner_java, jar = jvm_container(
        jdk_home(version), COWWEB_JAR, uid, gid, read_only_tmp=read_only_tmp
    )
    return cowweb_factory(
        version, wrapper=tuple(wrapper), java=java or inner_java, jar=jar, jvm_args=jvm_args
    )


def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def jvm_tmp(jvm: RunningJvm) -> Path:
    """The JVM's own /tmp, seen from this (fully privileged) test process."""
    return Path(f"/proc/{jvm.pid}/root/tmp")


def attach_triggers(jvm: RunningJvm) -> list[str]:
    return sorted(p.name for p in jvm_tmp(jvm).glob(".attach_pid*"))


def has_attach_socket(jvm: RunningJvm) -> bool:
    return any(jvm_tmp(jvm).glob(".java_pid*"))
