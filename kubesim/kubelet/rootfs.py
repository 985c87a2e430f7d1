"""An image's layer on this node: the files its containers see, unpacked once per pull.

Each base is what its real namesake holds, made from the host's own files:
- `debian`: the host's /usr and /etc through an overlay in which the layer hides the host's
  JDKs and the tools the image does not declare (overlayfs whiteouts, and an opaque /usr/local);
- `distroless`: glibc's libraries, CA certificates, /etc/passwd with root and nonroot; no shell;
- `busybox`: Debian's static busybox as /bin/sh and its applets (`busybox --list`), nothing else;
- `scratch`: nothing.
Tools, files and the JDK's programs bring the shared libraries they load (`ldd`), so a
glibc program in a busybox image runs only because its libraries came with it. The JDK itself
is bind-mounted at container start (it is too big to copy), the rest is copied here.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kubesim.kubelet.images import HOST_USERLAND, Image

BUSYBOX = Path("/bin/busybox")
# glibc as distroless/base-debian12 ships it, plus libgcc_s and zlib as distroless/cc and java
# add (github.com/GoogleContainerTools/distroless, base/README.md and java/README.md).
GLIBC = (
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libresolv.so.2",
    "libnss_files.so.2",
    "libnss_dns.so.2",
    "libgcc_s.so.1",
    "libz.so.1",
)
CERTIFICATES = Path("/etc/ssl/certs/ca-certificates.crt")
# Host programs a Debian-based image would not have, hidden unless the image declares them.
HOST_ONLY_TOOLS = ("jattach", "kubectl", "docker", "gcc", "musl-gcc")
# The mount points the runtime needs in every root, made in the layer so a container start
# forks no mkdir for them.
SKELETON = ("proc", "dev", "dev/pts", "dev/shm", "sys", "tmp", "run", "var/tmp", "root", "home")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


@dataclass(frozen=True)
class Layer:
    """An unpacked image: its layers (its own first, then its base's), the host folders it
    overlays (Debian's /usr and /etc), the bytes its own layer holds."""

    lowers: tuple[Path, ...]
    overlays: tuple[str, ...]
    size: int


@functools.lru_cache(maxsize=512)
def libraries(binary: Path) -> tuple[Path, ...]:
    """The shared libraries (and the loader) `binary` needs, as `ldd` resolves them here."""
    try:
        out = subprocess.run(
            ["ldd", str(binary)], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(Path(m.group(1)) for line in out.splitlines() if (m := LDD_LINE.search(line)))


@functools.lru_cache(maxsize=1)
def busybox_applets() -> tuple[str, ...]:
    out = subprocess.run(
        [str(BUSYBOX), "--list"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return tuple(name for name in out.split() if name and "/" not in name)


def glibc_dir() -> Path:
    """Where this host keeps libc (e.g. /lib/x86_64-linux-gnu)."""
    libc = next((p for p in libraries(Path("/bin/true")) if p.name == "libc.so.6"), None)
    return libc.parent if libc else Path("/lib")


class Unpacker:
    """Copies host files into one layer folder, keeping each path's symlinks as the host has
    them (so /lib64/ld-linux-x86-64.so.2 resolves the same way inside)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.copied = 0

    def inside(self, path: str | Path) -> Path:
        return self.root / str(path).lstrip("/")

    def host_file(self, host: Path, dest: str | None = None) -> None:
        """Copy `host` to `dest` (its own path by default), replicating symlinks on the way."""
        if dest is not None:
            self.file(host, dest)
            return
        current = Path("/")
        parts = host.parts[1:]
        for i, part in enumerate(parts):
            step = current / part
            if step.is_symlink():
                target = str(step.readlink())
                link = self.inside(step)
                if not link.exists() and not link.is_symlink():
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(target)
                resolved = Path(os.path.normpath(current / target)).joinpath(*parts[i + 1 :])
                if link.is_symlink():
                    self.host_file(resolved)
                    return
                # The layer already has a real folder here: put the rest inside it.
                current = step
                continue
            current = step
        self.file(current, str(current))

    def file(self, source: Path, dest: str) -> None:
        target = self.inside(dest)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=True)
        self.copied += target.stat().st_size

    def program(self, source: Path, dest: str | None = None) -> None:
        """A program and every library it loads."""
        self.host_file(source, dest)
        for library in libraries(source):
            self.host_file(library)

    def write(self, dest: str, text: str, mode: int = 0o644) -> None:
        target = self.inside(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
        self.copied += len(text)

    def hide(self, dest: str) -> None:
        """An overlayfs whiteout: the host's file or folder at `dest` disappears."""
        target = self.inside(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() and not target.is_symlink():
            os.mknod(target, stat.S_IFCHR, os.makedev(0, 0))

    def opaque(self, dest: str) -> None:
        """Nothing of the host's folder at `dest` shows through; only the layer's own."""
        target = self.inside(dest)
        target.mkdir(parents=True, exist_ok=True)
        os.setxattr(target, "trusted.overlay.opaque", b"y")


def _skeleton(unpacker: Unpacker) -> None:
    for folder in SKELETON:
        unpacker.inside(folder).mkdir(parents=True, exist_ok=True)
    for folder in ("tmp", "var/tmp", "dev/shm"):
        unpacker.inside(folder).chmod(0o1777)
    unpacker.inside("root").chmod(0o700)
    if not unpacker.inside("var/run").exists():
        unpacker.inside("var/run").symlink_to("/run")  # as Debian, distroless and busybox have
    # Empty files the runtime binds the host's device nodes onto, and the usual links.
    for device in DEVICES:
        unpacker.inside(f"dev/{device}").touch()
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        unpacker.inside(f"dev/{name}").symlink_to(target)


def _debian(unpacker: Unpacker) -> None:
    # /bin, /lib... as the host has them (links into /usr on a merged-/usr system).
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / top
        if host.is_symlink():
            unpacker.inside(top).symlink_to(host.readlink())
    for folder in (*HOST_USERLAND, "opt", "srv", "mnt", "media"):
        unpacker.inside(folder).mkdir(exist_ok=True)
    unpacker.opaque("usr/local")
    unpacker.hide("usr/lib/jvm")
    for entry in Path("/usr/bin").iterdir():
        # The host JDK's alternatives (java, jcmd...) would dangle once /usr/lib/jvm is gone.
        if entry.is_symlink() and os.path.realpath(entry).startswith("/usr/lib/jvm/"):
            unpacker.hide(f"usr/bin/{entry.name}")
    for tool in HOST_ONLY_TOOLS:
        found = os.path.realpath(shutil.which(tool) or "/")
        # Below the opaque /usr/local nothing of the host shows anyway (and a whiteout with
        # nothing under it would show as a broken entry).
        if found.startswith("/usr/") and not found.startswith("/usr/local/"):
            unpacker.hide(found)


def _distroless(unpacker: Unpacker) -> None:
    for name in GLIBC:
        library = glibc_dir() / name
        if library.exists():
            unpacker.host_file(library)
    for loader in libraries(Path("/bin/true")):
        if "ld-linux" in loader.name:
            unpacker.host_file(loader)
    if CERTIFICATES.exists():
        unpacker.host_file(CERTIFICATES)
    # distroless's /etc/passwd and /etc/group (base/base.bzl): root, nobody and nonroot.
    unpacker.write(
        "etc/passwd",
        "root:x:0:0:root:/root:/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
        "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    unpacker.write("etc/group", "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")
    unpacker.write("etc/os-release", 'PRETTY_NAME="Distroless"\nID=debian\nVERSION_ID="12"\n')
    home = unpacker.inside("home/nonroot")
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, 65532, 65532)


def _busybox(unpacker: Unpacker) -> None:
    unpacker.file(BUSYBOX, "/bin/busybox")
    for applet in busybox_applets():
        link = unpacker.inside(f"bin/{applet}")
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    # The busybox image's own /etc/passwd and /etc/group (docker-library/busybox).
    unpacker.write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n",
    )
    unpacker.write("etc/group", "root:x:0:\nnobody:x:65534:\n")


def unpack_base(base: str, dest: Path) -> Path:
    """A base's own layer, which every image on that base shares (as images built FROM the
    same base share its layers on a node: one /tmp inode for all of them, for instance)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    unpacker = Unpacker(dest)
    if base == "debian":
        _debian(unpacker)
    elif base == "distroless":
        _distroless(unpacker)
    elif base == "busybox":
        _busybox(unpacker)
    _skeleton(unpacker)
    return dest


def unpack(image: Image, dest: Path, base: Path) -> Layer:
    """Build `image`'s own layer in `dest` (replacing anything there), over its base's."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    unpacker = Unpacker(dest)
    for tool in image.tools:
        found = Path(shutil.which(tool) or "")
        if image.base == "debian" and str(found.resolve()).startswith("/usr/"):
            # The host's /usr is the image's: the base hides the tool, the image shows it.
            unpacker.file(found.resolve(), str(found.resolve()))
        elif found.name:
            unpacker.program(found)
    for target, source in image.files:
        unpacker.program(source, target)
    if image.runtime and image.base != "debian":
        # The JDK is mounted later; its programs' libraries must be in the image already.
        runtime = image.runtime
        for binary in [*runtime.binaries(), runtime.source / "lib" / "server" / "libjvm.so"]:
            for library in libraries(binary):
                if runtime.source not in library.parents:
                    unpacker.host_file(library)
    for path in image.host_paths:
        # The host folder is bound at its own path; its parents (/root for the venv's
        # interpreter) must let the image's user through, as the real image's /usr/local does.
        for parent in [*reversed(path.parents), path]:
            if parent != Path("/"):
                folder = unpacker.inside(parent)
                folder.mkdir(exist_ok=True)
                folder.chmod(0o1777 if parent == Path("/tmp") else 0o755)  # noqa: S108
    overlays = HOST_USERLAND if image.base == "debian" else ()
    return Layer((dest, base), overlays, unpacker.copied)
