"""structlog set-up: key-value lines in a terminal, JSON lines in production (to stderr).

Call `configure_logging()` once at start. Request fields (`request_id`, `user`, `tool`,
`target`) are bound with structlog's contextvars so every line of a request carries them.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    """`fmt` is `json` or `console` (default: console when stderr is a terminal); `level`
    defaults to warning. Both come from the settings (JDEBUG_LOG_FORMAT, JDEBUG_LOG_LEVEL)."""
    fmt = fmt or ("console" if sys.stderr.isatty() else "json")
    level_name = (level or "warning").upper()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level_name, logging.WARNING)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
