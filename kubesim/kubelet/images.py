"""The image catalog: what a container started from an image reference runs and can see.

There is no registry: `images.yaml` maps references to a base userland (debian, distroless,
busybox, scratch), a JDK/JRE from the jdk cache, host tools and files (with the shared
libraries they need), a default user, entrypoint/cmd, env, its compressed size (what a pull
costs) and host folders the image sees. Registries can be declared as needing credentials.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CATALOG = Path(__file__).with_name("images.yaml")
# What a JRE's bin/ holds; everything else (jcmd, jps, jstack, jinfo, jmap, jstat...) is JDK-only.
JRE_BIN = frozenset({"java", "keytool", "rmiregistry", "rmid", "jfr", "jrunscript", "jjs"})
BASES = ("debian", "distroless", "busybox", "scratch")
# Docker Hub's registry, as image references name it (github.com/distribution/reference).
DOCKER_HUB = "docker.io"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Where debian-based images see the host's userland (through an overlay the image can hide
# things in); everything else in such an image comes from its own layer.
HOST_USERLAND = ("usr", "etc")


def jdk_cache() -> Path:
    return Path(os.environ.get("JDEBUG_CACHE", Path.home() / ".cache" / "jdebug")) / "jdk"


def python_home(venv: Path = REPO / ".venv") -> Path:
    """The Python installation the checkout's venv was made from (its stdlib and libpython)."""
    try:
        lines = (venv / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return Path(sys.base_prefix)
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return Path(value.strip()).resolve().parent
    return Path(sys.base_prefix)


def expand(text: str) -> str:
    """`{repo}`, `{cache}` and `{python}` in catalog values (no other braces are special)."""
    for key, value in (
        ("{repo}", REPO),
        ("{cache}", jdk_cache().parent),
        ("{python}", python_home()),
    ):
        text = text.replace(key, str(value))
    return text


@dataclass(frozen=True)
class Runtime:
    kind: str  # "jdk" or "jre"
    version: int
    path: str

    @property
    def source(self) -> Path:
        return jdk_cache() / str(self.version)

    def binaries(self) -> list[Path]:
        """The runtime's own programs this image has (a JRE lacks jcmd, jps...)."""
        folder = self.source / "bin"
        if not folder.is_dir():
            return []
        return [p for p in sorted(folder.iterdir()) if self.kind == "jdk" or p.name in JRE_BIN]


@dataclass(frozen=True)
class Image:
    ref: str
    user: int
    group: int
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    runtime: Runtime | None = None
    # (destination in the image, host source) copied into the image's layer.
    files: tuple[tuple[str, Path], ...] = ()
    # Host programs the image carries at their host path, found on the host's PATH.
    tools: tuple[str, ...] = ()
    # Host folders visible at the same path and readable by any uid (the bot's own image).
    host_paths: tuple[Path, ...] = ()
    base: str = "debian"
    # Compressed bytes a pull transfers; None: the size of the image's own layer, measured.
    size: int | None = None
    workdir: str = ""

    def environment(self) -> dict[str, str]:
        dirs = [f"{self.runtime.path}/bin"] if self.runtime else []
        env = {"PATH": ":".join([*dirs, DEFAULT_PATH])}
        if self.runtime:
            env["JAVA_HOME"] = self.runtime.path
        env.update(dict(self.env))
        return env

    @property
    def digest(self) -> str:
        """A content digest standing in for the registry's manifest digest (stable for an
        unchanged catalog entry, different for any change)."""
        described = json.dumps(
            [self.base, self.runtime and vars(self.runtime), self.files, self.tools, self.cmd],
            default=str,
        )
        return "sha256:" + hashlib.sha256(f"{self.ref}\n{described}".encode()).hexdigest()

    @property
    def image_id(self) -> str:
        """What the kubelet reports as `imageID`: the repository by digest, as containerd does."""
        return f"{repository(self.ref)}@{self.digest}"


def split(ref: str) -> tuple[str, str, str]:
    """(registry host, path, tag or @digest) of a reference, Docker Hub's defaults applied."""
    name, digest = ref, ""
    if "@" in ref:
        name, digest = ref.split("@", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name
    if host in ("registry.hub.docker.com", "index.docker.io", "registry-1.docker.io"):
        host = DOCKER_HUB
    last = path.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if digest:
        return host, path, "@" + digest
    return host, path, tag or "latest"


def repository(ref: str) -> str:
    host, path, _ = split(ref)
    return f"{host}/{path}"


def qualified(ref: str) -> str:
    """The fully qualified reference containerd reports, e.g. docker.io/library/x:1."""
    host, path, tag = split(ref)
    return f"{host}/{path}{tag if tag.startswith('@') else ':' + tag}"


def normalise(ref: str) -> str:
    """`docker.io/library/openjdk:11` and `openjdk:11` are the same image; no tag means latest."""
    return qualified(ref)


class ImageCatalogError(ValueError):
    """The catalog file cannot be read or an entry is malformed."""


def _tools(ref: str, raw: Any) -> tuple[str, ...]:
    tools = tuple(str(t) for t in raw or ())
    if missing := [t for t in tools if shutil.which(t) is None]:
        raise ImageCatalogError(
            f"image {ref!r}: tools {missing} are not installed on this machine; "
            "run `make bootstrap` (scripts/bootstrap.sh installs them)"
        )
    return tools


def _size(ref: str, raw: Any) -> int | None:
    if raw in (None, "auto"):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ImageCatalogError(f"image {ref!r}: size must be bytes or `auto`") from None


def _image(ref: str, raw: Any) -> Image:
    if not isinstance(raw, dict):
        raise ImageCatalogError(f"image {ref!r}: expected a mapping, got {type(raw).__name__}")
    base = str(raw.get("base", "debian"))
    if base not in BASES:
        raise ImageCatalogError(f"image {ref!r}: base must be one of {', '.join(BASES)}")
    runtime = None
    if rt := raw.get("runtime"):
        runtime = Runtime(str(rt.get("kind", "jdk")), int(rt["version"]), str(rt["path"]))
        if not runtime.path.startswith("/"):
            raise ImageCatalogError(f"image {ref!r}: runtime path must be absolute")
        if runtime.kind not in ("jdk", "jre"):
            raise ImageCatalogError(f"image {ref!r}: runtime kind must be jdk or jre")
    files = []
    for dest, src in dict(raw.get("files") or {}).items():
        if not str(dest).startswith("/"):
            raise ImageCatalogError(f"image {ref!r}: file destinations must be absolute")
        files.append((str(dest), Path(expand(str(src)))))
    host_paths = tuple(Path(expand(str(p))) for p in raw.get("host_paths") or ())
    if relative := [str(p) for p in host_paths if not p.is_absolute() or p == Path("/")]:
        raise ImageCatalogError(f"image {ref!r}: host_paths must be absolute folders: {relative}")
    user = int(raw.get("user", 0))
    return Image(
        ref=ref,
        user=user,
        group=int(raw.get("group", user)),
        entrypoint=tuple(expand(str(a)) for a in raw.get("entrypoint") or ()),
        cmd=tuple(expand(str(a)) for a in raw.get("cmd") or ()),
        env=tuple((str(k), expand(str(v))) for k, v in dict(raw.get("env") or {}).items()),
        runtime=runtime,
        files=tuple(files),
        tools=_tools(ref, raw.get("tools")),
        host_paths=host_paths,
        base=base,
        size=_size(ref, raw.get("size")),
        workdir=str(raw.get("workdir") or ""),
    )


@dataclass(frozen=True)
class Registry:
    """A registry that refuses anonymous pulls, and the one login it accepts."""

    host: str
    username: str
    password: str


@dataclass(frozen=True)
class Catalog:
    images: dict[str, Image]
    registries: dict[str, Registry] = field(default_factory=dict)

    def find(self, ref: str) -> Image | None:
        """The image a reference names: by tag, or by the digest its `imageID` carries."""
        try:
            key = normalise(ref)
        except ValueError:
            return None
        if "@" in key:
            return next((i for i in self.images.values() if i.image_id == key), None)
        return self.images.get(key)

    def registry(self, ref: str) -> Registry | None:
        return self.registries.get(split(ref)[0])


def _registries(raw: Any) -> dict[str, Registry]:
    found = {}
    for host, login in dict(raw or {}).items():
        if not isinstance(login, dict) or "username" not in login or "password" not in login:
            raise ImageCatalogError(f"registry {host!r}: give its username and password")
        found[str(host)] = Registry(str(host), str(login["username"]), str(login["password"]))
    return found


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ImageCatalogError(f"cannot read image catalog {path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), dict):
        raise ImageCatalogError(f"{path}: expected a mapping with an `images:` mapping")
    images = {normalise(str(ref)): _image(str(ref), raw) for ref, raw in doc["images"].items()}
    return Catalog(images, _registries(doc.get("registries")))
