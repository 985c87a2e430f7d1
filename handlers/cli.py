"""The `jdebug` command: `run "<text>"` once, `console` to read commands from stdin, or
`serve` to run the Slack bot (handlers/slack/app.py).

The text is exactly what a user types after `/jdebug` in Slack. Flags override the settings
of the environment and `.env` (bot/settings.py), which `serve` reads too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.access.gate import Gate, OpenGate, PolicyGate
from bot.access.impersonation import ActingAs, load_identity_table
from bot.access.policy import PolicyWatcher
from bot.logs import configure_logging
from bot.model.errors import JdebugError
from bot.session.backends import build_backends
from bot.session.service import JdebugService
from bot.settings import JdebugSettings, env_name
from handlers.slack.app import serve_main
from handlers.terminal import EXIT_BAD_INPUT, analyse, console, run_text

# flag -> the setting it overrides
_FLAGS: dict[str, str] = {
    "kubeconfig": "kubeconfig",
    "clusters_file": "clusters_file",
    "namespace": "namespace",
    "debug_image": "debug_image",
    "strategies": "strategies",
    "java_home": "local_java_home",
    "deadline": "step_deadline_seconds",
}


OUT_HELP = (
    "where files an answer comes with go (flame graph, recording); default: a new temp folder"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jdebug", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    for flag, field in _FLAGS.items():
        info = JdebugSettings.model_fields[field]
        names = [f"--{flag.replace('_', '-')}"] + (["-n"] if flag == "namespace" else [])
        common.add_argument(
            *names,
            default=None,
            type=Path if flag in ("java_home", "clusters_file") else str,
            help=f"{info.description} (env {env_name(JdebugSettings, field)})",
        )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", parents=[common], help='run one command, e.g. "threaddump pod=x"')
    run.add_argument("text", nargs="+", help="the command text, as typed after /jdebug")
    run.add_argument("--out", type=Path, default=None, help=OUT_HELP)
    console_parser = sub.add_parser(
        "console", parents=[common], help="read commands from stdin, one per line"
    )
    console_parser.add_argument("--out", type=Path, default=None, help=OUT_HELP)
    analyse = sub.add_parser(
        "analyse", help="summarise thread dumps and .jfr recordings you already have (no cluster)"
    )
    analyse.add_argument("files", nargs="+", type=Path, help="thread dumps, .jfr files")
    analyse.add_argument(
        "--event", choices=("cpu", "alloc", "lock"), default="cpu", help="for a .jfr: what to show"
    )
    analyse.add_argument("--out", type=Path, default=None, help=OUT_HELP)
    sub.add_parser("serve", help="run the Slack bot (settings from the environment and .env)")
    return parser


def settings_from(args: argparse.Namespace) -> JdebugSettings:
    overrides: dict[str, Any] = {
        field: getattr(args, flag) for flag, field in _FLAGS.items() if getattr(args, flag)
    }
    return JdebugSettings(**overrides)


def terminal_service(settings: JdebugSettings) -> JdebugService:
    """The core service as the terminal uses it: the policy file when one is set (else the
    terminal user may run everything), audit records only into JDEBUG_AUDIT_FILE."""
    backends = build_backends(settings)
    gate: Gate = OpenGate()
    if settings.policy_file is not None:
        watcher = PolicyWatcher(settings.policy_file, lambda _: None)
        gate = PolicyGate(
            watcher, settings.namespace, settings.policy_contact, backends.default_name
        )
    table = (
        load_identity_table(settings.impersonation_table) if settings.impersonation_table else None
    )
    acting_as = ActingAs("table", table) if settings.impersonation != "off" else None
    return JdebugService(settings, backends, gate, acting_as=acting_as, audit_to_log=False)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve_main()
    if args.command == "analyse":
        return analyse(args.files, sys.stdout, args.event, args.out)
    try:
        settings = settings_from(args)
    except ValidationError as error:
        invalid = "; ".join(
            f"{env_name(JdebugSettings, str(e['loc'][0])) if e['loc'] else 'settings'}: {e['msg']}"
            for e in error.errors()
        )
        sys.stderr.write(f"jdebug: invalid settings: {invalid} (see .env.example).\n")
        return EXIT_BAD_INPUT
    configure_logging(settings.log_level, settings.log_format)
    try:
        service = terminal_service(settings)
    except JdebugError as error:
        sys.stderr.write(f"jdebug: {error}\n")
        return EXIT_BAD_INPUT
    if args.command == "run":
        return asyncio.run(run_text(" ".join(args.text), service, sys.stdout, files=args.out))
    return asyncio.run(console(service, sys.stdin, sys.stdout, files=args.out))


if __name__ == "__main__":
    sys.exit(main())
