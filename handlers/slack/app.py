"""The composition root of `jdebug serve`: settings → backend → Slack app → transport.

Socket Mode by default (no ingress needed), HTTP mode with signing-secret verification as an
option. A small health server answers /healthz and /readyz in both modes. SIGTERM stops
new work, lets running requests finish within the grace period, then exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
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

from bot.access.impersonation import ImpersonationError
from bot.access.policy import PolicyError
from bot.backends.protocols import Backend
from bot.kube.backend import KubeBackend
from bot.kube.lease import LeaderElector
from bot.malloc import pin_mmap_threshold
from bot.model.errors import JdebugError
from bot.session.backends import choose_backend, owner_reference
from bot.session.housekeeping import janitor_loop
from bot.settings import Settings, env_name
from handlers.slack.listeners import register
from handlers.slack.service import SlackService

log = structlog.get_logger("jdebug.app")

# How long shutdown waits for the Lease to be released before giving up on it.
LEASE_RELEASE_S = 5

EVENTS_PATH = "/slack/events"
EXIT_OK, EXIT_CANNOT_START, EXIT_BAD_SETTINGS = 0, 1, 2


def configure_client(client: AsyncWebClient, settings: Settings) -> AsyncWebClient:
    """Point the Web API client at `SLACK_API_URL` and retry 429s and 5xx (the SDK alone
    retries only connection errors)."""
    client.base_url = settings.slack_api_url
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
    return client


def build_app(settings: Settings, backend: Backend) -> tuple[AsyncApp, SlackService]:
    http = settings.slack_mode == "http"
    # Bolt builds its own client from `token` (passing `client=` makes it warn whenever
    # SLACK_BOT_TOKEN is also in the environment); we only aim and harden it.
    app = AsyncApp(
        token=settings.slack_bot_token,
        signing_secret=settings.slack_signing_secret if http else "",
        # Socket Mode envelopes arrive already authenticated; there is nothing to sign.
        request_verification_enabled=http,
    )
    configure_client(app.client, settings)
    service = SlackService(backend, settings)
    register(app, service)
    return app, service


def build_backend(settings: Settings) -> Backend:
    """A cluster when one is configured (kubeconfig or in-cluster), else this machine."""
    node_namespace = settings.node_namespace or settings.pod_namespace
    # ownerReferences only work within one namespace: own node pods only in our namespace.
    same = node_namespace is None or node_namespace == settings.pod_namespace
    return choose_backend(
        settings.kubeconfig,
        java_home=settings.local_java_home,
        namespace=settings.namespace,
        debug_image=settings.debug_image,
        strategies=settings.strategies,
        node_namespace=node_namespace,
        owner=owner_reference(settings.pod_name, settings.pod_uid) if same else None,
    )


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

    def __init__(self, settings: Settings, backend: Backend) -> None:
        self.settings = settings
        self.app, self.service = build_app(settings, backend)
        self.health_port: int | None = None
        self.http_port: int | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._runners: list[web.AppRunner] = []
        self._background: list[asyncio.Task[None]] = []
        self._elector: asyncio.Task[None] | None = None
        self._stop_leading = asyncio.Event()

    async def start(self) -> None:
        """Listen for probes, check the tokens, then connect (or listen, in HTTP mode).

        Raises CannotStart with one sentence, having released whatever it had opened.
        """
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        if self.service.policy is not None:
            self._background.append(asyncio.create_task(self.service.policy.run()))
        backend = self.service.backend
        if isinstance(backend, KubeBackend):
            # Only the Lease holder sweeps, so two replicas never race over the same pods.
            namespace = self.settings.pod_namespace or backend.ctx.settings.node_namespace
            elector = LeaderElector(
                backend.ctx.api,
                namespace,
                lease_duration_s=self.settings.lease_duration_seconds,
                renew_deadline_s=self.settings.lease_renew_deadline_seconds,
                retry_period_s=self.settings.lease_retry_period_seconds,
            )
            interval = self.settings.janitor_interval_seconds
            self._elector = asyncio.create_task(
                elector.run(lambda: janitor_loop(backend, interval), self._stop_leading)
            )
        log.info(
            "serve.started",
            mode=self.settings.slack_mode,
            http_port=self.http_port,
            health_port=self.health_port,
            backend=self.service.backend.name,
        )

    async def _start(self) -> None:
        health = web.Application()
        health.add_routes([web.get("/healthz", self.healthz), web.get("/readyz", self.readyz)])
        self.health_port = await self._listen(health, self.settings.health_port, "HEALTH_PORT")
        url = self.settings.slack_api_url
        try:
            # Fail fast on a wrong or revoked token: the SDK's connect would retry forever.
            await self.app.client.auth_test()
            if self.settings.slack_mode == "socket":
                self._socket = AsyncSocketModeHandler(self.app, self.settings.slack_app_token)
                opened = await self.app.client.apps_connections_open(
                    app_token=self.settings.slack_app_token
                )
                self._socket.client.wss_uri = str(opened["url"])
                await self._socket.connect_async()  # type: ignore[no-untyped-call]
        except SlackApiError as error:
            code = error.response.get("error", "unknown")
            raise CannotStart(
                f"Slack at {url} refused the tokens ({code}); check SLACK_BOT_TOKEN"
                + (" and SLACK_APP_TOKEN" if self.settings.slack_mode == "socket" else "")
            ) from error
        except (SlackClientError, OSError) as error:
            raise CannotStart(f"could not reach Slack at {url}: {error}") from error
        if self.settings.slack_mode == "http":
            web_app = self.app.web_app(EVENTS_PATH)
            self.http_port = await self._listen(web_app, self.settings.http_port, "HTTP_PORT")

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

    async def shutdown(self) -> int:
        """Stop taking work, let running requests finish within the grace period, clean up."""
        inflight = self.service.inflight
        log.info(
            "serve.draining", in_flight=len(inflight), grace_s=self.settings.shutdown_grace_seconds
        )
        inflight.draining = True
        # Closing the websocket first makes Slack send new commands to the other replicas;
        # running requests keep their own Web API client and finish.
        await self._close_socket()
        left = await inflight.drain(self.settings.shutdown_grace_seconds)
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
        if self._elector is not None:
            # A graceful stop releases the Lease, so the other replica takes over at once.
            self._stop_leading.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._elector, LEASE_RELEASE_S)
            self._elector = None
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        await self._close_socket()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


async def serve(
    settings: Settings, backend: Backend | None = None, stop: asyncio.Event | None = None
) -> int:
    """Run until SIGTERM/SIGINT (or `stop` is set); return the process exit code."""
    server = BotServer(settings, backend or build_backend(settings))
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    await server.start()
    await stop.wait()
    return await server.shutdown()


def serve_main() -> int:
    """`jdebug serve`: one sentence and exit 2 on missing or invalid settings, 1 when it
    cannot connect; 0 after a clean shutdown."""
    try:
        settings = Settings()
    except ValidationError as error:
        invalid = "; ".join(
            f"{env_name(str(e['loc'][0])) if e['loc'] else 'settings'}: {e['msg']}"
            for e in error.errors()
        )
        sys.stderr.write(f"jdebug serve: invalid settings: {invalid} (see .env.example).\n")
        return EXIT_BAD_SETTINGS
    problems = settings.serve_problems()
    if problems:
        sys.stderr.write(
            f"jdebug serve cannot start in {settings.slack_mode} mode: {'; '.join(problems)} "
            "(see .env.example for every setting).\n"
        )
        return EXIT_BAD_SETTINGS
    route_library_logs()
    # Outputs of tens of MB come and go for as long as the bot runs (bot/malloc.py).
    pin_mmap_threshold()
    try:
        return asyncio.run(serve(settings))
    except CannotStart as error:
        sys.stderr.write(f"jdebug serve: {error}.\n")
        return EXIT_CANNOT_START
    except (PolicyError, ImpersonationError) as error:
        sys.stderr.write(f"jdebug serve: {error.message}\n")
        return EXIT_BAD_SETTINGS
    except JdebugError as error:  # e.g. an in-cluster configuration without its token
        sys.stderr.write(f"jdebug serve: {error}\n")
        return EXIT_CANNOT_START
