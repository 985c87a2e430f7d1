"""The container runtime: turn a container's settings into a real namespaced Linux process.

Each container is `unshare` (or `nsenter` into a shared PID namespace, then `unshare`) running a
small POSIX sh setup as root that assembles the container's own root from its image's layer
(kubesim/kubelet/mounts.py), then `exec`s kubesim-init (kubesim/kubelet/init.c), which joins the
container's cgroups, pivots into that root and drops to its uid/gid, capability bounding set and
no_new_privs before it runs the command. `pods/exec` enters a running container the same way.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kubesim.kubelet.images import REPO, Image
from kubesim.kubelet.mounts import Mount, root_lines
from kubesim.kubelet.rootfs import Layer

# containerd's default capability set for a container (the same as Docker's).
DEFAULT_CAPS = frozenset(
    {
        "chown",
        "dac_override",
        "fsetid",
        "fowner",
        "mknod",
        "net_raw",
        "setgid",
        "setuid",
        "setfcap",
        "setpcap",
        "net_bind_service",
        "sys_chroot",
        "kill",
        "audit_write",
    }
)
READY = "kubesim-ready"
FAILED = "kubesim-failed"
ISOLATED = os.geteuid() == 0


def cap_name(raw: str) -> str:
    return raw.lower().removeprefix("cap_")


def capabilities(security: dict[str, object]) -> frozenset[str] | None:
    """The bounding set containerd would give; None means every capability (privileged)."""
    if security.get("privileged"):
        return None
    wanted = security.get("capabilities") or {}
    assert isinstance(wanted, dict)
    add = {cap_name(str(c)) for c in wanted.get("add") or ()}
    drop = {cap_name(str(c)) for c in wanted.get("drop") or ()}
    if "all" in add:
        return None if not drop else frozenset(all_caps() - drop)
    caps = set() if "all" in drop else set(DEFAULT_CAPS) - drop
    return frozenset((caps | add) & all_caps())


# Capability names in kernel bit order (include/uapi/linux/capability.h).
CAP_NAMES = [
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
]


def all_caps() -> frozenset[str]:
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    return frozenset(CAP_NAMES[: last + 1])


# A static binary, so it runs in any image; scripts/bootstrap.sh builds it (`python -m kubesim
# build-init`), and a checkout whose init.c is newer rebuilds it on first use.
INIT = REPO / "build" / "kubesim" / "kubesim-init"
INIT_SOURCE = Path(__file__).with_name("init.c")
COMPILERS = (("musl-gcc", "-static"), ("cc", "-static"))


class RuntimeMissing(RuntimeError):
    """kubesim-init cannot be built (no C compiler)."""


def build_init(target: Path = INIT) -> Path:
    """Compile kubesim-init (musl's static toolchain when installed, else the system cc)."""
    compiler = next(((cc, flag) for cc, flag in COMPILERS if shutil.which(cc)), None)
    if compiler is None:
        raise RuntimeMissing("kubesim-init needs a C compiler: run `make bootstrap`")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}")
    cc, flag = compiler
    subprocess.run(
        [cc, flag, "-Os", "-s", "-Wall", "-Wextra", "-o", str(partial), str(INIT_SOURCE)],
        check=True,
        capture_output=True,
    )
    partial.replace(target)  # atomic: kubesims running beside this one keep a whole binary
    return target


def init_binary() -> Path:
    if not INIT.exists() or INIT.stat().st_mtime < INIT_SOURCE.stat().st_mtime:
        build_init()
    return INIT


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    caps: frozenset[str] | None
    no_new_privs: bool

    def init_args(self) -> list[str]:
        """kubesim-init's flags for this identity (capabilities by kernel number)."""
        args = ["--uid", str(self.uid), "--gid", str(self.gid)]
        if self.caps is None:
            args += ["--caps", "all"]
        else:
            numbers = sorted(CAP_NAMES.index(c) for c in self.caps)
            args += ["--caps", ",".join(map(str, numbers)) or "none"]
        if self.no_new_privs:
            args.append("--no-new-privs")
        return args


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start one container process."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    identity: Identity
    image: Image
    pid_mode: str  # "own": a new PID namespace, "join": join `join_pid`'s, "host"
    join_pid: int = 0
    hostname: str = "kubesim"
    workdir: str = "/"
    # The image's unpacked layer, and where (on the host) this container's root is assembled.
    layer: Layer | None = None
    mountpoints: tuple[str, str] = ("", "")
    mounts: tuple[Mount, ...] = ()
    read_only_root: bool = False
    # cgroup.procs files the container's first process writes itself into.
    cgroups: tuple[str, ...] = ()


SETUP_PRELUDE = """set -e
read -r KS_PID KS_REST < /proc/self/stat
bind_dir() { mkdir -p "$2"; mount --bind "$1" "$2"; }
rbind_dir() { mkdir -p "$2"; mount --rbind "$1" "$2"; }
bind_file() { mkdir -p "${2%/*}"; [ -e "$2" ] || : > "$2"; mount --bind "$1" "$2"; }
"""


def setup_script(spec: LaunchSpec) -> str:
    assert spec.layer is not None
    root, scratch = spec.mountpoints
    lines = [SETUP_PRELUDE]
    lines += root_lines(spec.layer, root, scratch, spec.image, spec.mounts, spec.pid_mode)
    if spec.read_only_root:
        tops = [root, *(f"{root}/{top}" for top in spec.layer.overlays)]
        lines += [f"mount -o remount,bind,ro {shlex.quote(top)}" for top in tops]
    lines.append(f"hostname {shlex.quote(spec.hostname)}")
    env = [f"{k}={v}" for k, v in spec.env]
    tail = ["env", "-i", *env, str(init_binary())]
    for cgroup in spec.cgroups:
        tail += ["--cgroup", cgroup]
    tail += ["--root", root, "--wd", spec.workdir, *spec.identity.init_args()]
    lines.append("exec " + " ".join(shlex.quote(a) for a in tail) + ' --ready "$KS_PID" -- "$@"')
    return "\n".join(lines) + "\n"


def launch_argv(spec: LaunchSpec) -> list[str]:
    """The host command that starts the container; its first stdout line is `READY <host pid>`
    (or `kubesim-failed <runc's message>` when the command cannot be started)."""
    if not ISOLATED:
        env = [f"{k}={v}" for k, v in spec.env]
        return ["sh", "-c", f'echo "{READY} $$"; exec "$@"', "sh", "env", "-i", *env, *spec.argv]
    script = ["sh", "-c", setup_script(spec), "kubesim-setup", *spec.argv]
    mode = str(spec.join_pid) if spec.pid_mode == "join" else spec.pid_mode
    return [str(init_binary()), "--spawn", mode, "--", *script]


def exec_argv(
    pid: int,
    identity: Identity,
    cmd: list[str],
    workdir: str = "/",
    cgroups: Iterable[str] = (),
    error_fd: int | None = None,
) -> list[str]:
    """Run `cmd` inside the container whose process is `pid`: its namespaces, root, uid, caps
    and cgroups (as runc exec does); the environment is the caller's to pass."""
    if not ISOLATED:
        return list(cmd)
    argv = [str(init_binary())]
    for cgroup in cgroups:
        argv += ["--cgroup", cgroup]
    argv += ["--enter", str(pid), "--wd", workdir, *identity.init_args()]
    if error_fd is not None:
        argv += ["--error-fd", str(error_fd)]
    return [*argv, "--", *cmd]


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, parents first."""
    tree = children_map()
    found, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        found.append(current)
        queue.extend(tree.get(current, []))
    return found


def kill_all(pids: Iterable[int], sig: int = signal.SIGKILL) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
