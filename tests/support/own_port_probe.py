"""An exec probe for pods on kubesim's shared host network: GET a path on whichever port the
container's own server took, so two replicas can each listen on a free one (port 0).

kubesim's pods share the host's network (kubesim/README.md), so the replicas of one Deployment
cannot all listen on the port its httpGet probes name. `on_own_ports` turns those probes into
`python own_port_probe.py <path>`, which the kubelet runs inside the container: it finds the TCP
ports the container's processes listen on (their socket inodes in /proc/<pid>/fd, looked up in
/proc/net/tcp and tcp6) and succeeds when one answers the path as an httpGet probe must, with a
status from 200 to 399 (pkg/probe/http/http.go).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
# The bot's image in kubesim's catalog (jdebug:0.1.0) runs this checkout's venv, and sees the
# checkout at the same path.
PYTHON = REPO / ".venv" / "bin" / "python"
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def listening_ports() -> set[int]:
    """The ports this container's processes (this PID namespace) listen on."""
    inodes = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        inodes |= {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def answers(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return 200 <= int(response.status) < 400
    except (urllib.error.URLError, OSError):
        return False


def on_own_ports(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`docs` with every Deployment container's httpGet probes turned into this probe, for
    the same path and with the same timing."""
    for doc in docs:
        if doc.get("kind") != "Deployment":
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for key in PROBES:
                probe = container.get(key)
                if probe and "httpGet" in probe:
                    path = str(probe.pop("httpGet").get("path") or "/")
                    probe["exec"] = {"command": [str(PYTHON), str(Path(__file__).resolve()), path]}
    return docs


if __name__ == "__main__":
    wanted = sys.argv[1] if len(sys.argv) > 1 else "/"
    sys.exit(0 if any(answers(port, wanted) for port in listening_ports()) else 1)
