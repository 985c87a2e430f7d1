"""What "nothing left running" means, checked where it lives: kubesim's kubelet (no debug
container process alive, no node debug pod) and API (no pod of jdebug's), the host's /proc
(no agent, jattach or jcmd), and the JVM's own /tmp and cwd (no `.attach_pid` trigger file).
`assert_nothing_left` checks them all, for the fault, load and Slack tests alike.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

from kubesim import KubeSim
from kubesim.kubelet.runtime import descendants
from tests.support.polling import wait_for

# The label jdebug puts on its node debug pods (bot/kube/strategies/node.py).
MANAGED_BY = "app.kubernetes.io/managed-by"


def kubelet_run(sim: KubeSim, namespace: str, pod: str):
    """The kubelet's record of a running pod (its containers and their processes)."""
    assert sim.cluster is not None
    for run in list(sim.cluster.kubelet.pods.values()):
        if (run.namespace, run.name) == (namespace, pod):
            return run
    raise AssertionError(f"kubesim runs no pod {namespace}/{pod}")


def jvm_pid(sim: KubeSim, namespace: str, pod: str, container: str | None = None) -> int:
    """The host pid of the `java` process in a container (by default the pod's only one)."""
    records = kubelet_run(sim, namespace, pod).records
    if container is None:
        (container,) = [name for name, r in list(records.items()) if r.kind == "container"]
    record = records[container]
    assert record.process is not None, f"{container} has no process"
    for pid in descendants(record.process.pid):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "java":
                return pid
    raise AssertionError(f"no java process in {namespace}/{pod}/{container}")


def running_debug_containers(sim: KubeSim, namespace: str, pod: str) -> list[str]:
    """Ephemeral containers of the pod whose process kubesim still runs."""
    run = kubelet_run(sim, namespace, pod)
    return [
        name
        for name, record in list(run.records.items())
        if record.kind == "ephemeral"
        and record.process is not None
        and record.process.proc.returncode is None
    ]


def debug_pods(sim: KubeSim) -> list[str]:
    """Node debug pods kubesim still has: run by its kubelet (running or not), or kept in
    its API as a pod labelled as jdebug's."""
    assert sim.cluster is not None
    run = {
        f"{run.namespace}/{run.name}"
        for run in list(sim.cluster.kubelet.pods.values())
        if run.name.startswith("jdebug-node-")
    }
    stored = {
        f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        for pod in list(sim.cluster.store.items("pods"))
        if (pod["metadata"].get("labels") or {}).get(MANAGED_BY) == "jdebug"
    }
    return sorted(run | stored)


def assert_nothing_left(
    sim: KubeSim, namespace: str = "apps", pod: str = "cowweb", jvm: int | None = None
) -> None:
    """Nothing a request started still runs or stays: no debug container of the pod runs,
    no node debug pod stays (its deletion takes a moment), no agent, jattach or jcmd runs
    (below this process or in the JVM's PID namespace), and no attach trigger file is left
    where the JVM looks. `jvm` is the JVM's host pid, by default that of the pod's only
    container."""
    if jvm is None:
        jvm = jvm_pid(sim, namespace, pod)
    assert running_debug_containers(sim, namespace, pod) == []
    wait_for(lambda: not debug_pods(sim), 60, "the node debug pods to be gone")
    assert stray_debug_processes(jvm) == []
    assert attach_triggers(jvm) == []


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def _set_child_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


@contextlib.contextmanager
def adopting_orphans() -> Iterator[None]:
    """While inside, this process is the subreaper of everything it starts (kubesim runs in
    it): a debug process that outlives its parent is reparented here, not to the host's
    init, and `stray_debug_processes` still finds it. On leaving, the process stops
    adopting and reaps the adopted orphans that have ended. Leave only after what started
    them (kubesim) has stopped and reaped its own children: any zombie child left then is
    an orphan that nobody else will wait for."""
    _set_child_subreaper(True)
    try:
        yield
    finally:
        _set_child_subreaper(False)
        reap_ended_children()


def reap_ended_children() -> list[int]:
    """Read the exit status of this process's children that have ended (zombies); their pids."""
    reaped = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            if _parent(pid) != os.getpid() or process_state(pid) != "Z":
                continue
        except OSError:
            continue
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                reaped.append(pid)
    return reaped


def _parent(pid: int) -> int:
    """The parent pid, from /proc/PID/stat (the field after the state, past the comm)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _pid_namespace(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def _describe(pid: int) -> str | None:
    """`pid: argv` when the process is a debug tool or the agent, else None."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if process_state(pid) == "Z":  # ended; only its exit status waits to be read
            return None
    except OSError:
        return None
    words = [a.decode(errors="replace") for a in argv if a]
    tool = comm in ("jattach", "jcmd") or "sun.tools.jcmd.JCmd" in words
    agent = "jdebug-agent" in words
    if not (tool or agent):
        return None
    shown = [w if len(w) < 80 else w[:20] + "…" for w in words]
    return f"{pid}: {' '.join(shown)}"


def stray_debug_processes(jvm: int | None = None) -> list[str]:
    """Agents, jattach and jcmd still alive that this test run started: below this process
    (orphans too, see `adopting_orphans`), or in the JVM's PID namespace. Other engineers' runs
    on the same machine are neither, so they never count."""
    ours = set(descendants(os.getpid()))
    target_ns = _pid_namespace(jvm) if jvm is not None else ""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid not in ours and not (target_ns and _pid_namespace(pid) == target_ns):
            continue
        described = _describe(pid)
        if described:
            found.append(described)
    return found


def nspid(pid: int) -> int:
    """The pid inside the JVM's own PID namespace (the last NSpid field): it names the files."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    return pid


def attach_triggers(jvm: int) -> list[str]:
    """`.attach_pid<nspid>` files left where HotSpot looks for them: the JVM's cwd and /tmp."""
    name = f".attach_pid{nspid(jvm)}"
    return [
        str(folder / name)
        for folder in (Path(f"/proc/{jvm}/cwd"), Path(f"/proc/{jvm}/root/tmp"))
        if (folder / name).exists()
    ]


def process_state(pid: int) -> str:
    """The `State:` letter of /proc/PID/status: R, S, T (stopped), ..."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    return "?"
