"""Label and field selectors as `kubectl get -l/--field-selector` and the client send them."""

from __future__ import annotations

import re
from typing import Any

from kubesim.status import bad_request

_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside a `(...)` value set."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def label_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in _split(selector):
        if m := _SET.match(term):
            values = {v.strip() for v in m.group(3).split(",")}
            inside = labels.get(m.group(1)) in values
            if inside != (m.group(2) == "in"):
                return False
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif re.fullmatch(r"[\w./-]+", term):
            if term not in labels:
                return False
        else:
            raise bad_request(f"unable to parse requirement: {term!r}")
    return True


def _field_value(obj: dict[str, Any], path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return "" if current is None else str(current)


def field_matches(selector: str, obj: dict[str, Any]) -> bool:
    for term in _split(selector):
        negate = "!=" in term
        key, _, value = term.replace("!=", "=").replace("==", "=").partition("=")
        if not _:
            raise bad_request(f"invalid selector: '{selector}'; can't understand '{term}'")
        if (_field_value(obj, key.strip()) == value.strip()) == negate:
            return False
    return True
