"""Settings for a bot under test: one set of values, split between jdebug's own settings and
Slack's, as `jdebug serve` reads both from one environment."""

from __future__ import annotations

from typing import Any

from bot.access.gate import OpenGate
from bot.backends.protocols import Backend
from bot.session.backends import Backends
from bot.session.service import JdebugService
from bot.settings import JdebugSettings
from handlers.slack.settings import SlackSettings


def serve_settings(**values: Any) -> tuple[JdebugSettings, SlackSettings]:
    """Each value goes to the settings class that has the field; unknown names fail."""
    core = {k: v for k, v in values.items() if k in JdebugSettings.model_fields}
    slack = {k: v for k, v in values.items() if k in SlackSettings.model_fields}
    unknown = set(values) - set(core) - set(slack)
    if unknown:
        raise TypeError(f"no such settings: {', '.join(sorted(unknown))}")
    return (
        JdebugSettings(_env_file=None, **core),  # type: ignore[call-arg]
        SlackSettings(_env_file=None, **slack),  # type: ignore[call-arg]
    )


def terminal_service(backend: Backend, **values: Any) -> JdebugService:
    """The core service as `jdebug run` builds it (no policy: the terminal user may run
    everything), over `backend`."""
    settings = JdebugSettings(_env_file=None, **values)  # type: ignore[call-arg]
    return JdebugService(settings, Backends(backend, {}), OpenGate(), audit_to_log=False)
