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
from typing import Literal, Protocol

import structlog
import yaml

from bot.model.errors import JdebugError
from bot.model.identity import KubeIdentity

log = structlog.get_logger("jdebug.impersonation")
Mode = Literal["off", "email", "table"]


class ImpersonationError(JdebugError):
    """The impersonation settings or table are wrong; jdebug refuses to start with them."""


class NoKubeIdentity(JdebugError):
    """The requester has no Kubernetes identity to act as, so nothing ran."""


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


class EmailDirectory(Protocol):
    """The frontend's way to a requester's e-mail (Slack: `users.info`); raises
    NoKubeIdentity with the frontend's own fix when it cannot tell."""

    async def email(self, user: str) -> str: ...


class ActingAs:
    """Which Kubernetes identity a request runs as: None (jdebug's own) when impersonation
    is off, else the table's entry, else (mode `email`) the requester's e-mail as the user
    name; someone with neither is refused before any Kubernetes call."""

    def __init__(
        self,
        mode: Mode,
        table: IdentityTable | None = None,
        directory: EmailDirectory | None = None,
        table_setting: str = "JDEBUG_IMPERSONATION_TABLE",
    ) -> None:
        self.mode = mode
        self.table = table or IdentityTable()
        self.directory = directory
        self.table_setting = table_setting

    async def identity(self, user: str) -> KubeIdentity | None:
        if self.mode == "off":
            return None
        identity = self.table.get(user)
        if identity is None and self.mode == "email" and self.directory is not None:
            identity = KubeIdentity(await self.directory.email(user))
        if identity is None:
            raise NoKubeIdentity(
                "jdebug runs Kubernetes calls as your own Kubernetes identity, and you have "
                "none in its impersonation table, so nothing ran",
                fix=f"an admin can map your user ID ({user}) in {self.table_setting}",
            )
        log.info("impersonation.acting_as", kube_user=identity.user, groups=list(identity.groups))
        return identity
