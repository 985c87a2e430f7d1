"""Image pulls as a node does them: a per-node image store, a pull that takes time, registry
credentials from `imagePullSecrets`, and the kubelet's back-off after a failed pull.

A pull transfers the image's compressed size at the model's bandwidth after a fixed latency
(defaults 25 MB/s and 0.5 s), while the image's layer is really unpacked (rootfs.py).
`KUBESIM_PULLS=instant` turns the model down for tests that are not about pulls;
`KUBESIM_PULL_BANDWIDTH` (bytes/s) and `KUBESIM_PULL_LATENCY` (s) change it.

Error texts are containerd's (core/remotes/docker/resolver.go: `pull access denied, repository
does not exist or may require authorization`, `<ref>: not found`; core/remotes/errors/errors.go:
`unexpected status from HEAD request to <url>: 401 Unauthorized`; client/pull.go: `failed to
resolve reference`; internal/cri/server/images/image_pull.go: `failed to pull and unpack
image`), which the kubelet shows as the waiting message of ErrImagePull.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import os
import re
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubesim.kubelet.images import DOCKER_HUB, Catalog, Image, qualified, split
from kubesim.kubelet.rootfs import Layer, unpack, unpack_base
from kubesim.store import Obj, Store

# The kubelet's image back-off: flowcontrol.NewBackOff(backOffPeriod, MaxContainerBackOff),
# 10 s doubling to 300 s (pkg/kubelet/kubelet.go).
BACKOFF, MAX_BACKOFF = 10.0, 300.0
DOCKER_CONFIG = "kubernetes.io/dockerconfigjson"
# github.com/distribution/reference's grammar, reduced: lowercase path components.
REFERENCE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


@dataclass(frozen=True)
class PullModel:
    bandwidth: float = 25e6  # bytes per second
    latency: float = 0.5  # seconds before the first byte
    backoff: float = BACKOFF
    max_backoff: float = MAX_BACKOFF

    @classmethod
    def instant(cls) -> PullModel:
        """Free pulls and a short back-off, for tests about something else."""
        return cls(math.inf, 0.0, 1.0, 4.0)

    @classmethod
    def from_env(cls) -> PullModel:
        if os.environ.get("KUBESIM_PULLS", "") == "instant":
            return cls.instant()
        return cls(
            _positive("KUBESIM_PULL_BANDWIDTH", cls.bandwidth, "bytes per second", "25000000"),
            _positive("KUBESIM_PULL_LATENCY", cls.latency, "seconds", "0.5"),
        )

    def seconds(self, size: int) -> float:
        return self.latency + (size / self.bandwidth if self.bandwidth else 0.0)


def _positive(name: str, default: float, unit: str, example: str) -> float:
    text = os.environ.get(name, "")
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and unit != "seconds"):
        raise ValueError(
            f"{name}={text!r} is not a number of {unit}; unset it or give e.g. {example}"
        )
    return value


class PullError(Exception):
    """A pull that failed; `reason` is the waiting reason, the message containerd's text."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class NodeImage:
    """An image present on the node: what it is, its unpacked layer, its compressed size."""

    image: Image
    layer: Layer
    size: int


def compressed_size(folder: Path) -> int:
    """What the folder's regular files weigh gzip-compressed (a layer's download size)."""
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            squeeze = zlib.compressobj(6)
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    total += len(squeeze.compress(chunk))
            total += len(squeeze.flush())
    return total


def _unpack_failure(ref: str, why: str) -> str:
    full = qualified(ref)
    return f'failed to pull and unpack image "{full}": failed to resolve reference "{full}": {why}'


def not_found(catalog: Catalog, ref: str) -> str:
    """containerd's answer for a reference no registry has."""
    host, path, _ = split(ref)
    known = any(split(i.ref)[:2] == (host, path) for i in catalog.images.values())
    if host == DOCKER_HUB and not known:
        # Docker Hub answers 401 for a repository that does not exist.
        why = (
            "pull access denied, repository does not exist or may require authorization: "
            "server message: insufficient_scope: authorization failed"
        )
    else:
        why = f"{qualified(ref)}: not found"
    return _unpack_failure(ref, why)


def unauthorized(ref: str) -> str:
    host, path, tag = split(ref)
    if host == DOCKER_HUB:
        return not_found(Catalog({}), ref)
    manifest = tag.lstrip("@") if tag.startswith("@") else tag
    url = f"https://{host}/v2/{path}/manifests/{manifest}"
    return _unpack_failure(ref, f"unexpected status from HEAD request to {url}: 401 Unauthorized")


def _logins(secret: Obj) -> list[tuple[str, str, str]]:
    """(registry, username, password) from a dockerconfigjson Secret."""
    try:
        raw = base64.b64decode(str((secret.get("data") or {}).get(".dockerconfigjson", "")))
        auths = json.loads(raw or b"{}").get("auths") or {}
    except (binascii.Error, ValueError, AttributeError):
        return []
    found = []
    for server, entry in auths.items():
        if not isinstance(entry, dict):
            continue
        user, password = str(entry.get("username", "")), str(entry.get("password", ""))
        if entry.get("auth") and not user:
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (binascii.Error, ValueError):
                continue
        host = str(server).removeprefix("https://").removeprefix("http://").split("/", 1)[0]
        found.append((host, user, password))
    return found


def pull_secrets(store: Store, pod: Obj) -> tuple[list[Obj], list[str]]:
    """The pod's imagePullSecrets that exist, and the names of those that do not."""
    namespace = pod["metadata"]["namespace"]
    found, missing = [], []
    for ref in pod["spec"].get("imagePullSecrets") or []:
        name = str(ref.get("name", ""))
        secret = store.get("secrets", namespace, name)
        if secret is None:
            missing.append(name)
        else:
            found.append(secret)
    return found, missing


def authorised(catalog: Catalog, ref: str, secrets: list[Obj]) -> bool:
    registry = catalog.registry(ref)
    if registry is None:
        return True
    logins = [login for s in secrets if s.get("type") == DOCKER_CONFIG for login in _logins(s)]
    return (registry.host, registry.username, registry.password) in logins


def valid_reference(ref: str) -> bool:
    return bool(REFERENCE.match(ref))


@dataclass
class ImageStore:
    """The node's images (containerd's content store): pulled once, shared by every pod."""

    catalog: Catalog
    folder: Path
    model: PullModel
    # A planned failure for a reference (kubesim/faults.py), containerd's text.
    planned: Callable[[str], str | None] = lambda ref: None
    # Called whenever an image comes or goes (the node's status.images follows: node.py).
    changed: Callable[[], None] = lambda: None
    present: dict[str, NodeImage] = field(default_factory=dict)
    _pulling: dict[str, asyncio.Future[NodeImage]] = field(default_factory=dict)
    _bases: set[Path] = field(default_factory=set)
    _base_lock: threading.Lock = field(default_factory=threading.Lock)

    def has(self, image: Image) -> bool:
        """On the node (an image with a planned pull failure never is: see faults.py)."""
        return image.digest in self.present and self.planned(image.ref) is None

    def remove(self, ref: str) -> bool:
        """Forget a pulled image, as `crictl rmi` or image GC would; False if absent."""
        image = self.catalog.find(ref)
        removed = image is not None and self.present.pop(image.digest, None) is not None
        if removed:
            self.changed()
        return removed

    async def unpacked(self, image: Image) -> NodeImage:
        """The image's layer without a pull (the pause image, which the node always has)."""
        if image.digest not in self.present:
            self.present[image.digest] = await asyncio.to_thread(self._unpack, image)
            self.changed()
        return self.present[image.digest]

    def _unpack(self, image: Image) -> NodeImage:
        if os.geteuid() != 0:
            # Without root containers are plain processes on the host's / (runtime.py):
            # there is no layer to make (whiteouts and overlay xattrs need root anyway).
            return NodeImage(image, Layer((), (), 0), image.size or 0)
        base = self.folder / f"base-{image.base}"
        with self._base_lock:  # unpacks run in worker threads; each base is made once
            if base not in self._bases:
                unpack_base(image.base, base)
                self._bases.add(base)
        name = image.digest.removeprefix("sha256:")[:24]
        layer = unpack(image, self.folder / name, base)
        size = image.size
        if size is None:
            size = sum(compressed_size(lower) for lower in layer.lowers)
        return NodeImage(image, layer, size)

    async def pull(self, ref: str, secrets: list[Obj]) -> tuple[NodeImage, float]:
        """Pull `ref` (even if present: the policy is the caller's); the seconds it took."""
        started = time.monotonic()
        image = self.catalog.find(ref)
        if (planned := self.planned(ref)) is not None:
            await asyncio.sleep(self.model.latency)
            raise PullError("ErrImagePull", planned)
        if image is None:
            await asyncio.sleep(self.model.latency)
            raise PullError("ErrImagePull", not_found(self.catalog, ref))
        if not authorised(self.catalog, ref, secrets):
            await asyncio.sleep(self.model.latency)
            raise PullError("ErrImagePull", unauthorized(ref))
        if self.has(image):
            # Already on the node (imagePullPolicy Always): only the manifest is fetched.
            await asyncio.sleep(self.model.latency)
            return self.present[image.digest], time.monotonic() - started
        # containerd fetches each blob once, however many pods ask for it at the same time.
        pending = self._pulling.get(image.digest)
        if pending is None:
            pending = asyncio.ensure_future(self._transfer(image))
            self._pulling[image.digest] = pending
            pending.add_done_callback(lambda _: self._pulling.pop(image.digest, None))
        pulled = await asyncio.shield(pending)
        return pulled, time.monotonic() - started

    async def _transfer(self, image: Image) -> NodeImage:
        started = time.monotonic()
        pulled = await asyncio.to_thread(self._unpack, image)
        remaining = self.model.seconds(pulled.size) - (time.monotonic() - started)
        if remaining > 0:
            await asyncio.sleep(remaining)
        self.present[image.digest] = pulled
        self.changed()
        return pulled


def go_duration(seconds: float) -> str:
    """Go's time.Duration.String for a duration truncated to milliseconds (1.234s, 512ms)."""
    millis = int(seconds * 1000)
    if millis < 1000:
        return f"{millis}ms"
    minutes, rest = divmod(millis, 60_000)
    text = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    return f"{minutes}m{text}" if minutes else text


@dataclass
class Backoff:
    """flowcontrol.Backoff per (pod, image): in back-off until `until`, doubling each failure."""

    model: PullModel
    entries: dict[str, tuple[float, float]] = field(default_factory=dict)

    def failed(self, key: str) -> float:
        """Record a failure; the seconds until the next attempt."""
        _, previous = self.entries.get(key, (0.0, 0.0))
        delay = self.model.backoff if not previous else min(previous * 2, self.model.max_backoff)
        self.entries[key] = (time.monotonic() + delay, delay)
        return delay

    def remaining(self, key: str) -> float:
        until, _ = self.entries.get(key, (0.0, 0.0))
        return max(0.0, until - time.monotonic())

    def forget(self, key: str) -> None:
        self.entries.pop(key, None)
