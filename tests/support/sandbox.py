"""Container-like process launchers built from util-linux (unshare, nsenter, setpriv).

They reproduce the boundaries a container runtime puts between a JVM and a debug process:
a private mount namespace with its own tmpfs /tmp, a PID namespace, a uid/gid, and the
runtime's default capability set (no CAP_SYS_PTRACE). Needs root.
"""

from __future__ import annotations

from pathlib import Path

# containerd's default capabilities for a root container: kubesim's list, the one truth.
from kubesim.kubelet.runtime import DEFAULT_CAPS


def identity(uid: int, gid: int) -> list[str]:
    """setpriv argv: become uid/gid with the default container capabilities (root) or none.

    For root, a reduced bounding set plus an empty inheritable set makes the exec'd
    program's permitted set equal the bounding set, as in a container.
    """
    caps = ",".join(["-all", *(f"+{c}" for c in sorted(DEFAULT_CAPS))])
    argv = ["setpriv", f"--bounding-set={caps}", "--inh-caps=-all"]
    if uid != 0 or gid != 0:
        argv += [f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    return [*argv, "--"]


# /mnt is set up before /tmp is replaced: the JDK or jar may live under the host's /tmp.
_SETUP = (
    'set -e; mount -t tmpfs tmpfs /mnt; mkdir /mnt/jdk /mnt/app; mount --bind "$JDK" /mnt/jdk; '
    'cp "$JAR" /mnt/app/cowweb.jar; mount -t tmpfs -o "mode=1777$TMP_OPTS" tmpfs /tmp; '
    'exec "$@"'
)


def jvm_container(
    jdk: Path, jar: Path, uid: int, gid: int, *, read_only_tmp: bool = False
) -> tuple[list[str], Path, Path]:
    """A wrapper that starts java as PID 1 of a new PID+mount namespace with a private /tmp.

    The JDK and jar are bind-mounted under /mnt so a non-root uid can reach them. Returns
    (wrapper argv, java path inside, jar path inside); the caller appends java's argv.
    """
    tmp_opts = ",ro" if read_only_tmp else ""
    wrapper = [
        "env",
        f"JDK={jdk}",
        f"JAR={jar}",
        f"TMP_OPTS={tmp_opts}",
        "unshare",
        "--mount",
        "--pid",
        "--fork",
        "--mount-proc",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        _SETUP,
        "sh",
        *identity(uid, gid),
    ]
    return wrapper, Path("/mnt/jdk/bin/java"), Path("/mnt/app/cowweb.jar")


_DEBUG_SETUP = (
    "set -e; mount -t proc proc /proc; mount -t tmpfs tmpfs /mnt; mkdir /mnt/jdk; "
    'mount --bind "$JDK" /mnt/jdk; mount -t tmpfs tmpfs /tmp; exec "$@"'
)
DEBUG_JAVA_HOME = Path("/mnt/jdk")


def debug_container(jvm_host_pid: int, uid: int, gid: int, jdk: Path) -> list[str]:
    """A launcher prefix: join the JVM's PID namespace, but keep an own mount namespace and
    /tmp (an ephemeral container with targetContainerName), as uid/gid without SYS_PTRACE.

    `jdk` is bind-mounted at DEBUG_JAVA_HOME, like a debug image's /opt/java/openjdk.
    """
    return [
        "env",
        f"JDK={jdk}",
        "nsenter",
        f"--target={jvm_host_pid}",
        "--pid",
        "--",
        *own_mounts(_DEBUG_SETUP, "sh"),
        *identity(uid, gid),
    ]


def own_mounts(setup: str, *args: str) -> list[str]:
    """A launcher prefix: a private mount namespace in which `sh -c setup args...` runs
    (the setup ends by exec'ing "$@", the command appended to this prefix)."""
    return [
        "unshare",
        "--mount",
        "--fork",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        setup,
        *args,
    ]
