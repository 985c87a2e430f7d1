"""The container runtime: turn a container's settings into a real namespaced Linux process.

Each container is `unshare` (or `nsenter` into a shared PID namespace, then `unshare`) running a
small POSIX sh setup as root — private /proc, /tmp, image files mounted, host JDKs hidden — that
then `exec`s `setpriv` with the container's uid/gid, capability bounding set and no_new_privs.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kubesim.kubelet.images import JRE_BIN, KNOWN_TOOLS, Image, jdk_cache
from kubesim.kubelet.mounts import host_path_lines, secret_lines

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
# Host tools a real image would not have: hidden inside every container.
HIDDEN_DIRS = ("/usr/lib/jvm",)
HIDDEN_FILES = tuple(str(p) for p in KNOWN_TOOLS.values())
ISOLATED = os.geteuid() == 0

TMP = Path("/tmp")  # noqa: S108 - the container's /tmp, not a temp file


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


def all_caps() -> frozenset[str]:
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    names = [
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
    return frozenset(names[: last + 1])


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    caps: frozenset[str] | None
    no_new_privs: bool

    def setpriv(self) -> list[str]:
        argv = [
            "setpriv",
            f"--reuid={self.uid}",
            f"--regid={self.gid}",
            "--clear-groups",
            "--inh-caps=-all",
        ]
        if self.caps is not None:
            argv.append("--bounding-set=" + ",".join(["-all", *sorted(f"+{c}" for c in self.caps)]))
        if self.no_new_privs:
            argv.append("--no-new-privs")
        return argv


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
    hide: tuple[str, ...] = ()
    # (host folder, container folder) pairs mounted read-only: the ServiceAccount token.
    secrets: tuple[tuple[str, str], ...] = ()
    read_only_root: bool = False


def _mounts_for_image(image: Image) -> list[str]:
    lines = []
    if rt := image.runtime:
        src, dest = rt.source, rt.path
        if rt.kind == "jdk":
            lines.append(f"bind_dir {shlex.quote(str(src))} {shlex.quote(dest)}")
        else:
            for entry in sorted(src.iterdir()):
                if entry.name == "bin":
                    continue
                kind = "bind_dir" if entry.is_dir() else "bind_file"
                lines.append(
                    f"{kind} {shlex.quote(str(entry))} {shlex.quote(f'{dest}/{entry.name}')}"
                )
            for tool in sorted((src / "bin").iterdir()):
                if tool.name in JRE_BIN:
                    lines.append(
                        f"bind_file {shlex.quote(str(tool))} {shlex.quote(f'{dest}/bin/{tool.name}')}"  # noqa: E501
                    )
    for dest, src in image.files:
        lines.append(f"bind_file {shlex.quote(str(src))} {shlex.quote(dest)}")
    for extra in image.tools:
        lines.append(f"bind_file {shlex.quote(str(KNOWN_TOOLS[extra]))} /opt/tools/{extra}")
    return lines


SETUP_PRELUDE = """set -e
read -r KS_PID KS_REST < /proc/self/stat
bind_dir() { mkdir -p "$2"; mount --bind "$1" "$2"; }
bind_file() { mkdir -p "${2%/*}"; : > "$2"; mount --bind "$1" "$2"; }
hide_dir() { if [ -d "$1" ]; then mount -t tmpfs -o mode=755,size=64k kubesim-hidden "$1"; fi; }
hide_file() { if [ -f "$1" ]; then mount --bind /dev/null "$1"; fi; }
mount -t tmpfs -o mode=755 kubesim-image /opt
mount -t tmpfs -o mode=755 kubesim-image /usr/local
"""


def setup_script(spec: LaunchSpec) -> str:
    lines = [SETUP_PRELUDE, *_mounts_for_image(spec.image)]
    # Before /tmp and the hidden folders are covered: the sources may live there.
    lines += host_path_lines(spec.image.host_paths)
    lines += secret_lines(spec.secrets)
    if spec.pid_mode != "host":
        lines.append("mount -t proc proc /proc")
    # Host folders under /tmp (a checkout there, as in some CI runs) would vanish behind the
    # container's own /tmp: park them in the private /opt and bind them back afterwards.
    kept = [p for p in spec.image.host_paths if p == TMP or TMP in p.parents]
    lines += [f"bind_dir {shlex.quote(str(p))} /opt/.kubesim-keep-{i}" for i, p in enumerate(kept)]
    lines.append("mount -t tmpfs -o mode=1777 kubesim-tmp /tmp")
    for i, path in enumerate(kept):
        stage = f"/opt/.kubesim-keep-{i}"
        lines += [f"bind_dir {stage} {shlex.quote(str(path))}", f"umount {stage}", f"rmdir {stage}"]
    for folder in (*HIDDEN_DIRS, str(jdk_cache()), *spec.hide):
        lines.append(f"hide_dir {shlex.quote(folder)}")
    lines += [f"hide_file {shlex.quote(f)}" for f in HIDDEN_FILES]
    lines.append(f"hostname {shlex.quote(spec.hostname)}")
    if spec.read_only_root:
        # The container's "/" is the host's plus the image's tmpfs; /tmp, /run, /proc stay rw.
        lines += [f"mount -o remount,bind,ro {root}" for root in ("/", "/opt", "/usr/local")]
    lines.append(f'echo "{READY} $KS_PID"')
    lines.append(f"cd {shlex.quote(spec.workdir)} 2>/dev/null || cd /")
    env = [f"{k}={v}" for k, v in spec.env]
    tail = [*spec.identity.setpriv(), "--", "env", "-i", *env]
    lines.append("exec " + " ".join(shlex.quote(a) for a in tail) + ' "$@"')
    return "\n".join(lines) + "\n"


def launch_argv(spec: LaunchSpec) -> list[str]:
    """The host command that starts the container; its first stdout line is `READY <host pid>`."""
    if not ISOLATED:
        env = [f"{k}={v}" for k, v in spec.env]
        return ["sh", "-c", f'echo "{READY} $$"; exec "$@"', "sh", "env", "-i", *env, *spec.argv]
    script = ["sh", "-c", setup_script(spec), "kubesim-setup", *spec.argv]
    unshare = ["unshare", "--mount", "--uts", "--ipc", "--propagation", "private"]
    if spec.pid_mode == "own":
        return [*unshare, "--pid", "--fork", "--kill-child", "--", *script]
    if spec.pid_mode == "join":
        return ["nsenter", f"--target={spec.join_pid}", "--pid", "--", *unshare, "--", *script]
    return [*unshare, "--", *script]


def exec_argv(
    pid: int, identity: Identity, env: Iterable[tuple[str, str]], cmd: list[str]
) -> list[str]:
    """Run `cmd` inside the container whose process is `pid`: its namespaces, uid and caps."""
    pairs = [f"{k}={v}" for k, v in env]
    if not ISOLATED:
        return ["env", "-i", *pairs, *cmd]
    enter = ["nsenter", f"--target={pid}", "--pid", "--mount", "--uts", "--ipc", "--"]
    return [*enter, *identity.setpriv(), "--", "env", "-i", "-C", "/", *pairs, *cmd]


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
