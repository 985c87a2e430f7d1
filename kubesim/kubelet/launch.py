"""From a Pod's container spec and its image to a `LaunchSpec`: argv, env, uid/gid and capabilities.

The precedence rules are the kubelet's and containerd's: container securityContext over the pod's
over the image's default user; command/args replace the image entrypoint/cmd.
"""

from __future__ import annotations

from typing import Any

from kubesim.kubelet.containers import StartError
from kubesim.kubelet.images import Image
from kubesim.kubelet.runtime import Identity, LaunchSpec, capabilities

PAUSE = Image("kubesim/pause", 0, 0, ("sleep", "infinity"), ())

# A tmpfs private to each container (see launch_spec).
DEFAULT_WORKDIR = "/opt"


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


def launch_spec(
    image: Image,
    pod: dict[str, Any],
    container: dict[str, Any],
    pid_mode: str,
    join_pid: int,
    hide: tuple[str, ...],
    kubelet_env: dict[str, str] | None = None,
    secrets: tuple[tuple[str, str], ...] = (),
) -> LaunchSpec:
    return LaunchSpec(
        argv=argv_for(container, image),
        env=tuple(container_env(pod, container, image, kubelet_env or {}).items()),
        identity=identity_for(pod, container, image),
        image=image,
        pid_mode=pid_mode,
        join_pid=join_pid,
        hostname=pod["metadata"]["name"][:63],
        # Real containers each have their own "/"; kubesim's share the host's, so the default
        # working directory is /opt, a tmpfs private to the container. Otherwise two JVMs
        # with the same pid in two pods would share one `.attach_pid<pid>` trigger file.
        workdir=str(container.get("workingDir") or DEFAULT_WORKDIR),
        hide=hide,
        secrets=secrets,
        read_only_root=bool((container.get("securityContext") or {}).get("readOnlyRootFilesystem")),
    )


def pause_spec(pod: dict[str, Any], hide: tuple[str, ...]) -> LaunchSpec:
    """The pod sandbox's PID 1 for `shareProcessNamespace: true`, as the pause container is."""
    identity = Identity(65535, 65535, frozenset(), True)
    return LaunchSpec(
        PAUSE.entrypoint,
        (("PATH", "/usr/bin:/bin"),),
        identity,
        PAUSE,
        "own",
        hostname=pod["metadata"]["name"][:63],
        hide=hide,
    )
