"""`jdebug-attach list` prints one agent-format line per JVM it can see, also for JVMs started
through launchers not named `java` (a `jsvc` link to the launcher, the JDK's `rmiregistry`),
and never the JDK's own tools (jcmd, jstat) that happen to be running."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.native.conftest import EPHEMERAL, NODE, needs_root, run, start_contained
from tests.support.jvms import REPO, jdk_home
from tests.support.polling import wait_for

pytestmark = needs_root


def listed(stdout: str) -> dict[int, list[str]]:
    """pid -> [uid, gid, nspid, command line], with every line checked for its 5 fields."""
    rows: dict[int, list[str]] = {}
    for line in stdout.splitlines():
        pid, *rest = line.split("\t")
        assert len(rest) == 4 and pid.isdigit() and all(f.isdigit() for f in rest[:3]), line
        rows[int(pid)] = rest
    return rows


@pytest.fixture
def launcher_dir() -> Iterator[Path]:
    """A folder every uid can traverse (unlike the tests' own /tmp inside a container)."""
    folder = Path(tempfile.mkdtemp(prefix="launchers-", dir=REPO / "build"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_list_finds_a_jsvc_and_an_rmiregistry_launcher_and_skips_running_jdk_tools(
    helper, cowweb_factory, tmp_path
):
    jsvc = tmp_path / "x" / "jsvc"
    jsvc.parent.mkdir()
    jsvc.symlink_to(jdk_home(25) / "bin" / "java")
    jvm = cowweb_factory(25, java=jsvc)
    registry = subprocess.Popen(
        [jdk_home(11) / "bin" / "rmiregistry", str(free_port())], cwd=tmp_path
    )
    # jcmd waits its full attach timeout on a process that ignores SIGQUIT; jstat samples on.
    ignores_quit = subprocess.Popen(["sh", "-c", "trap '' QUIT; exec sleep 600"], cwd=tmp_path)
    jcmd = subprocess.Popen(
        [jdk_home(25) / "bin" / "jcmd", str(ignores_quit.pid), "VM.version"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    jstat = subprocess.Popen(
        [jdk_home(17) / "bin" / "jstat", "-gcutil", str(jvm.pid), "1000"],
        stdout=subprocess.DEVNULL,
    )
    tools = [registry, ignores_quit, jcmd, jstat]
    try:
        wait_for(lambda: (tmp_path / f".attach_pid{ignores_quit.pid}").exists(), what="jcmd")
        wait_for(lambda: "libjvm.so" in Path(f"/proc/{jstat.pid}/maps").read_text(), what="jstat")
        wait_for(
            lambda: "libjvm.so" in Path(f"/proc/{registry.pid}/maps").read_text(),
            what="rmiregistry",
        )
        result = run([str(helper), "list"])
        assert result.returncode == 0, result.stderr
        rows = listed(result.stdout)
        assert Path(f"/proc/{jvm.pid}/comm").read_text() == "jsvc\n"
        assert rows[jvm.pid][:3] == ["0", "0", str(jvm.pid)]
        assert rows[jvm.pid][3].startswith(f"{jsvc} -Xmx64m -XX:+UseSerialGC -jar ")
        assert rows[registry.pid][3].startswith(f"{jdk_home(11)}/bin/rmiregistry ")
        assert jcmd.pid not in rows and jstat.pid not in rows
        assert ignores_quit.pid not in rows
    finally:
        for tool in tools:
            tool.kill()
            tool.wait()


def test_list_as_root_without_sys_ptrace_sees_another_uids_launcher_from_the_host(
    helper, cowweb_factory, launcher_dir
):
    """Root without CAP_SYS_PTRACE cannot read a uid 1000 process's maps or root; the helper
    borrows that uid's filesystem identity per process instead of forking."""
    jsvc = launcher_dir / "jsvc"
    jsvc.symlink_to("/mnt/jdk/bin/java")  # the JDK as the container sees it
    jvm = start_contained(cowweb_factory, 21, 1000, 1000, java=jsvc)
    as_root = run(NODE.argv(jvm, 0, 0, "list"))
    assert as_root.returncode == 0, as_root.stderr
    row = listed(as_root.stdout)[jvm.pid]
    assert row[:3] == ["1000", "1000", "1"]
    assert row[3].startswith(f"{jsvc} -Xmx64m")

    as_jvm_uid = run(EPHEMERAL.argv(jvm, 1000, 1000, "list"))
    assert as_jvm_uid.returncode == 0, as_jvm_uid.stderr
    assert listed(as_jvm_uid.stdout)[1] == ["1000", "1000", "1", row[3]]


def test_list_prints_nothing_where_no_jvm_runs(helper):
    # A fresh PID namespace holds only the helper itself.
    result = run(
        ["unshare", "--pid", "--fork", "--mount-proc", "--", str(helper), "list"],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
