"""The image catalog: what a container started from an image reference runs and can see.

There is no registry: `images.yaml` maps references to a JDK/JRE from the jdk cache, files,
a default user, entrypoint/cmd, env, extra tools and host folders the image sees (this checkout,
for the bot's own image). Unknown references fail like a pull.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CATALOG = Path(__file__).with_name("images.yaml")
# What a JRE's bin/ holds; everything else (jcmd, jps, jstack, jinfo, jmap, jstat...) is JDK-only.
JRE_BIN = frozenset({"java", "keytool", "rmiregistry", "rmid", "jfr", "jrunscript", "jjs"})
# Image content is mounted on fresh tmpfs over these host folders inside each container.
STAGING_ROOTS = ("/opt/", "/usr/local/")
KNOWN_TOOLS = {"jattach": Path("/usr/bin/jattach")}


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


@dataclass(frozen=True)
class Image:
    ref: str
    user: int
    group: int
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    runtime: Runtime | None = None
    files: tuple[tuple[str, Path], ...] = ()
    tools: tuple[str, ...] = ()
    # Host folders visible at the same path and readable by any uid, even below a 0700 parent.
    host_paths: tuple[Path, ...] = ()

    def environment(self) -> dict[str, str]:
        dirs = [f"{self.runtime.path}/bin"] if self.runtime else []
        dirs += ["/opt/tools"] if self.tools else []
        dirs += ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        env = {"PATH": ":".join(dirs)}
        if self.runtime:
            env["JAVA_HOME"] = self.runtime.path
        env.update(dict(self.env))
        return env


def normalise(ref: str) -> str:
    """`docker.io/library/openjdk:11` and `openjdk:11` are the same image; no tag means latest."""
    for prefix in ("registry.hub.docker.com/", "docker.io/", "index.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    ref = ref.removeprefix("library/")
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        ref += ":latest"
    return ref


class ImageCatalogError(ValueError):
    """The catalog file cannot be read or an entry is malformed."""


def _image(ref: str, raw: Any) -> Image:
    if not isinstance(raw, dict):
        raise ImageCatalogError(f"image {ref!r}: expected a mapping, got {type(raw).__name__}")
    runtime = None
    if rt := raw.get("runtime"):
        runtime = Runtime(str(rt.get("kind", "jdk")), int(rt["version"]), str(rt["path"]))
        if not runtime.path.startswith(STAGING_ROOTS):
            raise ImageCatalogError(f"image {ref!r}: runtime must go under {STAGING_ROOTS}")
        if runtime.kind not in ("jdk", "jre"):
            raise ImageCatalogError(f"image {ref!r}: runtime kind must be jdk or jre")
    files = []
    for dest, src in dict(raw.get("files") or {}).items():
        if not str(dest).startswith(STAGING_ROOTS):
            raise ImageCatalogError(f"image {ref!r}: files must go under {STAGING_ROOTS}")
        files.append((str(dest), Path(expand(str(src)))))
    tools = tuple(str(t) for t in raw.get("tools") or ())
    if unknown := [t for t in tools if t not in KNOWN_TOOLS]:
        raise ImageCatalogError(f"image {ref!r}: unknown tools {unknown}")
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
        tools=tools,
        host_paths=host_paths,
    )


@dataclass(frozen=True)
class Catalog:
    images: dict[str, Image]

    def find(self, ref: str) -> Image | None:
        return self.images.get(normalise(ref))


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ImageCatalogError(f"cannot read image catalog {path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), dict):
        raise ImageCatalogError(f"{path}: expected a mapping with an `images:` mapping")
    images = {normalise(str(ref)): _image(str(ref), raw) for ref, raw in doc["images"].items()}
    return Catalog(images)
