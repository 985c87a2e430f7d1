"""Parse `GC.heap_info`: heap use per generation or region set, and metaspace.

Every collector prints its own layout (Serial, Parallel, G1, ZGC, Shenandoah, Epsilon) and
JDK 25 changed several of them, so each known line shape has its own pattern; lines that
match none are counted in a note instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.jvm.units import format_bytes
from bot.model.request import Options
from bot.model.results import Analysis

_MULTIPLIER = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


# HotSpot prints sizes as `65536K`, `64M` or (JDK 25, Shenandoah) `256 K`.
_SIZE = r"\d+\s?[KMGT]?B?"
_SIZE_PARTS = re.compile(r"(\d+)\s?([KMGT]?)B?")


def _size(text: str | None) -> int | None:
    if text is None:
        return None
    match = _SIZE_PARTS.fullmatch(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * _MULTIPLIER[match.group(2)]


@dataclass(frozen=True)
class HeapArea:
    """One generation or whole-heap line, e.g. `tenured generation` or `garbage-first heap`.

    `total_bytes` is what HotSpot prints as total/capacity/committed; `details` are the
    sub-space lines (eden, survivors, regions) already put into words.
    """

    name: str
    used_bytes: int | None
    total_bytes: int | None
    max_bytes: int | None = None
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetaspaceUsage:
    """A `Metaspace` or `class space` line."""

    used_bytes: int
    committed_bytes: int
    reserved_bytes: int


@dataclass(frozen=True)
class HeapInfo:
    """Everything recognised in one `GC.heap_info` output."""

    collector: str | None
    areas: tuple[HeapArea, ...]
    metaspace: MetaspaceUsage | None = None
    class_space: MetaspaceUsage | None = None
    unrecognised: tuple[str, ...] = ()

    @property
    def used_bytes(self) -> int | None:
        """Heap in use: the sum over areas, or None if an area's use is unknown."""
        values = [a.used_bytes for a in self.areas]
        if not values or None in values:
            return None
        return sum(v for v in values if v is not None)

    @property
    def total_bytes(self) -> int | None:
        """Heap capacity as HotSpot reports it: the sum of the areas' totals."""
        values = [a.total_bytes for a in self.areas]
        if not values or None in values:
            return None
        return sum(v for v in values if v is not None)


# Area name (lower case) -> (collector, the words a reader knows it by).
_AREA_NAMES: dict[str, tuple[str, str]] = {
    "def new generation": ("Serial", "young generation"),
    "defnew": ("Serial", "young generation"),
    "tenured generation": ("Serial", "old generation"),
    "tenured": ("Serial", "old generation"),
    "psyounggen": ("Parallel", "young generation"),
    "paroldgen": ("Parallel", "old generation"),
    "par new generation": ("CMS", "young generation"),
    "concurrent mark-sweep generation": ("CMS", "old generation"),
    "garbage-first heap": ("G1", "heap"),
    "zheap": ("ZGC", "heap"),
}

_GENERATION = re.compile(
    rf"(?P<name>[A-Za-z][\w -]*?)\s+total\s+"
    rf"(?:reserved (?P<reserved>{_SIZE}),\s*committed (?P<committed>{_SIZE})|(?P<total>{_SIZE}))"
    rf",\s*used (?P<used>{_SIZE})(?:\s*\[.*)?"
)
_SUBSPACE = re.compile(
    rf"(?P<name>eden|from|to|the|object)?\s*space\s+(?P<size>{_SIZE}),\s*(?P<pct>\d+)% used"
    r"(?:\s*\[(?P<addrs>[^\]\)]*)[\]\)])?"
)
_G1_REGIONS = re.compile(
    rf"region size (?P<size>{_SIZE}), (?P<young>\d+) young \((?P<young_size>{_SIZE})\), "
    rf"(?P<surv>\d+) survivors \((?P<surv_size>{_SIZE})\)"
)
_ZHEAP = re.compile(
    rf"ZHeap\s+used (?P<used>{_SIZE}), capacity (?P<cap>{_SIZE}), max capacity (?P<max>{_SIZE})"
)
_SHENANDOAH = re.compile(
    rf"(?P<max>{_SIZE}) max, (?:(?P<soft>{_SIZE}) soft max, )?"
    rf"(?P<committed>{_SIZE}) committed, (?P<used>{_SIZE}) used"
)
_SHENANDOAH_REGIONS = re.compile(rf"(?P<count>\d+) x (?P<size>{_SIZE}) regions")
_METASPACE = re.compile(
    rf"(?P<which>Metaspace|class space)\s+used (?P<used>{_SIZE}),"
    rf"(?:\s*capacity (?P<cap>{_SIZE}),)?\s*committed (?P<committed>{_SIZE}),"
    rf"\s*reserved (?P<reserved>{_SIZE})"
)
# Lines that are understood but add nothing to the summary (headers, address maps, caches).
_KNOWN_NOISE = re.compile(
    r"Status: .*|Reserved region:|Collection set:|- .*|Allocation space:"
    rf"|Cache\s+{_SIZE} \(\d+\)|size classes\s+{_SIZE} \(\d+\)"
)
_COLLECTOR_HEADERS = {"shenandoah heap": "Shenandoah", "epsilon heap": "Epsilon"}


def _space_used(match: re.Match[str], size: int) -> int:
    """Bytes used in a `space` line: from its bottom/top addresses, else from the percent."""
    addrs = [a.strip() for a in (match.group("addrs") or "").split(",")]
    if len(addrs) >= 2:
        try:
            return int(addrs[1], 16) - int(addrs[0], 16)
        except ValueError:
            pass
    return size * int(match.group("pct")) // 100


def parse_heap_info(text: str) -> HeapInfo:
    """Parse `GC.heap_info` output of any HotSpot collector; never raises."""
    collector: str | None = None
    areas: list[HeapArea] = []
    metaspace: MetaspaceUsage | None = None
    class_space: MetaspaceUsage | None = None
    unrecognised: list[str] = []

    def add_detail(detail: str) -> None:
        last = areas[-1]
        areas[-1] = HeapArea(
            last.name, last.used_bytes, last.total_bytes, last.max_bytes, (*last.details, detail)
        )

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.lower() in _COLLECTOR_HEADERS:
            collector = _COLLECTOR_HEADERS[line.lower()]
        elif match := _GENERATION.fullmatch(line):
            name = match.group("name").strip()
            known = _AREA_NAMES.get(name.lower())
            if known and collector is None:
                collector = known[0]
            total = _size(match.group("committed") or match.group("total"))
            areas.append(
                HeapArea(name, _size(match.group("used")), total, _size(match.group("reserved")))
            )
        elif match := _SUBSPACE.fullmatch(line):
            size = _size(match.group("size")) or 0
            if match.group("name") is None and not areas:
                # Epsilon prints one bare `space` for its whole heap.
                areas.append(HeapArea("Epsilon heap", _space_used(match, size), size))
            elif areas:
                part = match.group("name") or "space"
                # An old generation's single space repeats the generation line itself.
                if part not in ("the", "object"):
                    add_detail(f"{part} {format_bytes(size)}, {match.group('pct')}% used")
            else:
                unrecognised.append(line)
        elif (match := _G1_REGIONS.fullmatch(line)) and areas:
            region, young, survivors = (
                format_bytes(_size(match.group(g)) or 0)
                for g in ("size", "young_size", "surv_size")
            )
            add_detail(
                f"regions of {region}: {match.group('young')} young ({young}), "
                f"{match.group('surv')} survivor ({survivors})"
            )
        elif match := _ZHEAP.fullmatch(line):
            collector = collector or "ZGC"
            areas.append(
                HeapArea(
                    "ZHeap",
                    _size(match.group("used")),
                    _size(match.group("cap")),
                    _size(match.group("max")),
                )
            )
        elif match := _SHENANDOAH.fullmatch(line):
            collector = collector or "Shenandoah"
            areas.append(
                HeapArea(
                    "Shenandoah heap",
                    _size(match.group("used")),
                    _size(match.group("committed")),
                    _size(match.group("max")),
                )
            )
        elif (match := _SHENANDOAH_REGIONS.fullmatch(line)) and areas:
            add_detail(
                f"{match.group('count')} regions of {format_bytes(_size(match.group('size')) or 0)}"
            )
        elif match := _METASPACE.fullmatch(line):
            usage = MetaspaceUsage(
                _size(match.group("used")) or 0,
                _size(match.group("committed")) or 0,
                _size(match.group("reserved")) or 0,
            )
            if match.group("which") == "Metaspace":
                metaspace = usage
            else:
                class_space = usage
        elif not _KNOWN_NOISE.fullmatch(line):
            unrecognised.append(line)
    return HeapInfo(collector, tuple(areas), metaspace, class_space, tuple(unrecognised))


def _area_label(area: HeapArea) -> str:
    known = _AREA_NAMES.get(area.name.lower())
    return f"{known[1].capitalize()} ({area.name})" if known else area.name


def _used_of(used: int | None, total: int | None) -> str:
    used_text = format_bytes(used) if used is not None else "unknown"
    if total is None:
        return f"{used_text} used"
    return f"{used_text} used of {format_bytes(total)}"


def summarise_heap_info(texts: Sequence[str], options: Options) -> Analysis:
    """Headline: heap used/total and metaspace; findings: one line per generation."""
    notes: list[str] = []
    if len(texts) > 1:
        notes.append(f"{len(texts)} outputs were given; this summarises the first.")
    info = parse_heap_info(texts[0] if texts else "")
    if info.unrecognised:
        notes.append(
            f"{len(info.unrecognised)} line(s) were not recognised, "
            f"e.g. {info.unrecognised[0][:80]!r}."
        )

    if not info.areas:
        notes.append("No heap line was recognised: is this GC.heap_info output?")
        headline = "Heap usage not found in the output"
    else:
        gc = f"{info.collector} heap" if info.collector else "Heap"
        headline = f"{gc}: {_used_of(info.used_bytes, info.total_bytes)}"
        maxes = [a.max_bytes for a in info.areas if a.max_bytes is not None]
        if len(info.areas) == 1 and maxes and maxes[0] != info.total_bytes:
            headline += f" (max {format_bytes(maxes[0])})"
    if info.metaspace:
        headline += (
            f"; metaspace {format_bytes(info.metaspace.used_bytes)} used of "
            f"{format_bytes(info.metaspace.committed_bytes)} committed"
        )
    elif info.areas:
        # JDK 25 dropped metaspace from GC.heap_info; say so rather than print a zero.
        headline += "; metaspace not in this output"

    findings: list[str] = []
    for area in info.areas:
        line = f"{_area_label(area)}: {_used_of(area.used_bytes, area.total_bytes)}"
        if area.max_bytes is not None and area.max_bytes != area.total_bytes:
            line += f", max {format_bytes(area.max_bytes)}"
        if area.details:
            line += " — " + "; ".join(area.details)
        findings.append(line)
    if info.metaspace:
        m = info.metaspace
        line = (
            f"Metaspace: {format_bytes(m.used_bytes)} used, "
            f"{format_bytes(m.committed_bytes)} committed, "
            f"{format_bytes(m.reserved_bytes)} reserved"
        )
        if info.class_space:
            line += f" (class space {format_bytes(info.class_space.used_bytes)} used)"
        findings.append(line)
    return Analysis(headline=headline, findings=tuple(findings), notes=tuple(notes))
