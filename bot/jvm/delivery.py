"""How the agent reaches a container without living in its spec: a small fixed bootstrap as
the container's command, and the agent, its attach helper and its argv on stdin.

An ephemeral container stays in the pod spec forever, so its `command` must be small and the
same for every request (the pod would otherwise grow by the agent's ~10 KB each time, until
etcd refuses it). The bootstrap only reads, from stdin (`pods/attach`), `SIZE\\n` and that
many bytes: a second stage (`stdin_reader.sh`, jdebug's own fixed code), which it sources to
read the attach helpers, the agent and its argv (that file's header has the format) into a
private folder in the container's /tmp; then it runs the agent. Sizes are read with the
shell's `read` and bytes with `dd bs=1`, so no tool reads past its part (`head -c` of busybox
reads ahead from a pipe). What the request brings is data (sizes, bytes, words); nothing of
it is evaluated as shell text. A watchdog ends the bootstrap when nothing arrives, so a
container nobody attached to exits by itself.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path

from bot.jvm.agent import AGENT_SCRIPT, AgentCall

# Seconds the bootstrap waits for its stdin before it gives up (the agent then bounds itself).
WATCHDOG_S = 30

# The watchdog is a subshell around a `sleep`: once stdin has arrived the bootstrap kills the
# sleep, the subshell sees the flag file and ends, and the final `wait` reaps both, so nothing
# outlives the bootstrap (an orphan in the JVM's PID namespace would never be reaped). When
# stdin ends early the second stage is empty and the agent missing: the bootstrap still gets
# to the end, and exits 2 (sh cannot open the agent).
BOOTSTRAP = (
    "d=/tmp/.jdebug$$;mkdir -m700 $d||exit 9;"
    "(sleep WATCHDOG&echo $!>$d/p;wait;[ -e $d/k ]||kill $$)>/dev/null 2>&1&"
    "read n;dd bs=1 count=${n:-0} of=$d/s 2>/dev/null;. $d/s;"
    ":>$d/k;until [ -s $d/p ];do sleep 0;done;kill $(cat $d/p);wait;"
    'PATH=$d:$PATH sh $d/a "$@";r=$?;rm -rf $d;exit $r'
).replace("WATCHDOG", str(WATCHDOG_S))
STDIN_READER = files("bot.jvm").joinpath("stdin_reader.sh").read_bytes()

# What `uname -m` prints for each architecture a node may have.
_UNAME = {"amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def bootstrap_argv() -> list[str]:
    """The container's command: the same few hundred bytes for every request."""
    return ["/bin/sh", "-c", BOOTSTRAP]


def stdin_payload(call: AgentCall, helpers: Mapping[str, bytes]) -> bytes:
    """What the bootstrap reads: its second stage, then the helpers by architecture, the
    agent, and the agent's argv."""
    args = call.args
    for word in args:
        if "\n" in word or "\r" in word:
            raise ValueError("an agent argument holds a line break")
    parts = [f"{len(STDIN_READER)}\n".encode(), STDIN_READER, f"{len(helpers)}\n".encode()]
    for arch, binary in helpers.items():
        parts += [f"{arch} {len(binary)}\n".encode(), binary]
    agent = AGENT_SCRIPT.encode()
    parts += [f"{len(agent)}\n".encode(), agent, f"{len(args)}\n".encode()]
    parts += [f"{word}\n".encode() for word in args]
    return b"".join(parts)


@cache
def attach_helpers(folder: str | None = None) -> dict[str, bytes]:
    """The static attach helpers jdebug carries, by `uname -m` name: `jdebug-attach-<arch>`
    files in `folder` (the bot image's), or the one `make bootstrap` built for this machine."""
    found: dict[str, bytes] = {}
    where = Path(folder) if folder else None
    if where is not None and where.is_dir():
        for path in sorted(where.glob("jdebug-attach-*")):
            arch = _UNAME.get(path.name.removeprefix("jdebug-attach-"))
            if arch:
                found[arch] = path.read_bytes()
    built = Path(__file__).resolve().parents[2] / "build" / "native" / "jdebug-attach"
    here = _UNAME.get(platform.machine())
    if not found and here and built.is_file() and os.access(built, os.X_OK):
        found[here] = built.read_bytes()
    return found
