"""JDK 25's own `jfr` tool as the oracle for our JFR reader: summaries, JSON, views.

Expected values in the JFR tests come from here (or from reading files by hand), never from
the reader under test. Times in `jfr print --json` are ISO-8601 text; `instant_ns` and
`duration_ns` turn them into the integers our reader gives.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.jvms import jdk_home

_INSTANT = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")
_DURATION = re.compile(r"PT(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?)(\d+)(?:\.(\d{1,9}))?S)?")
_SUMMARY_ROW = re.compile(r"\s*(\S+)\s+(\d+)\s+(\d+)\s*")


def jfr(*args: str, timeout: float = 300) -> str:
    """Run JDK 25's `jfr` with `args`; its stdout."""
    return subprocess.run(
        [str(jdk_home(25) / "bin" / "jfr"), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    ).stdout


def summary_counts(path: Path) -> dict[str, int]:
    """`jfr summary`'s event counts, types with no events left out."""
    counts = {}
    for line in jfr("summary", str(path)).splitlines():
        if (row := _SUMMARY_ROW.fullmatch(line)) and int(row.group(2)):
            counts[row.group(1)] = int(row.group(2))
    return counts


def summary_chunks(path: Path) -> int:
    found = re.search(r"^\s*Chunks:\s+(\d+)", jfr("summary", str(path)), re.M)
    assert found, "jfr summary printed no chunk count"
    return int(found.group(1))


def print_json(path: Path, events: str) -> list[dict[str, Any]]:
    """`jfr print --json` of the named event types (comma-separated), stacks in full."""
    text = jfr("print", "--json", "--stack-depth", "4096", "--events", events, str(path))
    return list(json.loads(text)["recording"]["events"])


def values_of(events: list[dict[str, Any]], type_name: str) -> list[dict[str, Any]]:
    return [e["values"] for e in events if e["type"] == type_name]


def view_rows(path: Path, view: str) -> list[list[str]]:
    """The table `jfr view VIEW` prints, cut into cells by its `---- ----` ruler line."""
    lines = jfr("view", "--width", "600", view, str(path)).splitlines()
    rulers = [i for i, line in enumerate(lines) if re.fullmatch(r"-+( -+)*", line.strip())]
    if not rulers:
        return []
    spans = [m.span() for m in re.finditer(r"-+", lines[rulers[0]])]
    rows = []
    for line in lines[rulers[0] + 1 :]:
        if not line.strip():
            break
        rows.append(
            [line[a : b if i < len(spans) - 1 else None].strip() for i, (a, b) in enumerate(spans)]
        )
    return rows


def hot_methods(path: Path) -> list[tuple[str, int]]:
    """`jfr view hot-methods` rows: (method as jfr prints it, samples)."""
    return [(row[0], int(row[1].replace(",", ""))) for row in view_rows(path, "hot-methods")]


def instant_ns(text: str) -> int:
    """`2025-12-22T16:10:17.740888417+01:00` -> ns since the epoch."""
    found = _INSTANT.fullmatch(text)
    assert found, f"not an instant: {text}"
    whole = datetime.fromisoformat(found.group(1) + found.group(3).replace("Z", "+00:00"))
    return int(whole.timestamp()) * 10**9 + int((found.group(2) or "").ljust(9, "0"))


def duration_ns(text: str) -> int:
    """`PT0.101720667S`, `PT1M2.5S`, `PT-0.5S` -> ns."""
    found = _DURATION.fullmatch(text)
    assert found, f"not a duration: {text}"
    hours, minutes, minus, seconds, fraction = found.groups()
    nanos = int(seconds or 0) * 10**9 + int((fraction or "").ljust(9, "0"))
    return (int(hours or 0) * 3600 + int(minutes or 0) * 60) * 10**9 + (-nanos if minus else nanos)


def json_frames(stack: dict[str, Any] | None) -> tuple[tuple[object, ...], ...] | None:
    """A JSON stack trace as (class, method, descriptor, line, bci, type) tuples, top first."""
    if stack is None:
        return None
    return tuple(
        (
            frame["method"]["type"]["name"].replace("/", "."),
            frame["method"]["name"],
            frame["method"]["descriptor"],
            frame["lineNumber"],
            frame["bytecodeIndex"],
            frame["type"],
        )
        for frame in stack["frames"]
    )
