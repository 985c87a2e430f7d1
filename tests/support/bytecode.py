"""Compiled bytecode for a `jdebug serve` a test starts, as the bot's image has it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def precompile(env: dict[str, str], cache: Path) -> None:
    """Give the bot compiled bytecode, as its image has (deploy/Dockerfile compiles it at
    build time). Without it, each start compiles the kubernetes client's 63,000-line
    CoreV1Api module, and that alone lifts the peak RSS by some 70 MB."""
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import handlers.slack.app, kubernetes.client; kubernetes.client.CoreV1Api",
        ],
        env=env,
        check=True,
        timeout=120,
    )
