"""The composition root of `jdebug serve`: settings → backend → Slack app → transport.

Socket Mode by default (no ingress needed), HTTP mode with signing-secret verification as an
option. A small health server answers /healthz, /readyz and /metrics in both modes. SIGTERM stops
new work, lets running requests finish within the grace period, then exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import structlog
from aiohttp import web
from pydantic import ValidationError
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.gate import Gate, PolicyGate
from bot.access.impersonation import ActingAs, ImpersonationError, load_identity_table
from bot.access.policy import PolicyError, PolicyWatcher
from bot.kube.backend import KubeBackend
from bot.logs import configure_logging
from bot.malloc import pin_mmap_threshold
from bot.model.errors import JdebugError
from bot.session.backends import Backends, build_backends
from bot.session.housekeeping import Janitor
from bot.session.metrics import CONTENT_TYPE, Metrics
from bot.session.service import JdebugService
from bot.settings import JdebugSettings, env_name
from handlers.slack.identity import SlackDirectory
from handlers.slack.listeners import SlackFrontend, register
from handlers.slack.settings import SlackSettings

log = structlog.get_logger("jdebug.app")

EVENTS_PATH = "/slack/events"
EXIT_OK, EXIT_CANNOT_START, EXIT_BAD_SETTINGS = 0, 1, 2


def configure_client(client: AsyncWebClient, slack: SlackSettings) -> AsyncWebClient:
    """Point the Web API client at `SLACK_API_URL` and retry 429s and 5xx (the SDK alone
    retries only connection errors)."""
    client.base_url = slack.slack_api_url
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=4))
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
    return client


def slack_app(slack: SlackSettings) -> AsyncApp:
    http = slack.slack_mode == "http"
    # Bolt builds its own client from `token` (passing `client=` makes it warn whenever
    # SLACK_BOT_TOKEN is also in the environment); we only aim and harden it.
    app = AsyncApp(
        token=slack.slack_bot_token,
        signing_secret=slack.slack_signing_secret if http else "",
        # Socket Mode envelopes arrive already authenticated; there is nothing to sign.
        request_verification_enabled=http,
    )
    configure_client(app.client, slack)
    return app


def build_gate(
    core: JdebugSettings, slack: SlackSettings, backends: Backends
) -> tuple[Gate, PolicyWatcher | None]:
    """The policy file when there is one (an invalid file stops the bot at start), else the
    allow-lists."""
    if core.policy_file is None:
        return slack.allow_list(), None
    watcher = PolicyWatcher(core.policy_file, lambda _: None, interval_s=core.policy_poll_seconds)
    gate = PolicyGate(watcher, core.namespace, core.policy_contact, backends.default_name)
    return gate, watcher


def build_app(
    core: JdebugSettings, slack: SlackSettings, backends: Backends
) -> tuple[AsyncApp, SlackFrontend, PolicyWatcher | None]:
    """The Bolt app with its listeners, over a core service with this frontend's gate and
    directory."""
    app = slack_app(slack)
    directory = SlackDirectory(
        app.client, slack.group_cache_seconds, env_name(JdebugSettings, "impersonation_table")
    )
    table = load_identity_table(core.impersonation_table) if core.impersonation_table else None
    acting_as = ActingAs(
        core.impersonation, table, directory, env_name(JdebugSettings, "impersonation_table")
    )
    gate, watcher = build_gate(core, slack, backends)
    try:
        service = JdebugService(core, backends, gate, acting_as=acting_as, metrics=Metrics())
    except JdebugError as error:
        raise ImpersonationError(error.message) from error
    frontend = SlackFrontend(service, directory)
    register(app, frontend)
    return app, frontend, watcher


class CannotStart(Exception):
    """`jdebug serve` could not listen or connect; the message is one sentence."""


class LibraryLogs(logging.Handler):
    """Bolt, slack_sdk and aiohttp log through the standard library; this sends their
    records through structlog, so production logs stay one JSON object per line."""

    def emit(self, record: logging.LogRecord) -> None:
        structlog.get_logger(record.name).log(
            record.levelno, record.getMessage(), exc_info=record.exc_info or None
        )


def route_library_logs(level: int = logging.WARNING) -> None:
    root = logging.getLogger()
    if not any(isinstance(h, LibraryLogs) for h in root.handlers):
        root.addHandler(LibraryLogs())
    root.setLevel(level)


class BotServer:
    """One running bot: the Slack transport, the health server and the in-flight requests.

    `start()` connects; `shutdown()` drains and disconnects. `serve()` adds signals.
    """

    def __init__(self, core: JdebugSettings, slack: SlackSettings, backends: Backends) -> None:
        self.core = core
        self.slack = slack
        self.app, self.frontend, self._watcher = build_app(core, slack, backends)
        self.service = self.frontend.service
        self.health_port: int | None = None
        self.http_port: int | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runners: list[web.AppRunner] = []
        self._background: list[asyncio.Task[None]] = []
        self._janitor: Janitor | None = None

    async def start(self) -> None:
        """Listen for probes, check the tokens, then connect (or listen, in HTTP mode).

        Raises CannotStart with one sentence, having released whatever it had opened.
        """
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        if self._watcher is not None:
            self._background.append(asyncio.create_task(self._watcher.run()))
            groups = self.service.gate.groups
            if groups:  # warm the cache, so the first requests do not wait for Slack
                self._background.append(
                    asyncio.create_task(self.frontend.directory.refresh(groups))
                )
        backend = self.service.backends.default
        if isinstance(backend, KubeBackend):
            # Only the Lease holder sweeps, so two replicas never race over the same pods.
            self._janitor = Janitor(backend, self.core, self.service.metrics)
            self._janitor.start()
        log.info(
            "serve.started",
            mode=self.slack.slack_mode,
            http_port=self.http_port,
            health_port=self.health_port,
            backend=backend.name,
        )

    async def _start(self) -> None:
        health = web.Application()
        health.add_routes(
            [
                web.get("/healthz", self.healthz),
                web.get("/readyz", self.readyz),
                web.get("/metrics", self.metrics),
            ]
        )
        self.health_port = await self._listen(health, self.core.health_port, "HEALTH_PORT")
        url = self.slack.slack_api_url
        try:
            # Fail fast on a wrong or revoked token: the SDK's connect would retry forever.
            await self.app.client.auth_test()
            if self.slack.slack_mode == "socket":
                self._socket = AsyncSocketModeHandler(self.app, self.slack.slack_app_token)
                opened = await self.app.client.apps_connections_open(
                    app_token=self.slack.slack_app_token
                )
                self._socket.client.wss_uri = str(opened["url"])
                await self._socket.connect_async()  # type: ignore[no-untyped-call]
        except SlackApiError as error:
            code = error.response.get("error", "unknown")
            raise CannotStart(
                f"Slack at {url} refused the tokens ({code}); check SLACK_BOT_TOKEN"
                + (" and SLACK_APP_TOKEN" if self.slack.slack_mode == "socket" else "")
            ) from error
        except (SlackClientError, OSError) as error:
            raise CannotStart(f"could not reach Slack at {url}: {error}") from error
        if self.slack.slack_mode == "http":
            web_app = self.app.web_app(EVENTS_PATH)
            self.http_port = await self._listen(web_app, self.slack.http_port, "HTTP_PORT")

    async def _listen(self, app: web.Application, port: int, setting: str) -> int:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        self._runners.append(runner)
        try:
            # Probes come from the kubelet and Slack from outside: listen on all interfaces.
            await web.TCPSite(runner, "0.0.0.0", port).start()  # noqa: S104
        except OSError as error:
            raise CannotStart(
                f"cannot listen on port {port} (JDEBUG_{setting}): {error.strerror or error}"
            ) from error
        return int(runner.addresses[0][1])

    async def ready(self) -> bool:
        if self.service.inflight.draining:
            return False
        if self._socket is not None:
            return bool(await self._socket.client.is_connected())
        return self.http_port is not None

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.Response:
        ready = await self.ready()
        body = {"ready": ready, "in_flight": len(self.service.inflight)}
        return web.json_response(body, status=200 if ready else 503)

    async def metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.service.metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def shutdown(self) -> int:
        """Stop taking work, let running requests finish within the grace period, clean up."""
        inflight = self.service.inflight
        log.info(
            "serve.draining", in_flight=len(inflight), grace_s=self.core.shutdown_grace_seconds
        )
        inflight.draining = True
        # Closing the websocket first makes Slack send new commands to the other replicas;
        # running requests keep their own Web API client and finish.
        await self._close_socket()
        left = await inflight.drain(self.core.shutdown_grace_seconds)
        if left:
            log.warning("serve.grace_expired", cancelled=left)
            await inflight.cancel_remaining()
        await self._close()
        log.info("serve.stopped")
        return EXIT_OK

    async def _close_socket(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            await socket.close_async()  # type: ignore[no-untyped-call]

    async def _close(self) -> None:
        if self._janitor is not None:
            # A graceful stop releases the Lease, so the other replica takes over at once.
            await self._janitor.stop()
            self._janitor = None
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        await self._close_socket()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


async def serve(
    core: JdebugSettings,
    slack: SlackSettings,
    backends: Backends | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set); return the process exit code."""
    server = BotServer(core, slack, backends or build_backends(core))
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    await server.start()
    await stop.wait()
    return await server.shutdown()


def invalid_settings(error: ValidationError, model: type[JdebugSettings | SlackSettings]) -> str:
    return "; ".join(
        f"{env_name(model, str(e['loc'][0])) if e['loc'] else 'settings'}: {e['msg']}"
        for e in error.errors()
    )


def serve_main() -> int:
    """`jdebug serve`: one sentence and exit 2 on missing or invalid settings, 1 when it
    cannot connect; 0 after a clean shutdown."""
    try:
        core = JdebugSettings()
        slack = SlackSettings()
    except ValidationError as error:
        model = JdebugSettings if error.title == JdebugSettings.__name__ else SlackSettings
        sys.stderr.write(
            f"jdebug serve: invalid settings: {invalid_settings(error, model)} "
            "(see .env.example).\n"
        )
        return EXIT_BAD_SETTINGS
    problems = slack.problems(core)
    if problems:
        sys.stderr.write(
            f"jdebug serve cannot start in {slack.slack_mode} mode: {'; '.join(problems)} "
            "(see .env.example for every setting).\n"
        )
        return EXIT_BAD_SETTINGS
    # A service logs one line per request and the audit record at info by default.
    configure_logging(level=core.log_level or "info", fmt=core.log_format)
    route_library_logs()
    # Outputs of tens of MB come and go for as long as the bot runs (bot/malloc.py).
    pin_mmap_threshold()
    try:
        return asyncio.run(serve(core, slack))
    except CannotStart as error:
        sys.stderr.write(f"jdebug serve: {error}.\n")
        return EXIT_CANNOT_START
    except (PolicyError, ImpersonationError) as error:
        sys.stderr.write(f"jdebug serve: {error.message}\n")
        return EXIT_BAD_SETTINGS
    except JdebugError as error:  # e.g. an in-cluster configuration without its token
        sys.stderr.write(f"jdebug serve: {error}\n")
        return EXIT_CANNOT_START
