"""Pod volumes as the kubelet sets them up: emptyDir, hostPath, ConfigMap and Secret.

ConfigMap and Secret volumes use the kubelet's atomic-writer layout (pkg/volume/util/
atomic_writer.go): the files live in a `..<timestamp>` folder, `..data` links to it, and each
visible name links through `..data`; an update writes a new folder and renames a new `..data`
link over the old one, so a reader sees the old set or the new one, never half of each. The
kubelet re-syncs them every sync period (about a minute, `volume_sync` here). A missing object
keeps the pod in ContainerCreating with the kubelet's FailedMount text
(pkg/volume/configmap/configmap.go and secret/secret.go, SetUpAt).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kubesim.kubelet.mounts import Mount
from kubesim.store import Obj, Store

EMPTY_DIR = "kubernetes.io~empty-dir"
CONFIGMAP = "kubernetes.io~configmap"
SECRET = "kubernetes.io~secret"  # noqa: S105 - a volume plugin name
DATA = "..data"


class MountError(Exception):
    """A volume cannot be set up yet; the message is the kubelet's FailedMount text."""


@dataclass(frozen=True)
class Volume:
    """A volume set up on the node: its host folder and how containers get it."""

    path: Path
    read_only: bool = False
    recursive: bool = False


@dataclass(frozen=True)
class Payload:
    """The files a ConfigMap or Secret volume holds: relative path -> (bytes, mode)."""

    files: dict[str, tuple[bytes, int]]


def _decode(value: object) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _source_data(store: Store, namespace: str, volume: Obj) -> tuple[dict[str, bytes], Obj] | None:
    """The object's keys and the volume source; None when it is missing but optional."""
    if source := volume.get("configMap"):
        name = str(source.get("name", ""))
        obj = store.get("configmaps", namespace, name)
        kind = "configmap"
    else:
        source = volume["secret"]
        name = str(source.get("secretName", ""))
        obj = store.get("secrets", namespace, name)
        kind = "secret"
    if obj is None:
        if source.get("optional"):
            return None
        raise MountError(
            f'MountVolume.SetUp failed for volume "{volume["name"]}" : {kind} "{name}" not found'
        )
    if kind == "secret":
        data = {str(k): _decode(v) for k, v in (obj.get("data") or {}).items()}
    else:
        data = {str(k): _decode(v) for k, v in (obj.get("binaryData") or {}).items()}
        data.update({str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()})
    return data, source


def payload(store: Store, namespace: str, volume: Obj) -> Payload:
    found = _source_data(store, namespace, volume)
    if found is None:
        return Payload({})
    data, source = found
    mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    if not items:
        return Payload({key: (value, mode) for key, value in data.items()})
    files = {}
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if source.get("optional"):
                continue
            why = (
                f"configmap references non-existent config key: {key}"
                if "configMap" in volume
                else f"references non-existent secret key: {key}"
            )
            raise MountError(f'MountVolume.SetUp failed for volume "{volume["name"]}" : {why}')
        files[str(item.get("path", key))] = (data[key], int(item.get("mode", mode)))
    return Payload(files)


def _current(folder: Path) -> Payload | None:
    data = folder / DATA
    if not data.is_symlink():
        return None
    files = {}
    real = folder / data.readlink()
    for path in real.rglob("*"):
        if path.is_file():
            files[str(path.relative_to(real))] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return Payload(files)


def write_atomically(folder: Path, wanted: Payload) -> bool:
    """Make `folder` hold `wanted` in the atomic-writer layout; False if it already did."""
    folder.mkdir(parents=True, exist_ok=True)
    if _current(folder) == wanted:
        return False
    stamp = datetime.now(UTC).strftime("..%Y_%m_%d_%H_%M_%S.") + str(secrets.randbelow(10**9))
    fresh = folder / stamp
    fresh.mkdir(mode=0o755)
    for relative, (content, mode) in wanted.files.items():
        target = fresh / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)
    old = (folder / DATA).readlink() if (folder / DATA).is_symlink() else None
    staging = folder / "..data_tmp"
    staging.unlink(missing_ok=True)
    staging.symlink_to(stamp)
    staging.replace(folder / DATA)
    visible = {relative.split("/", 1)[0] for relative in wanted.files}
    for name in visible:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA}/{name}")
    for entry in folder.iterdir():
        if not entry.name.startswith("..") and entry.name not in visible:
            entry.unlink()
    if old is not None:
        shutil.rmtree(folder / old, ignore_errors=True)
    return True


class PodVolumes:
    """One pod's volumes on this node, under `<state>/pods/<uid>/volumes`."""

    def __init__(self, store: Store, pod_dir: Path) -> None:
        self.store = store
        self.folder = pod_dir / "volumes"

    def _path(self, volume: Obj) -> Path:
        if "configMap" in volume:
            kind = CONFIGMAP
        elif "secret" in volume:
            kind = SECRET
        else:
            kind = EMPTY_DIR
        return self.folder / kind / str(volume["name"])

    def set_up(self, pod: Obj) -> dict[str, Volume]:
        """Set up (or refresh) every volume, by name. Raises MountError."""
        namespace = pod["metadata"]["namespace"]
        found: dict[str, Volume] = {}
        for volume in pod["spec"].get("volumes") or []:
            name = str(volume.get("name", ""))
            if host := volume.get("hostPath"):
                found[name] = Volume(self._host_path(volume, host), recursive=True)
            elif "configMap" in volume or "secret" in volume:
                folder = self._path(volume)
                write_atomically(folder, payload(self.store, namespace, volume))
                folder.chmod(0o755)
                # Read-only whatever the volumeMount says (the kubelet's ReadOnlyAPIDataVolumes).
                found[name] = Volume(folder, read_only=True)
            elif "emptyDir" in volume:
                folder = self._path(volume)
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o777)  # the kubelet's emptyDir mode (pkg/volume/emptydir)
                found[name] = Volume(folder)
        return found

    def _host_path(self, volume: Obj, host: Obj) -> Path:
        path = Path(str(host.get("path", "")))
        kind = str(host.get("type", ""))
        if kind == "DirectoryOrCreate":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "FileOrCreate" and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        checks = {"Directory": Path.is_dir, "File": Path.is_file}
        if kind in checks and not checks[kind](path):
            raise MountError(
                f'MountVolume.SetUp failed for volume "{volume["name"]}" : hostPath type check '
                f"failed: {path} is not a {kind.lower()}"
            )
        return path


def container_mounts(container: Obj, volumes: dict[str, Volume]) -> tuple[Mount, ...]:
    """The container's volumeMounts as runtime mounts (subPath included)."""
    found = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(str(mount.get("name", "")))
        if volume is None:
            continue
        source = volume.path
        if sub := mount.get("subPath"):
            # A subPath of a ConfigMap file is that file, resolved once: it never updates.
            source = (source / str(sub)).resolve()
        found.append(
            Mount(
                str(source),
                str(mount["mountPath"]),
                read_only=volume.read_only or bool(mount.get("readOnly")),
                is_file=source.is_file(),
                recursive=volume.recursive,
            )
        )
    return tuple(found)
