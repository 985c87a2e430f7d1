"""Setup-script lines that assemble a container's root: its image's layer, the JDK, volumes.

They run as root in the container's own mount namespace, so the host never sees a mount.
The root is an overlay whose lower layers are the image's (kubesim/kubelet/rootfs.py) and
whose upper layer is the container's own scratch folder, removed when it ends, so the
container can write anywhere and leaves nothing behind, as a containerd snapshot does; a
Debian-based image overlays the host's /usr and /etc the same way.
Then the runtime's own mounts: /proc, the device nodes, the JDK, host folders and volumes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from kubesim.kubelet.images import JRE_BIN, Image
from kubesim.kubelet.rootfs import DEVICES, Layer


@dataclass(frozen=True)
class Mount:
    """A host file or folder at a path in the container (a volume, the token, a host folder)."""

    source: str
    target: str
    read_only: bool = False
    is_file: bool = False
    # hostPath volumes are rbind mounts (runc's default for them): mounts below come along.
    recursive: bool = False


def q(text: str | Path) -> str:
    return shlex.quote(str(text))


def scratch_folders(layer: Layer) -> list[str]:
    """The folders (relative to a container's scratch folder) its overlays write to."""
    return [f"{top}.{kind}" for top in ("", *layer.overlays) for kind in ("up", "work")]


def _overlays(layer: Layer, root: str, scratch: str) -> list[str]:
    # The upper layer is on the same filesystem as the image's layers, as containerd's
    # snapshots are, so overlayfs reports a folder's inode from the image (two containers of
    # images on one base see the same /tmp inode, which JDK-8284330's jps check trips on).
    lowers = ":".join(str(p) for p in layer.lowers)
    options = f"lowerdir={lowers},upperdir={scratch}/.up,workdir={scratch}/.work"
    lines = [f"mount -t overlay kubesim-root -o {q(options)} {q(root)}"]
    for top in layer.overlays:
        lower = ":".join([*(f"{p}/{top}" for p in layer.lowers if (p / top).is_dir()), f"/{top}"])
        options = f"lowerdir={lower},upperdir={scratch}/{top}.up,workdir={scratch}/{top}.work"
        lines.append(f"mount -t overlay kubesim-{top} -o {q(options)} {q(f'{root}/{top}')}")
    return lines


def _runtime(image: Image, root: str) -> list[str]:
    runtime = image.runtime
    if runtime is None:
        return []
    dest = f"{root}{runtime.path}"
    if runtime.kind == "jdk":
        return [f"bind_dir {q(runtime.source)} {q(dest)}", f"mount -o remount,bind,ro {q(dest)}"]
    # A JRE: the JDK's folders without the JDK-only programs in bin/.
    lines = []
    for entry in sorted(runtime.source.iterdir()):
        if entry.name != "bin":
            kind = "bind_dir" if entry.is_dir() else "bind_file"
            lines.append(f"{kind} {q(entry)} {q(f'{dest}/{entry.name}')}")
    for tool in runtime.binaries():
        if tool.name in JRE_BIN:
            lines.append(f"bind_file {q(tool)} {q(f'{dest}/bin/{tool.name}')}")
    return lines


def _link(layer: Layer, relative: str) -> str | None:
    """The symlink at `relative` in the image, if there is one: the topmost layer that has
    the path decides (Debian's /usr and /etc come last, from the host)."""
    lowers = list(layer.lowers)
    if relative.split("/")[0] in layer.overlays:
        lowers.append(Path("/"))
    for lower in lowers:
        path = lower / relative
        if path.is_symlink():
            return str(path.readlink())
        if path.exists():
            return None
    return None


def contained(layer: Layer, target: str) -> str:
    """`target` with the image's own symlinks resolved inside the image, as runc resolves a
    mount destination (github.com/cyphar/filepath-securejoin), so that the setup, which runs
    on the host, never follows a link such as /var/run -> /run out of the container's root."""
    parts = [p for p in target.split("/") if p and p != "."]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            resolved = resolved[:-1]
            continue
        link = _link(layer, "/".join([*resolved, part]))
        if link is None:
            resolved.append(part)
            continue
        links += 1
        if links > 40:  # the kernel's own limit on symlinks in one lookup
            raise ValueError(f"too many levels of symbolic links in {target}")
        if link.startswith("/"):
            resolved = []
        parts = [p for p in link.split("/") if p and p != "."] + parts
    return "/" + "/".join(resolved)


def _mount(mount: Mount, root: str) -> list[str]:
    kind = "bind_file" if mount.is_file else "rbind_dir" if mount.recursive else "bind_dir"
    target = q(f"{root}{mount.target}")
    lines = [f"{kind} {q(mount.source)} {target}"]
    if mount.read_only:
        lines.append(f"mount -o remount,bind,ro {target}")
    return lines


def root_lines(
    layer: Layer,
    root: str,
    scratch: str,
    image: Image,
    mounts: tuple[Mount, ...],
    pid_mode: str,
) -> list[str]:
    """Mount the container's root at `root` (the folder `scratch` holds what it writes)."""
    lines = _overlays(layer, root, scratch)
    lines += _runtime(image, root)
    wanted = [Mount(str(path), str(path), read_only=True) for path in image.host_paths]
    wanted += [replace(m, target=contained(layer, m.target)) for m in mounts]
    # Parents before children, so a volume inside another volume stays visible.
    for mount in sorted(wanted, key=lambda m: m.target.count("/")):
        lines += _mount(mount, root)
    if pid_mode == "host":
        lines.append(f"mount --rbind /proc {q(f'{root}/proc')}")
    else:
        lines.append(f"mount -t proc proc {q(f'{root}/proc')}")
    lines += [f"mount --bind /dev/{d} {q(f'{root}/dev/{d}')}" for d in DEVICES]
    shm = f"{root}/dev/shm"  # noqa: S108 - the container's own /dev/shm, a fresh tmpfs
    lines.append(f"mount -t tmpfs -o mode=1777,nosuid,nodev kubesim-shm {q(shm)}")
    return lines
