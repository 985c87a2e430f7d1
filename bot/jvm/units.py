"""Sizes and durations as people read them (`64 MiB`, `3.2 ms`), shared by every summary."""

from __future__ import annotations

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(count: int) -> str:
    """Binary units a person reads at a glance: `64 MiB`, `1.3 MiB`, `449 KiB`, `512 B`."""
    value = float(count)
    unit = 0
    while abs(value) >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0 or abs(value) >= 100 or value == int(value):
        return f"{round(value):d} {_UNITS[unit]}"
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {_UNITS[unit]}"


def format_duration(nanos: int) -> str:
    """Durations as people read them: `1.8 s`, `3.2 ms`, `450 µs`, `2 m 5 s`."""
    if nanos >= 120 * 10**9:
        minutes, seconds = divmod(round(nanos / 10**9), 60)
        return f"{minutes} m {seconds} s"
    for scale, unit in ((10**9, "s"), (10**6, "ms"), (10**3, "µs")):
        if abs(nanos) >= scale:
            value = nanos / scale
            text = f"{value:.1f}".removesuffix(".0") if value < 100 else f"{round(value)}"
            return f"{text} {unit}"
    return f"{nanos} ns"
