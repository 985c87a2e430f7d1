"""Write `.env.example`, `deploy/base/settings.env` and the README's settings table from the
settings classes (`make settings`); a test checks the committed files match, so a default is
written once, in its field, and nowhere else by hand."""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from bot.settings import JdebugSettings, env_name
from handlers.slack.settings import SlackSettings

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
ENV_EXAMPLE = REPO / ".env.example"
SETTINGS_ENV = REPO / "deploy" / "base" / "settings.env"
BEGIN = "<!-- settings:begin (generated from bot/settings.py and handlers/slack/settings.py) -->"
END = "<!-- settings:end -->"

# What the Deployment sets in its ConfigMap: each setting it carries, with the value it
# differs in (None: the default). Everything else stays at its default, unset.
DEPLOYED: dict[str, str | None] = {
    "slack_mode": None,
    "allowed_users": None,
    "allowed_channels": None,
    "namespace": None,
    "debug_image": None,
    "strategies": None,
    "step_deadline_seconds": None,
    "max_concurrent_requests": None,
    "max_waiting_requests": None,
    "max_requests_per_user": None,
    "user_requests_per_minute": None,
    "requests_per_minute": None,
    "max_pods_per_request": None,
    "lease_duration_seconds": None,
    "lease_renew_deadline_seconds": None,
    "lease_retry_period_seconds": None,
    "janitor_interval_seconds": None,
    "shutdown_grace_seconds": None,
    "health_port": None,
    "http_port": None,
    "log_format": "json",
    "log_level": "info",
}
# Set by the Deployment from the downward API, never by hand.
DOWNWARD = ("pod_name", "pod_uid", "pod_namespace")


def _models() -> list[type[BaseSettings]]:
    return [JdebugSettings, SlackSettings]


def _fields() -> list[tuple[type[BaseSettings], str, FieldInfo]]:
    return [(m, name, info) for m in _models() for name, info in m.model_fields.items()]


def default_text(info: FieldInfo) -> str:
    """The default as an environment variable holds it: lists comma-joined, unset empty."""
    value = info.default
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def env_example() -> str:
    lines = [
        "# jdebug's settings, generated from bot/settings.py and handlers/slack/settings.py",
        "# (`make settings`). Copy to .env (never commit it) or set them in the environment;",
        "# an empty value counts as unset. Slack's settings are read by `jdebug serve` only.",
    ]
    for model, title in ((JdebugSettings, "jdebug"), (SlackSettings, "Slack")):
        lines += ["", f"# ---- {title} " + "-" * (80 - len(title) - 8)]
        for name, info in model.model_fields.items():
            lines += [f"# {info.description}", f"{env_name(model, name)}={default_text(info)}"]
    return "\n".join(lines) + "\n"


def settings_env() -> str:
    lines = [
        "# jdebug's settings in the cluster, generated from its settings classes (`make",
        "# settings`). They become the jdebug-settings ConfigMap (its name gets a content hash, so",
        "# changing a value rolls the Deployment). An empty value means unset. Slack's tokens are",
        "# in the jdebug-slack Secret (slack-secret.example.yaml); every other setting (README,",
        '# "Settings") is off unless you add it here.',
    ]
    by_name = {name: (model, info) for model, name, info in _fields()}
    for name, value in DEPLOYED.items():
        model, info = by_name[name]
        shown = default_text(info) if value is None else value
        lines += [f"# {info.description}", f"{env_name(model, name)}={shown}"]
    return "\n".join(lines) + "\n"


def readme_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for model, name, info in _fields():
        if name in DOWNWARD:
            continue
        default = default_text(info)
        shown = f"`{default}`" if default else "unset"
        rows.append(f"| `{env_name(model, name)}` | {shown} | {info.description} |")
    names = ", ".join(f"`{env_name(JdebugSettings, n)}`" for n in DOWNWARD)
    rows.append(
        f"| {names} | from the downward API | the bot's own pod: node debug pods are owned by it |"
    )
    return "\n".join(rows) + "\n"


def render_readme(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{readme_table()}{END}{tail}"


if __name__ == "__main__":
    ENV_EXAMPLE.write_text(env_example())
    SETTINGS_ENV.write_text(settings_env())
    README.write_text(render_readme(README.read_text()))
    sys.exit(0)
