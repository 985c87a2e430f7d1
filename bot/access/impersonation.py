"""Who a requester acts as in the cluster when impersonation is on: a `KubeIdentity` (user and
groups, sent as `Impersonate-User`/`Impersonate-Group`), and the table that maps Slack user IDs
to one. The cluster's own RBAC then judges each person; the bot only needs `impersonate`.

    table = load_identity_table(Path("identities.yaml"))
    table.get("U0ALICE001")     # KubeIdentity(user="alice@example.com", groups=("sre",))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import yaml

from bot.backends.protocols import Backend
from bot.model.errors import JdebugError


@dataclass(frozen=True)
class KubeIdentity:
    """A Kubernetes user name and its groups; the API server adds `system:authenticated`."""

    user: str
    groups: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return self.user + (f" (groups {', '.join(self.groups)})" if self.groups else "")


class ImpersonationError(JdebugError):
    """The impersonation settings or table are wrong; jdebug refuses to start with them."""


class NoKubeIdentity(JdebugError):
    """The requester has no Kubernetes identity to act as, so nothing ran."""


@runtime_checkable
class ImpersonatingBackend(Backend, Protocol):
    """A backend that can run one request as someone else (Kubernetes only)."""

    def acting_as(self, identity: KubeIdentity) -> Backend:
        """This backend with every call made as `identity`."""
        ...


@dataclass(frozen=True)
class IdentityTable:
    """Slack user ID → KubeIdentity, from the YAML file named by JDEBUG_IMPERSONATION_TABLE."""

    entries: Mapping[str, KubeIdentity] = field(default_factory=dict)
    source: str = ""

    def get(self, slack_user: str) -> KubeIdentity | None:
        return self.entries.get(slack_user)


def load_identity_table(path: Path) -> IdentityTable:
    """Read `users: {SLACK_ID: {user: NAME, groups: [G, ...]}}`; any mistake is one sentence
    naming the file and the entry."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ImpersonationError(f"cannot read the impersonation table {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ImpersonationError(f"the impersonation table {path} is not valid YAML") from exc
    users = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(users, dict):
        raise ImpersonationError(
            f"the impersonation table {path} needs a `users:` mapping of Slack user IDs"
        )
    entries: dict[str, KubeIdentity] = {}
    for slack_user, raw in users.items():
        entries[str(slack_user)] = _entry(path, str(slack_user), raw)
    return IdentityTable(entries, str(path))


def _entry(path: Path, slack_user: str, raw: object) -> KubeIdentity:
    where = f"{path}, users.{slack_user}"
    if not isinstance(raw, dict) or not isinstance(raw.get("user"), str) or not raw["user"]:
        raise ImpersonationError(f"{where}: needs `user:` with the Kubernetes user name")
    groups = raw.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise ImpersonationError(f"{where}: `groups:` must be a list of group names")
    unknown = set(raw) - {"user", "groups"}
    if unknown:
        raise ImpersonationError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    return KubeIdentity(raw["user"], tuple(groups))
