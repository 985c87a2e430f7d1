"""The `jdebug` command: `run "<text>"` once, `console` to read commands from stdin, or
`serve` to run the Slack bot (bot/app.py).

The text is exactly what a user types after `/jdebug` in Slack.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.backends.protocols import Backend
from bot.logs import configure_logging
from bot.session.backends import choose_backend
from bot.session.run import DEFAULT_STEP_DEADLINE_S
from handlers.slack.app import serve_main
from handlers.terminal import console, run_text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jdebug", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--kubeconfig",
        default=os.environ.get("JDEBUG_KUBECONFIG") or None,
        help="use this cluster (else $KUBECONFIG, else in-cluster config, else local JVMs)",
    )
    common.add_argument(
        "--namespace",
        "-n",
        default=None,
        help="namespace when the command gives no ns= (env JDEBUG_NAMESPACE)",
    )
    common.add_argument(
        "--debug-image", default=None, help="image for debug containers (env JDEBUG_DEBUG_IMAGE)"
    )
    common.add_argument(
        "--strategies",
        default=None,
        help="order to try, e.g. exec,sidecar,ephemeral (env JDEBUG_STRATEGIES)",
    )
    common.add_argument(
        "--java-home",
        type=Path,
        default=os.environ.get("JDEBUG_LOCAL_JAVA_HOME") or None,
        help="JDK whose jcmd the local strategy uses when jattach is missing "
        "(env JDEBUG_LOCAL_JAVA_HOME)",
    )
    common.add_argument(
        "--deadline",
        type=int,
        default=int(os.environ.get("JDEBUG_STEP_DEADLINE_SECONDS", DEFAULT_STEP_DEADLINE_S)),
        help="seconds one diagnostic may take next to the JVM (env JDEBUG_STEP_DEADLINE_SECONDS)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help='run one command, e.g. "threaddump pod=x"')
    run.add_argument("text", nargs="+", help="the command text, as typed after /jdebug")
    sub.add_parser("console", parents=[common], help="read commands from stdin, one per line")
    sub.add_parser("serve", help="run the Slack bot (settings from the environment and .env)")
    return parser


def build_backend(args: argparse.Namespace) -> Backend:
    return choose_backend(
        args.kubeconfig,
        java_home=args.java_home,
        namespace=args.namespace,
        debug_image=args.debug_image,
        strategies=args.strategies,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        # A service logs one line per request and the audit record at info by default.
        configure_logging(level=os.environ.get("JDEBUG_LOG_LEVEL") or "info")
        return serve_main()
    configure_logging()
    backend = build_backend(args)
    if args.command == "run":
        return asyncio.run(
            run_text(" ".join(args.text), backend, sys.stdout, step_deadline_s=args.deadline)
        )
    return asyncio.run(console(backend, sys.stdin, sys.stdout))


if __name__ == "__main__":
    sys.exit(main())
