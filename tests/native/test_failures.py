"""Each way jdebug-attach cannot attach ends in one sentence on stderr and its own exit code,
before any signal reaches a process that would die of it or print a thread dump into the
app's log, and without a trigger file left in the JVM's /tmp."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.native.conftest import (
    EPHEMERAL,
    NODE,
    attach_triggers,
    has_attach_socket,
    jvm_tmp,
    needs_root,
    run,
    start_contained,
)
from tests.support.jvms import COWWEB_JAR, jdk_home
from tests.support.sandbox import jvm_container

pytestmark = needs_root

HUNG = (
    "it may be hung or stuck in a long safepoint (such as a long GC pause); check its CPU use "
    "and GC log, and try again once it responds"
)


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_process_that_is_not_a_jvm_is_refused_and_never_signalled(helper):
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        result = run([str(helper), "jcmd", str(sleeper.pid), "VM.version"])
        assert result.returncode == 3
        assert result.stderr == f"pid {sleeper.pid} is not a JVM (no libjvm.so is mapped in it)\n"
        assert sleeper.poll() is None  # a SIGQUIT would have killed it
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_pid_that_does_not_exist_is_named(helper):
    # pid_max itself is never a pid: pids run below it.
    missing = int(Path("/proc/sys/kernel/pid_max").read_text())
    result = run([str(helper), "jcmd", str(missing), "VM.version"])
    assert result.returncode == 3
    assert result.stderr == f"no process with pid {missing} is visible here\n"


@pytest.mark.parametrize("where", ["command-line", "JAVA_TOOL_OPTIONS"])
def test_attach_disabled_is_named_before_any_signal(cowweb_factory, where):
    flag = "-XX:+DisableAttachMechanism"
    if where == "command-line":
        jvm = start_contained(cowweb_factory, 17, 1000, 1000, jvm_args=(flag,))
    else:
        wrapper, java, jar = jvm_container(jdk_home(17), COWWEB_JAR, 1000, 1000)
        wrapper = ["env", f"JAVA_TOOL_OPTIONS={flag}", *wrapper]
        jvm = cowweb_factory(17, wrapper=tuple(wrapper), java=java, jar=jar)
    result = run(EPHEMERAL.argv(jvm, 0, 0, "jcmd", "1", "Thread.print"))
    assert result.returncode == 8
    assert result.stderr == (
        "the JVM (pid 1) runs with -XX:+DisableAttachMechanism, so no JDK tool can attach; "
        "remove that flag and restart it to diagnose it\n"
    )
    assert attach_triggers(jvm) == []
    assert "Full thread dump" not in jvm.log()


def test_a_read_only_jvm_tmp_is_named_before_any_signal(cowweb_factory):
    jvm = start_contained(cowweb_factory, 25, 1000, 1000, read_only_tmp=True)
    result = run(NODE.argv(jvm, 0, 0, "jcmd", str(jvm.pid), "Thread.print"))
    assert result.returncode == 9
    assert result.stderr == (
        "the JVM's /tmp is read-only (or not writable: Read-only file system), so the attach "
        "handshake cannot create its socket; mount an emptyDir at /tmp in the app container\n"
    )
    assert "Full thread dump" not in jvm.log()


@pytest.mark.parametrize(("topology", "pid"), [(EPHEMERAL, "1"), (NODE, None)], ids=["1", "host"])
def test_a_non_root_caller_of_another_uid_is_told_which_uid_to_run_as(
    cowweb_factory, topology, pid
):
    jvm = start_contained(cowweb_factory, 21, 1000, 1000)
    pid = pid or str(jvm.pid)
    result = run(topology.argv(jvm, 2000, 2000, "jcmd", pid, "Thread.print"))
    assert result.returncode == 5
    assert result.stderr == (
        f"the JVM (pid {pid}) runs as uid 1000 gid 1000 but this debug process runs as uid 2000 "
        "gid 2000; run it as runAsUser: 1000, runAsGroup: 1000\n"
    )
    assert attach_triggers(jvm) == [] and not has_attach_socket(jvm)
    assert "Full thread dump" not in jvm.log()


def test_a_stopped_jvm_ends_at_the_deadline_with_exit_124_and_no_trigger_left(cowweb_factory):
    jvm = start_contained(cowweb_factory, 17, 1000, 1000)
    os.kill(jvm.pid, signal.SIGSTOP)
    try:
        result = run(EPHEMERAL.argv(jvm, 0, 0, "-t", "2", "jcmd", "1", "Thread.print"))
        assert process_state(jvm.pid) == "T"  # it never ran: stopped throughout
    finally:
        os.kill(jvm.pid, signal.SIGCONT)
    assert result.returncode == 124
    assert result.stderr == f"the JVM (pid 1) did not answer within the deadline of 2s: {HUNG}\n"
    assert attach_triggers(jvm) == []
    # Resumed, it answers: nothing was left half-done in it.
    again = run(EPHEMERAL.argv(jvm, 0, 0, "-t", "30", "jcmd", "1", "VM.version"))
    assert again.returncode == 0, again.stderr
    assert "JDK 17." in again.stdout


def test_a_jvm_that_never_starts_its_listener_ends_with_exit_12_after_the_handshake_time(
    cowweb_factory,
):
    jvm = start_contained(cowweb_factory, 25, 1000, 1000)
    os.kill(jvm.pid, signal.SIGSTOP)
    try:
        result = run(NODE.argv(jvm, 0, 0, "-t", "30", "jcmd", str(jvm.pid), "VM.version"))
        assert process_state(jvm.pid) == "T"
    finally:
        os.kill(jvm.pid, signal.SIGCONT)
    assert result.returncode == 12
    assert result.stderr == (
        f"the JVM (pid {jvm.pid}) did not start its attach listener within 10s of SIGQUIT: {HUNG}\n"
    )
    assert attach_triggers(jvm) == []


def test_a_jvm_that_does_not_catch_sigquit_is_left_alive(cowweb_factory):
    """-Xrs leaves SIGQUIT to its default action; with its socket file gone, a client that
    signalled would kill the JVM."""
    jvm = start_contained(cowweb_factory, 21, 1000, 1000, jvm_args=("-Xrs",))
    (socket,) = jvm_tmp(jvm).glob(".java_pid*")
    socket.unlink()
    result = run(NODE.argv(jvm, 0, 0, "jcmd", str(jvm.pid), "VM.version"))
    assert result.returncode == 10
    assert result.stderr == (
        f"the JVM (pid {jvm.pid}) does not handle SIGQUIT yet (it may still be starting); "
        "try again in a few seconds\n"
    )
    assert jvm.proc.poll() is None
    assert attach_triggers(jvm) == []


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["jcmd", "12x", "VM.version"], "the pid must be a positive number, got '12x'"),
        (["-t", "soon", "list"], "the deadline must be whole seconds from 0 to 86400, got 'soon'"),
        (
            ["jcmd", "1", "x" * 1025],
            "the jcmd line is longer than the 1024 bytes the attach protocol takes",
        ),
        (
            ["frobnicate"],
            "usage: jdebug-attach [-t SECONDS] jcmd PID COMMAND... | list | read PID PATH | "
            "remove PID PATH | as PID PROGRAM [ARG...]",
        ),
    ],
    ids=["pid", "deadline", "long-line", "mode"],
)
def test_bad_arguments_get_one_sentence_and_exit_2(helper, args, sentence):
    result = run([str(helper), *args])
    assert result.returncode == 2
    assert result.stderr == sentence + "\n"
