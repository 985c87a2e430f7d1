"""Each user's last few requests and their outcome, for App Home (in memory, per replica)."""

from __future__ import annotations

from collections import defaultdict, deque


class RequestHistory:
    def __init__(self, per_user: int = 5) -> None:
        self._entries: defaultdict[str, deque[tuple[str, str]]] = defaultdict(
            lambda: deque(maxlen=per_user)
        )

    def add(self, user: str, command: str, outcome: str) -> None:
        self._entries[user].appendleft((command, outcome))

    def recent(self, user: str) -> list[tuple[str, str]]:
        return list(self._entries.get(user, ()))
