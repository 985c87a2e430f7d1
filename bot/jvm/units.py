"""Sizes as people read them (`64 MiB`), shared by every summary and the terminal report."""

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
