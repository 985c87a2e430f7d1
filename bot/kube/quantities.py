"""Kubernetes resource quantities (`512Mi`, `1.5G`, `500m`) as numbers, for comparing a JVM's
memory and CPU use against its container's limits (apimachinery's `resource.Quantity`)."""

from __future__ import annotations

import re

_QUANTITY = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-zA-Z]*)")
# Binary and decimal suffixes, as apimachinery's pkg/api/resource/suffix.go defines them.
_SUFFIXES = {
    "": 1,
    "Ki": 1 << 10,
    "Mi": 1 << 20,
    "Gi": 1 << 30,
    "Ti": 1 << 40,
    "Pi": 1 << 50,
    "Ei": 1 << 60,
    "n": 1e-9,
    "u": 1e-6,
    "m": 1e-3,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


def quantity(text: str | None) -> float | None:
    """`512Mi` → 536870912.0; None for anything that is not a quantity."""
    if not isinstance(text, str):
        return None
    match = _QUANTITY.fullmatch(text.strip())
    if not match or match.group(2) not in _SUFFIXES:
        return None
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def memory_quantity(text: str | None) -> int | None:
    value = quantity(text)
    return int(value) if value is not None else None


def cpu_quantity(text: str | None) -> float | None:
    return quantity(text)
