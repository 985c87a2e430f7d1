"""jdebug-attach runs a diagnostic command on real JVMs 11-25 in every topology the agent
supports, starting the attach listener itself (the socket does not exist before), and leaves
no trigger file and no stray thread dump in the app's log behind."""

from __future__ import annotations

import pytest

from tests.native.conftest import (
    EPHEMERAL,
    NODE,
    SAME,
    Topology,
    attach_triggers,
    has_attach_socket,
    needs_root,
    run,
    start_contained,
)
from tests.support.jvms import JAVA_VERSIONS

pytestmark = needs_root

# (topology, the JVM's uid/gid, the helper's uid/gid): the JVM's uid as the agent would run in
# a restricted namespace, and root switching to the JVM's uid (an arbitrary uid with gid 0 is
# OpenShift's way).
CASES = [
    pytest.param(SAME, (1000, 1000), (1000, 1000), id="same-namespaces-as-jvm-uid"),
    pytest.param(EPHEMERAL, (1000, 1000), (0, 0), id="ephemeral-root-switches-to-1000"),
    pytest.param(EPHEMERAL, (4242, 0), (0, 0), id="ephemeral-root-switches-to-4242-gid-0"),
    pytest.param(NODE, (1000, 1000), (0, 0), id="node-root-switches-to-1000"),
]
# The rest of the identity matrix, on one JVM version.
MORE_CASES = [
    pytest.param(SAME, (0, 0), (0, 0), id="same-namespaces-root-jvm"),
    pytest.param(EPHEMERAL, (1000, 1000), (1000, 1000), id="ephemeral-as-jvm-uid"),
    pytest.param(EPHEMERAL, (0, 0), (0, 0), id="ephemeral-root-jvm"),
    pytest.param(NODE, (4242, 0), (0, 0), id="node-root-switches-to-4242-gid-0"),
    pytest.param(NODE, (0, 0), (0, 0), id="node-root-jvm"),
]


def assert_thread_dump_through_helper(
    cowweb_factory, version: int, topology: Topology, jvm_ids, caller_ids
) -> None:
    jvm = start_contained(cowweb_factory, version, *jvm_ids)
    assert not has_attach_socket(jvm), "the listener must not be running yet"
    pid = str(topology.pid_of(jvm))
    argv = topology.argv(jvm, *caller_ids, "-t", "30", "jcmd", pid, "Thread.print", "-l")
    result = run(argv)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # The output as the JVM wrote it: no header of ours before the dump's timestamp line.
    first, second = result.stdout.splitlines()[:2]
    assert first[:4].isdigit() and second.startswith("Full thread dump OpenJDK")
    assert '"barn-door-holder"' in result.stdout
    assert "Locked ownable synchronizers:" in result.stdout  # -l arrived with the command
    assert has_attach_socket(jvm)
    assert attach_triggers(jvm) == []
    assert "Full thread dump" not in jvm.log()

    again = run(topology.argv(jvm, *caller_ids, "jcmd", pid, "VM.version"))
    assert again.returncode == 0, again.stderr
    assert f"JDK {version}." in again.stdout
    assert "Full thread dump" not in jvm.log()


@pytest.mark.parametrize("version", JAVA_VERSIONS, ids=[f"jdk{v}" for v in JAVA_VERSIONS])
@pytest.mark.parametrize(("topology", "jvm_ids", "caller_ids"), CASES)
def test_thread_dump_reaches_every_jvm_version_in_each_topology(
    cowweb_factory, version, topology, jvm_ids, caller_ids
):
    assert_thread_dump_through_helper(cowweb_factory, version, topology, jvm_ids, caller_ids)


@pytest.mark.parametrize(("topology", "jvm_ids", "caller_ids"), MORE_CASES)
def test_thread_dump_reaches_root_and_gid_0_jvms(cowweb_factory, topology, jvm_ids, caller_ids):
    assert_thread_dump_through_helper(cowweb_factory, 17, topology, jvm_ids, caller_ids)


def test_a_jvm_error_is_printed_as_is_with_exit_6(cowweb_factory):
    jvm = start_contained(cowweb_factory, 21, 1000, 1000)
    result = run(NODE.argv(jvm, 0, 0, "jcmd", str(jvm.pid), "No.such_command"))
    assert result.returncode == 6
    assert "java.lang.IllegalArgumentException: Unknown diagnostic command" in result.stdout
    assert result.stderr == ""
    assert attach_triggers(jvm) == []


def test_a_jvm_with_xrs_is_attached_through_its_startup_listener_without_a_signal(
    cowweb_factory,
):
    """-Xrs starts the listener at JVM start and leaves SIGQUIT to its default action (death),
    so the helper must connect without signalling."""
    jvm = start_contained(cowweb_factory, 25, 1000, 1000, jvm_args=("-Xrs",))
    assert has_attach_socket(jvm)
    result = run(NODE.argv(jvm, 0, 0, "jcmd", str(jvm.pid), "VM.version"))
    assert result.returncode == 0, result.stderr
    assert "JDK 25." in result.stdout
    assert jvm.proc.poll() is None
