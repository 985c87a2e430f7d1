"""Which OAuth scope each Web API method needs, and the scopes the app was installed with.

The granted scopes are read from `deploy/slack-app-manifest.yaml` (`oauth_config.scopes.bot`),
so the fake refuses what the app as shipped could not do, with Slack's `missing_scope` answer:
`{"ok": false, "error": "missing_scope", "needed": "<scope>", "provided": "<a,b,c>"}`
(docs.slack.dev/reference/methods, "Errors" common to all methods).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.fakeslack.errors import SlackError

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yaml"

# "Required scopes" on each method's page at docs.slack.dev/reference/methods/<name>.
# views.publish and auth.test need none; apps.connections.open takes the app-level token
# (connections:write), checked with the token itself.
NEEDED: dict[str, str] = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.delete": "chat:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "users.info": "users:read",
    "users.lookupByEmail": "users:read.email",
    "usergroups.users.list": "usergroups:read",
    "conversations.info": "channels:read",
}
# What the manifest's comment says to add for JDEBUG_IMPERSONATION=email.
IMPERSONATION_SCOPES = ("users:read", "users:read.email")
# users.info includes `profile.email` only with this scope too (users.info page, "Email").
EMAIL_SCOPE = "users:read.email"


def manifest_scopes(path: Path = MANIFEST, *, impersonation: bool = False) -> tuple[str, ...]:
    """The bot scopes the shipped manifest grants; with `impersonation`, also the ones its
    comment says to add for e-mail impersonation (which must be named in that comment)."""
    text = path.read_text()
    granted = tuple(yaml.safe_load(text)["oauth_config"]["scopes"]["bot"])
    if not impersonation:
        return granted
    missing = [s for s in IMPERSONATION_SCOPES if f"- {s}" not in text]
    if missing:
        raise ValueError(f"{path} no longer tells admins to add {missing} for impersonation")
    return granted + IMPERSONATION_SCOPES


def require_scope(method: str, granted: tuple[str, ...]) -> None:
    needed = NEEDED.get(method)
    if needed is not None and needed not in granted:
        raise SlackError("missing_scope", needed=needed, provided=",".join(granted))
