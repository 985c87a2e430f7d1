"""A Kubernetes identity to act as: a user name and its groups, sent as `Impersonate-User` and
`Impersonate-Group` when impersonation is on (see `bot/access/impersonation.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class KubeIdentity:
    """A Kubernetes user name and its groups; the API server adds `system:authenticated`."""

    user: str
    groups: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return self.user + (f" (groups {', '.join(self.groups)})" if self.groups else "")
