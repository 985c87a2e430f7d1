"""Put each container's main process in a cgroup named like a kubelet's, best effort.

A node-level debug pod (hostPID) finds a container's processes the way tools do on a real
node: `/proc/<pid>/cgroup` names the pod UID and the container ID. kubesim uses the cgroup v1
`pids` hierarchy (`kubepods/pod<uid>/<container id>`) when it is writable; without it the
containers still run, only that lookup finds nothing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

ROOT = Path("/sys/fs/cgroup/pids/kubepods")


def place(pod_uid: str, container_id: str, pid: int) -> Path | None:
    """Move `pid` (and so every child it forks later) into the container's cgroup."""
    path = ROOT / f"pod{pod_uid}" / container_id
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / "cgroup.procs").write_text(f"{pid}\n")
    except OSError:
        return None
    return path


def release(path: Path | None) -> None:
    """Remove the container's cgroup (and the pod's, once empty) after its processes ended."""
    if path is None:
        return
    for directory in (path, path.parent):
        with contextlib.suppress(OSError):
            directory.rmdir()


def sweep_empty() -> None:
    """Remove empty container and pod cgroups (rmdir refuses any that still hold processes,
    so other kubesims running beside this one keep theirs)."""
    if not ROOT.is_dir():
        return
    for pod in ROOT.glob("pod*"):
        for container in pod.iterdir():
            if container.is_dir():
                with contextlib.suppress(OSError):
                    container.rmdir()
        with contextlib.suppress(OSError):
            pod.rmdir()
