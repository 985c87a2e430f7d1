"""Each container's cgroups, named like a kubelet's: pids for finding it, memory for its cost.

A node-level debug pod (hostPID) finds a container's processes the way tools do on a real
node: `/proc/<pid>/cgroup` names the pod UID and the container ID. The cgroup v1 memory
controller gives each container a limit (`resources.limits.memory`, as runc sets
memory.limit_in_bytes), its peak (memory.max_usage_in_bytes, which covers every process that
ran in it, `pods/exec` ones included) and its OOM kills (memory.oom_control). The memory
hierarchy is made below this process's own memory cgroup, so the machine's accounting of
kubesim stays whole. Where a controller cannot be written, containers still run without it
and kubesim says so once.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("kubesim.cgroups")
PIDS = Path("/sys/fs/cgroup/pids/kubepods")
MEMORY = Path("/sys/fs/cgroup/memory")
QUANTITY = re.compile(r"^([0-9.]+(?:[eE][0-9]+)?)([a-zA-Z]*)$")
SUFFIXES = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "m": 10**-3,
}
_said: set[str] = set()


def say_once(key: str, message: str) -> None:
    if key not in _said:
        _said.add(key)
        log.warning(message)


def quantity(text: object) -> float | None:
    """A resource.Quantity (`64Mi`, `1G`, `129e6`, `500m`); None when it is not one."""
    match = QUANTITY.match(str(text).strip())
    if not match or match.group(2) not in SUFFIXES:
        return None
    return float(match.group(1)) * SUFFIXES[match.group(2)]


def parse_quantity(text: object) -> int | None:
    """A memory quantity in bytes."""
    value = quantity(text)
    return None if value is None else int(value)


def memory_limit(container: dict[str, object]) -> int | None:
    resources = container.get("resources") or {}
    assert isinstance(resources, dict)
    return parse_quantity((resources.get("limits") or {}).get("memory", "")) if resources else None


def memory_root() -> Path | None:
    """kubepods in the memory hierarchy, below this process's own memory cgroup."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return MEMORY / path.lstrip("/") / "kubepods"
    return None


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
    except OSError:
        return False
    return True


def _read_int(path: Path | None, name: str) -> int | None:
    if path is None:
        return None
    try:
        return int((path / name).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class ContainerCgroups:
    pids: Path | None
    memory: Path | None

    @property
    def procs_files(self) -> tuple[str, ...]:
        return tuple(str(p / "cgroup.procs") for p in (self.pids, self.memory) if p is not None)

    def peak(self) -> int | None:
        return _read_int(self.memory, "memory.max_usage_in_bytes")

    def working_set(self) -> int | None:
        """What metrics-server reports: usage minus inactive file pages (cadvisor's rule)."""
        usage = _read_int(self.memory, "memory.usage_in_bytes")
        if usage is None or self.memory is None:
            return None
        inactive = 0
        with contextlib.suppress(OSError):
            for line in (self.memory / "memory.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "total_inactive_file":
                    inactive = int(value)
        return max(0, usage - inactive)

    def limit(self) -> int | None:
        return _read_int(self.memory, "memory.limit_in_bytes")

    def oom_kills(self) -> int:
        if self.memory is None:
            return 0
        with contextlib.suppress(OSError):
            for line in (self.memory / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def pids_inside(self) -> list[int]:
        path = self.pids or self.memory
        if path is None:
            return []
        try:
            return [int(x) for x in (path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []


def _limit(folder: Path, limit: int) -> None:
    # runc writes both: without the memsw limit a swapping host would never OOM-kill.
    _write(folder / "memory.limit_in_bytes", str(limit))
    _write(folder / "memory.memsw.limit_in_bytes", str(limit))


def pod_memory(pod_uid: str, limit: int | None) -> Path | None:
    """The pod-level memory cgroup (the kubelet's pod<uid>), limited to the sum of its
    containers' limits when every container has one, as the kubelet does."""
    root = memory_root()
    if root is None:
        say_once("memory", "kubesim: no cgroup v1 memory controller: memory is not accounted")
        return None
    folder = root / f"pod{pod_uid}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        say_once("memory", f"kubesim: cannot write {root}: memory is not accounted or limited")
        return None
    if limit is not None:
        _limit(folder, limit)
    return folder


def create(pod_uid: str, container_id: str, limit: int | None) -> ContainerCgroups:
    """The container's pids and memory cgroups (made, limited, empty)."""
    pids: Path | None = PIDS / f"pod{pod_uid}" / container_id
    try:
        assert pids is not None
        pids.mkdir(parents=True, exist_ok=True)
    except OSError:
        say_once("pids", f"kubesim: cannot write {PIDS}: node debugging cannot find containers")
        pids = None
    memory = None
    if (pod := pod_memory(pod_uid, None)) is not None:
        memory = pod / container_id
        try:
            memory.mkdir(exist_ok=True)
        except OSError:
            memory = None
        else:
            if limit is not None:
                _limit(memory, limit)
    return ContainerCgroups(pids, memory)


def place(cgroups: ContainerCgroups, pid: int) -> None:
    """Move `pid` (and so every child it forks later) into the container's cgroups."""
    for procs in cgroups.procs_files:
        _write(Path(procs), f"{pid}\n")


def release(cgroups: ContainerCgroups | None) -> None:
    """Remove the container's cgroups (and the pod's, once empty) after its processes ended."""
    if cgroups is None:
        return
    for path in (cgroups.pids, cgroups.memory):
        if path is None:
            continue
        for directory in (path, path.parent):
            with contextlib.suppress(OSError):
                directory.rmdir()


def sweep_empty() -> None:
    """Remove empty container and pod cgroups (rmdir refuses any that still hold processes,
    so other kubesims running beside this one keep theirs)."""
    for root in (PIDS, memory_root()):
        if root is None or not root.is_dir():
            continue
        for pod in root.glob("pod*"):
            for container in pod.iterdir():
                if container.is_dir():
                    with contextlib.suppress(OSError):
                        container.rmdir()
            with contextlib.suppress(OSError):
                pod.rmdir()
