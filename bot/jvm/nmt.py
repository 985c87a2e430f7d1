"""Parse and summarise `VM.native_memory summary`: committed memory by NMT category.

The answer people need is "what is the JVM's memory made of, and how close is it to the
container's limit". Category names are kept exactly as the JVM prints them (JDK 11, 17, 21
and 25 each have their own set), and categories this parser has never seen are kept too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.jvm.jcmd_output import content_lines, unrecognised_note
from bot.jvm.units import format_bytes
from bot.model.results import Analysis

# The unit suffixes NMT prints; `scale=1` prints plain byte counts without one.
_UNIT_BYTES = {"": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
_UNIT_NAMES = {"": "B", "KB": "KiB", "MB": "MiB", "GB": "GiB"}

_AMOUNT = r"\d+(?:KB|MB|GB)?"
_TOTAL = re.compile(
    rf"Total: reserved=(?P<reserved>{_AMOUNT}), committed=(?P<committed>{_AMOUNT}).*"
)
# `-                 Java Heap (reserved=65536KB, committed=65536KB)`
_CATEGORY = re.compile(
    rf"-\s*(?P<name>\S.*?)\s+\(reserved=(?P<reserved>{_AMOUNT}), "
    rf"committed=(?P<committed>{_AMOUNT})\)"
)
# Detail lines inside a category: `(threads #20)` (JDK 21+) or `(thread #19)`, `(classes #855)`.
_THREADS = re.compile(r"\(threads? #(?P<count>\d+)\)")
_CLASSES = re.compile(r"\(classes #(?P<count>\d+)\)")
# Lines that carry nothing the summary uses: headers, the malloc/mmap split under Total.
_KNOWN_NOISE = re.compile(
    r"Native Memory Tracking:|\(Omitting categories weighting less than .*\)"
    r"|malloc: .*|mmap: .*"
)
_AMOUNT_PARTS = re.compile(r"(?P<value>\d+)(?P<unit>KB|MB|GB)?")

# What the JVM answers instead of a summary, and the one sentence we give for each.
# nmtDCmd.cpp (openjdk/jdk, src/hotspot/share/nmt/nmtDCmd.cpp) prints the first for a JVM
# started without NMT; JDK 11–17's prints the second once `VM.native_memory shutdown` ran.
_RESTART = (
    "start the JVM with -XX:NativeMemoryTracking=summary to see its native memory by "
    "category (the flag takes effect only at startup, so the JVM needs a restart)."
)
_NOT_RUNNING = {
    "Native memory tracking is not enabled": (
        f"Native memory tracking is off in this JVM: {_RESTART}"
    ),
    "Native memory tracking has been shutdown": (
        f"Native memory tracking was shut down in this JVM: {_RESTART}"
    ),
}
_BAD_SCALE = re.compile(r"Incorrect scale value: (?P<scale>.*)")

_LIMIT_WARNING = 0.9
_SMALL_SHARE = 0.01
_TRUNCATION_SHARE = 0.02
_TRUNCATION_UNITS = 4


@dataclass(frozen=True)
class NmtCategory:
    """One `- Name (reserved=..., committed=...)` block; `count` is its threads or classes."""

    name: str
    reserved_bytes: int
    committed_bytes: int
    count: int | None = None


@dataclass(frozen=True)
class NmtSummary:
    """Everything recognised in one `VM.native_memory summary` output.

    `unit` is the suffix NMT printed (`KB`, `MB`, `GB`, or `` for bytes); every amount was
    rounded to it by the JVM. `refusal` is the JVM's own sentence when it gave no summary.
    """

    unit: str | None
    reserved_bytes: int | None
    committed_bytes: int | None
    categories: tuple[NmtCategory, ...]
    refusal: str | None = None
    unrecognised: tuple[str, ...] = ()


def _amount(text: str) -> tuple[int, str]:
    """`65536KB` -> (bytes, unit)."""
    match = _AMOUNT_PARTS.fullmatch(text)
    if match is None:  # the callers' patterns only pass amounts; kept total for safety
        return 0, ""
    unit = match.group("unit") or ""
    return int(match.group("value")) * _UNIT_BYTES[unit], unit


def parse_nmt_summary(text: str) -> NmtSummary:
    """Parse `VM.native_memory summary` of any JDK 11+ HotSpot; never raises."""
    unit: str | None = None
    reserved: int | None = None
    committed: int | None = None
    categories: list[NmtCategory] = []
    unrecognised: list[str] = []

    for line in content_lines(text):
        if line in _NOT_RUNNING or _BAD_SCALE.fullmatch(line):
            return NmtSummary(None, None, None, (), refusal=line)
        if match := _TOTAL.fullmatch(line):
            reserved, unit = _amount(match.group("reserved"))
            committed, _ = _amount(match.group("committed"))
        elif match := _CATEGORY.fullmatch(line):
            category_reserved, category_unit = _amount(match.group("reserved"))
            unit = unit if unit is not None else category_unit
            categories.append(
                NmtCategory(
                    match.group("name"), category_reserved, _amount(match.group("committed"))[0]
                )
            )
        elif line.startswith("(") and line.endswith(")") and categories:
            count = _THREADS.fullmatch(line) or _CLASSES.fullmatch(line)
            if count is not None:
                last = categories[-1]
                categories[-1] = NmtCategory(
                    last.name, last.reserved_bytes, last.committed_bytes, int(count.group("count"))
                )
        elif not _KNOWN_NOISE.fullmatch(line):
            unrecognised.append(line)
    return NmtSummary(unit, reserved, committed, tuple(categories), None, tuple(unrecognised))


def _percent(part: int, whole: int) -> int:
    return round(100 * part / whole)


def _shown(count: int, unit: str) -> str:
    """An amount as read. NMT rounds to the nearest unit (`amount_in_scale` in openjdk/jdk
    src/hotspot/share/nmt/nmtCommon.hpp), so a 0 there means under half of one."""
    if count == 0 and unit in ("KB", "MB", "GB"):
        return f"under 0.5 {_UNIT_NAMES[unit]}"
    return format_bytes(count)


def _category_line(category: NmtCategory, unit: str) -> str:
    line = f"{category.name}: {_shown(category.committed_bytes, unit)} committed"
    if category.reserved_bytes > category.committed_bytes:
        line += f", {_shown(category.reserved_bytes, unit)} reserved"
        if category.name == "Java Heap":
            line += " (the heap's maximum)"
    if category.count is not None:
        what = "threads" if category.name == "Thread" else "classes"
        line += f" ({category.count} {what})"
    return line


def _limit_findings(summary: NmtSummary, committed: int, limit: int) -> list[str]:
    findings: list[str] = []
    share = committed / limit
    if share >= _LIMIT_WARNING:
        where = "over" if share > 1 else "close to"
        findings.append(
            f"Committed memory is {where} the container's limit ({_percent(committed, limit)}%): "
            "the kernel kills the container when its memory reaches the limit, and the real "
            "use is higher than NMT's total (memory that native libraries allocate themselves "
            "is not tracked)"
        )
    heap = next((c for c in summary.categories if c.name == "Java Heap"), None)
    if heap is not None and heap.reserved_bytes > heap.committed_bytes:
        at_max = committed - heap.committed_bytes + heap.reserved_bytes
        line = (
            f"If the heap grows to its maximum of {format_bytes(heap.reserved_bytes)}, the "
            f"JVM commits about {format_bytes(at_max)} = {_percent(at_max, limit)}% of the limit"
        )
        if at_max > limit:
            line += ": lower -Xmx (or MaxRAMPercentage) or raise the container's memory limit"
        findings.append(line)
    return findings


def _refusal_analysis(refusal: str) -> Analysis:
    if refusal in _NOT_RUNNING:
        return Analysis(_NOT_RUNNING[refusal])
    scale = _BAD_SCALE.fullmatch(refusal)
    shown = scale.group("scale") if scale else refusal
    return Analysis(f"The JVM refused scale={shown}: use scale=KB, MB or GB.")


def _reading_notes(summary: NmtSummary, committed: int, scale: str) -> list[str]:
    """What the reader should know about the output itself: its rounding, a scale other than
    the one asked for, and categories that do not add up to the total (a cut-off output)."""
    notes: list[str] = []
    unit = summary.unit or ""
    asked = scale.strip().upper()
    if summary.unit is not None and asked in ("KB", "MB", "GB") and asked != unit:
        notes.append(f"scale={asked} was asked for but the output is in {unit or 'bytes'}.")
    if unit in ("MB", "GB"):
        notes.append(
            f"The JVM rounds every amount to the nearest {_UNIT_NAMES[unit]} at scale={unit} "
            "and leaves out smaller categories; scale=KB shows them all."
        )
    listed = sum(c.committed_bytes for c in summary.categories)
    slack = max(committed * _TRUNCATION_SHARE, _TRUNCATION_UNITS * _UNIT_BYTES[unit])
    if summary.committed_bytes is not None and committed - listed > slack:
        notes.append(
            f"The categories add up to {format_bytes(listed)} of the {format_bytes(committed)} "
            "total: the output looks truncated."
        )
    return notes


def _headline(ordered: list[NmtCategory], committed: int, unit: str, limit: int | None) -> str:
    headline = f"Native memory: {_shown(committed, unit)} committed"
    if limit is not None and committed > 0:
        headline += (
            f" = {_percent(committed, limit)}% of the container's {format_bytes(limit)} limit"
        )
    elif limit is not None:
        headline += f" (the container's limit is {format_bytes(limit)})"
    largest = [c for c in ordered[:3] if c.committed_bytes > 0]
    if largest:
        headline += "; largest " + ", ".join(
            f"{c.name} {format_bytes(c.committed_bytes)}" for c in largest
        )
    return headline


def summarise_nmt(text: str, *, scale: str, memory_limit_bytes: int | None) -> Analysis:
    """Headline: total committed (against the container's limit when given) and the largest
    categories; findings: each category, largest first, and what the limit means."""
    summary = parse_nmt_summary(text)
    if summary.refusal is not None:
        return _refusal_analysis(summary.refusal)

    notes: list[str] = []
    if summary.unrecognised:
        notes.append(unrecognised_note(summary.unrecognised))
    committed = summary.committed_bytes
    if committed is None or summary.reserved_bytes is None:
        notes.append("No `Total:` line was found: is this VM.native_memory summary output?")
        if not summary.categories:
            return Analysis("Native memory summary not found in the output", (), tuple(notes))
        committed = sum(c.committed_bytes for c in summary.categories)
    notes += _reading_notes(summary, committed, scale)

    unit = summary.unit or ""
    limit = (
        memory_limit_bytes if memory_limit_bytes is not None and memory_limit_bytes > 0 else None
    )
    ordered = sorted(summary.categories, key=lambda c: -c.committed_bytes)
    findings = _limit_findings(summary, committed, limit) if limit is not None else []
    small = [c for c in ordered if committed and c.committed_bytes < committed * _SMALL_SHARE]
    findings += [_category_line(c, unit) for c in ordered if c not in small]
    if small:
        findings.append(
            "Under 1% each: "
            + ", ".join(f"{c.name} {_shown(c.committed_bytes, unit)}" for c in small)
        )
    if summary.reserved_bytes is not None and summary.reserved_bytes > committed:
        findings.append(
            f"{format_bytes(summary.reserved_bytes)} is reserved in all: address space set "
            "aside (class space, code cache, the heap's maximum), of which only the committed "
            "part uses memory and counts against a limit"
        )
    return Analysis(_headline(ordered, committed, unit, limit), tuple(findings), tuple(notes))
