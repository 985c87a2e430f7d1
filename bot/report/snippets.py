"""Names and titles for the raw outputs a user gets as snippets (Slack files or terminal).

One naming rule for every frontend: `threaddump-cowweb-20261129T131500Z.txt`, with `-2`,
`-3`… for repeated dumps, so files from one incident sort together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.model.results import Result

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Snippet:
    """One file for the user: a raw output (text) or a file an analyser made (bytes, e.g. a
    flame graph PNG)."""

    filename: str
    title: str
    text: str | bytes


def target_slug(result: Result) -> str:
    """A short file-name-safe name for the target: the pod, else the JVM's main class/jar."""
    target = result.request.target
    name = (
        target.pod
        or target.deploy
        or (
            result.target.split()[2]
            if result.target.startswith("pid ") and len(result.target.split()) > 2
            else "jvm"
        )
    )
    return _UNSAFE.sub("_", name).strip("_")[:60] or "jvm"


def snippets(result: Result, when: datetime | None = None) -> list[Snippet]:
    """One snippet per step of the raw output, then the analysis' attachments, named for the
    tool, target and time."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = f"{result.request.tool}-{target_slug(result)}-{stamp}"
    steps = result.raw.steps
    out = []
    for i, step in enumerate(steps, start=1):
        suffix = f"-{i}" if len(steps) > 1 else ""
        title = f"{step.name} · {result.target}"
        out.append(Snippet(f"{base}{suffix}.txt", title, step.text))
    for attachment in result.analysis.attachments:
        out.append(Snippet(f"{base}-{attachment.name}", attachment.title, attachment.data))
    return out
