"""What "nothing left running" means, checked where it lives: kubesim's kubelet (no debug
container process alive, no node debug pod), the host's /proc (no agent, jattach or jcmd),
and the JVM's own /tmp and cwd (no `.attach_pid` trigger file).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from pathlib import Path

from kubesim import KubeSim
from kubesim.runtime import descendants


def kubelet_run(sim: KubeSim, namespace: str, pod: str):
    """The kubelet's record of a running pod (its containers and their processes)."""
    assert sim.cluster is not None
    for run in list(sim.cluster.kubelet.pods.values()):
        if (run.namespace, run.name) == (namespace, pod):
            return run
    raise AssertionError(f"kubesim runs no pod {namespace}/{pod}")


def jvm_pid(sim: KubeSim, namespace: str, pod: str, container: str) -> int:
    """The host pid of the `java` process in a container."""
    record = kubelet_run(sim, namespace, pod).records[container]
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
    """Node debug pods kubesim still has (running or not)."""
    assert sim.cluster is not None
    return [
        f"{run.namespace}/{run.name}"
        for run in list(sim.cluster.kubelet.pods.values())
        if run.name.startswith("jdebug-node-")
    ]


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def adopt_orphans() -> None:
    """Make this process the subreaper of everything it starts (kubesim runs in it): a debug
    process that outlives its parent is then reparented here, not to the host's init, and
    the walk below still finds it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


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
    (orphans too, see `adopt_orphans`), or in the JVM's PID namespace. Other engineers' runs
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
