"""Setup-script lines for a container's extra mounts: secret volumes and its image's host folders.

Both run as root inside the container's own mount namespace before anything is hidden, so the
host never sees a mount or a new folder: secrets go on a fresh tmpfs over /run, host folders
below a 0700 parent (/root) are re-mounted on a fresh tmpfs over that parent.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path

# A real container's /run (and so /var/run) starts empty: the host's is covered by a tmpfs.
RUN_ROOTS = ("/run/", "/var/run/")
STAGE = "/opt/.kubesim-host"


def blocking_parent(path: Path) -> Path | None:
    """The highest folder above `path` that other users cannot enter, if any."""
    for parent in reversed(path.parents):
        if parent == Path("/"):
            continue
        try:
            searchable = parent.stat().st_mode & 0o001
        except OSError:
            return None
        if not searchable:
            return parent
    return None


def host_path_lines(paths: Iterable[Path]) -> list[str]:
    """Make each existing host folder readable at its own path by any uid.

    A folder below an unsearchable parent is bound to a staging point first, then the parent
    is covered by a tmpfs (hiding everything else in it, as a real image would not have it)
    and the folder bound back at its path.
    """
    by_parent: dict[Path, list[Path]] = {}
    for path in paths:
        parent = blocking_parent(path)
        if parent is not None and path.is_dir():
            by_parent.setdefault(parent, []).append(path)
    lines: list[str] = []
    index = 0
    for parent, inside in by_parent.items():
        staged = []
        for path in inside:
            stage = f"{STAGE}/{index}"
            index += 1
            staged.append((stage, path))
            lines.append(f"bind_dir {shlex.quote(str(path))} {stage}")
        lines.append(f"mount -t tmpfs -o mode=755 kubesim-host {shlex.quote(str(parent))}")
        for stage, path in staged:
            lines.append(f"bind_dir {stage} {shlex.quote(str(path))}")
            # rmdir, never rm -r: a stage still mounted must not take host files with it.
            lines += [f"umount {stage}", f"rmdir {stage}"]
    if lines:
        lines.append(f"rmdir {STAGE}")
    return lines


def secret_lines(binds: Iterable[tuple[str, str]]) -> list[str]:
    """Bind each host folder read-only at its container path, which must be under /run."""
    pairs = list(binds)
    if not pairs:
        return []
    lines = ["mount -t tmpfs -o mode=755 kubesim-run /run"]
    for source, dest in pairs:
        if not dest.startswith(RUN_ROOTS):
            raise ValueError(f"secret mount {dest!r} must be under /run or /var/run")
        quoted = shlex.quote(dest)
        lines.append(f"bind_dir {shlex.quote(source)} {quoted}")
        lines.append(f"mount -o remount,bind,ro {quoted}")
    return lines
