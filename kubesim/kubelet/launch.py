"""From a Pod's container spec and its image to a `LaunchSpec`: argv, env, uid/gid and capabilities.

The precedence rules are the kubelet's and containerd's: container securityContext over the pod's
over the image's default user; command/args replace the image entrypoint/cmd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubesim.kubelet.containers import StartError
from kubesim.kubelet.images import Image
from kubesim.kubelet.mounts import Mount
from kubesim.kubelet.rootfs import Layer
from kubesim.kubelet.runtime import Identity, LaunchSpec, capabilities

# The pod sandbox's process, on the host's userland (a real pause image is one static binary).
PAUSE = Image("kubesim/pause", 65535, 65535, ("sleep", "infinity"), (), size=0)


def _pick(key: str, *contexts: dict[str, Any]) -> Any:
    return next((c[key] for c in contexts if c.get(key) is not None), None)


def identity_for(pod: dict[str, Any], container: dict[str, Any], image: Image) -> Identity:
    csc = container.get("securityContext") or {}
    psc = pod["spec"].get("securityContext") or {}
    uid = _pick("runAsUser", csc, psc)
    uid = image.user if uid is None else int(uid)
    gid = _pick("runAsGroup", csc, psc)
    # Without runAsGroup the group comes from the image's user entry; unknown uids get group 0.
    gid = (image.group if uid == image.user else 0) if gid is None else int(gid)
    privileged = bool(csc.get("privileged"))
    no_new_privs = csc.get("allowPrivilegeEscalation") is False and not privileged
    return Identity(uid, gid, capabilities(csc), no_new_privs)


def container_env(
    pod: dict[str, Any], container: dict[str, Any], image: Image, kubelet: dict[str, str]
) -> dict[str, str]:
    """The image's env under the kubelet's (`environment.kubelet_env`), as containerd merges
    them; HOME comes from the image or else its user, as containerd sets it."""
    env = image.environment()
    env["HOSTNAME"] = pod["metadata"]["name"]
    env.update(kubelet)
    if "HOME" not in env:
        env["HOME"] = "/root" if identity_for(pod, container, image).uid == 0 else "/"
    return env


def argv_for(container: dict[str, Any], image: Image) -> tuple[str, ...]:
    command = container.get("command")
    args = container.get("args")
    if command:
        argv = (*command, *(args or ()))
    else:
        argv = (*image.entrypoint, *(args if args is not None else image.cmd))
    if not argv:
        raise StartError("no command specified", 128)
    return tuple(str(a) for a in argv)


@dataclass(frozen=True)
class Placement:
    """Where one container goes on the node: its PID namespace, its image's layer, the host
    mountpoints its root is assembled on, its volumes and its cgroups."""

    pid_mode: str
    join_pid: int
    layer: Layer
    mountpoints: tuple[str, str]
    mounts: tuple[Mount, ...] = ()
    cgroups: tuple[str, ...] = ()


def launch_spec(
    image: Image,
    pod: dict[str, Any],
    container: dict[str, Any],
    placement: Placement,
    kubelet_env: dict[str, str] | None = None,
) -> LaunchSpec:
    return LaunchSpec(
        argv=argv_for(container, image),
        env=tuple(container_env(pod, container, image, kubelet_env or {}).items()),
        identity=identity_for(pod, container, image),
        image=image,
        pid_mode=placement.pid_mode,
        join_pid=placement.join_pid,
        hostname=pod["metadata"]["name"][:63],
        workdir=str(container.get("workingDir") or image.workdir or "/"),
        layer=placement.layer,
        mountpoints=placement.mountpoints,
        mounts=placement.mounts,
        read_only_root=bool((container.get("securityContext") or {}).get("readOnlyRootFilesystem")),
        cgroups=placement.cgroups,
    )


def pause_spec(pod: dict[str, Any], layer: Layer, mountpoints: tuple[str, str]) -> LaunchSpec:
    """The pod sandbox's PID 1 for `shareProcessNamespace: true`, as the pause container is."""
    identity = Identity(PAUSE.user, PAUSE.group, frozenset(), True)
    return LaunchSpec(
        PAUSE.entrypoint,
        (("PATH", "/usr/bin:/bin"),),
        identity,
        PAUSE,
        "own",
        hostname=pod["metadata"]["name"][:63],
        layer=layer,
        mountpoints=mountpoints,
    )
