"""How findings name things: a stack by its first application frame, thread lists cut short,
counts with their plural, states in the order on-call reads them.

Shared by the platform-thread and the virtual-thread summaries so both read alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

STATE_ORDER = ("BLOCKED", "WAITING", "TIMED_WAITING", "RUNNABLE", "NEW", "TERMINATED")
JDK_PACKAGES = ("java.", "javax.", "jdk.", "sun.", "com.sun.")
_LAMBDA_CLASS = re.compile(r"\$\$Lambda(?:\$\d+)?/0x[0-9a-fA-F]+")
NAMES_SHOWN = 5


def frame_key(frame: str) -> str:
    """A frame without the run-specific address of a lambda class, for comparing stacks."""
    return _LAMBDA_CLASS.sub("$$Lambda", frame) if "$$Lambda" in frame else frame


def where(frames: Sequence[str]) -> str:
    """The first application frame (what on-call recognises), else the top frame.

    Lambda classes are skipped: `Main$$Lambda/0x…run` names no line anyone wrote.
    """
    for frame in frames:
        if not frame.startswith(JDK_PACKAGES) and "$$Lambda" not in frame:
            return frame
    return frame_key(frames[0]) if frames else "(no frames)"


def method_of(frame: str) -> str:
    """`com.shop.OrderService.awaitStock(OrderService.java:42)` → `OrderService.awaitStock`."""
    call = frame.split("(", 1)[0]
    cls, _, method = call.rpartition(".")
    return f"{cls.rpartition('.')[2]}.{method}" if cls else call


def names(listed: Sequence[str], shown: int = NAMES_SHOWN) -> str:
    text = ", ".join(listed[:shown])
    return text + (f" (+{len(listed) - shown} more)" if len(listed) > shown else "")


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def state_order(state: str) -> tuple[int, str]:
    return (STATE_ORDER.index(state) if state in STATE_ORDER else len(STATE_ORDER), state)
