"""Parse `GC.class_histogram`: instances and bytes per class, and the JVM's own totals.

The summary names the classes holding the most heap, with JVM descriptors such as `[B`
turned into `byte[]`. When the `Total` line is missing (truncated output) the totals are
the sums of the rows read, and a note says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.jvm.units import format_bytes
from bot.model.request import Options
from bot.model.results import Analysis

# `   1:          7530         459664  [B (java.base@25.0.2)`; classes of the unnamed
# module (the application's own) have no `(module)` suffix.
_ROW = re.compile(
    r"\s*(?P<rank>\d+):\s+(?P<instances>\d+)\s+(?P<bytes>\d+)\s+(?P<cls>\S+)"
    r"(?:\s+\((?P<module>[^()]*)\))?\s*"
)
_TOTAL = re.compile(r"\s*Total\s+(?P<instances>\d+)\s+(?P<bytes>\d+)\s*")
_HEADER = re.compile(r"\s*num\s+#instances\s+#bytes\s+class name.*|-{3,}")

# JVM descriptor letters of the primitive types (JVMS §4.3.2).
PRIMITIVE_DESCRIPTORS = {
    "B": "byte",
    "C": "char",
    "D": "double",
    "F": "float",
    "I": "int",
    "J": "long",
    "S": "short",
    "Z": "boolean",
}


def readable_class_name(name: str) -> str:
    """`[B` -> `byte[]`, `[[Ljava.lang.String;` -> `java.lang.String[][]`; others unchanged."""
    dims = len(name) - len(name.lstrip("["))
    if dims == 0:
        return name
    element = name[dims:]
    if element in PRIMITIVE_DESCRIPTORS:
        base = PRIMITIVE_DESCRIPTORS[element]
    elif element.startswith("L") and element.endswith(";") and len(element) > 2:
        base = element[1:-1]
    else:
        return name
    return base + "[]" * dims


@dataclass(frozen=True)
class HistogramRow:
    """One class: its rank as printed, live instances and shallow bytes."""

    rank: int
    instances: int
    bytes: int
    class_name: str
    module: str | None = None


@dataclass(frozen=True)
class ClassHistogram:
    """All rows read, and the totals; `total_reported` is False if they are our own sums."""

    rows: tuple[HistogramRow, ...]
    total_instances: int
    total_bytes: int
    total_reported: bool
    unrecognised: tuple[str, ...] = ()

    def top(self, count: int) -> tuple[HistogramRow, ...]:
        """The `count` rows with the most bytes, largest first."""
        return tuple(sorted(self.rows, key=lambda r: (-r.bytes, r.rank))[: max(count, 0)])


def parse_class_histogram(text: str) -> ClassHistogram:
    """Parse `GC.class_histogram` output; never raises."""
    rows: list[HistogramRow] = []
    unrecognised: list[str] = []
    total: tuple[int, int] | None = None
    for raw in text.splitlines():
        if not raw.strip() or _HEADER.fullmatch(raw):
            continue
        if match := _ROW.fullmatch(raw):
            rows.append(
                HistogramRow(
                    int(match.group("rank")),
                    int(match.group("instances")),
                    int(match.group("bytes")),
                    match.group("cls"),
                    match.group("module"),
                )
            )
        elif match := _TOTAL.fullmatch(raw):
            total = (int(match.group("instances")), int(match.group("bytes")))
        else:
            unrecognised.append(raw.strip())
    if total is None:
        return ClassHistogram(
            tuple(rows),
            sum(r.instances for r in rows),
            sum(r.bytes for r in rows),
            False,
            tuple(unrecognised),
        )
    return ClassHistogram(tuple(rows), total[0], total[1], True, tuple(unrecognised))


def summarise_histogram(texts: Sequence[str], options: Options) -> Analysis:
    """Headline: total bytes and instances; findings: the top `top` classes by bytes."""
    notes: list[str] = []
    if len(texts) > 1:
        notes.append(f"{len(texts)} outputs were given; this summarises the first.")
    histogram = parse_class_histogram(texts[0] if texts else "")
    if histogram.unrecognised:
        notes.append(
            f"{len(histogram.unrecognised)} line(s) were not recognised, "
            f"e.g. {histogram.unrecognised[0][:80]!r}."
        )
    if not histogram.rows:
        notes.append("No histogram rows were recognised: is this GC.class_histogram output?")
        return Analysis("No class histogram found in the output", (), tuple(notes))
    if not histogram.total_reported:
        notes.append(
            f"No Total line (the output looks truncated): totals are the sums of the "
            f"{len(histogram.rows)} rows read."
        )
    else:
        row_bytes = sum(r.bytes for r in histogram.rows)
        row_instances = sum(r.instances for r in histogram.rows)
        if (row_bytes, row_instances) != (histogram.total_bytes, histogram.total_instances):
            notes.append(
                f"The rows read add up to {row_bytes:,} bytes in {row_instances:,} "
                f"instances, but the Total line says {histogram.total_bytes:,} in "
                f"{histogram.total_instances:,}: some rows are missing."
            )

    scope = (
        "all objects including unreachable ones; no GC forced"
        if options.flag("all")
        else "live objects, after a full GC"
    )
    headline = (
        f"{format_bytes(histogram.total_bytes)} in "
        f"{histogram.total_instances:,} instances of {len(histogram.rows):,} classes "
        f"({scope})"
    )
    findings = []
    for place, row in enumerate(histogram.top(options.number("top", 20)), start=1):
        share = 100 * row.bytes / histogram.total_bytes if histogram.total_bytes else 0.0
        findings.append(
            f"{place}. {readable_class_name(row.class_name)}: "
            f"{format_bytes(row.bytes)} ({share:.1f}%), {row.instances:,} instances"
        )
    return Analysis(headline, tuple(findings), tuple(notes))
