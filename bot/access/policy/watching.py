"""Reloading the policy when its file changes, without a restart and without ever running
on a broken policy: an invalid new version is logged and the previous policy stays.

Polling rather than inotify, because a ConfigMap volume updates by swapping the `..data`
symlink to a new directory: the watched path's inode changes, not the file we opened.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from bot.access.policy.decisions import Policy
from bot.access.policy.loading import PolicyError
from bot.jvm.catalog import CATALOG, Tool

log = structlog.get_logger("jdebug.policy")

# What identifies one version of the file: where the symlinks lead, and the file's inode,
# size and times. A `..data` swap changes the first two even if size and mtime are equal.
Signature = tuple[str, int, int, int, int, int]


def _signature(path: Path) -> Signature | None:
    try:
        status = path.stat()  # follows the symlinks, so a swapped `..data` shows a new inode
        real = os.path.realpath(path)
    except OSError:
        return None
    return (
        real,
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


class PolicyWatcher:
    """Holds the current `policy` and replaces it when the file at `path` changes.

    The constructor loads the file and raises `PolicyError` if it is invalid, so a bad
    policy stops the bot at start. Later changes call `on_change(new_policy)`.
    """

    def __init__(
        self,
        path: str | Path,
        on_change: Callable[[Policy], None],
        *,
        interval_s: float = 10.0,
        catalog: Sequence[Tool] = CATALOG,
    ) -> None:
        self.path = Path(path)
        self.on_change = on_change
        self.interval_s = interval_s
        self._catalog = catalog
        # Taken before reading, so a change that lands during the read is seen next poll.
        self._signature = _signature(self.path)
        try:
            data = self.path.read_bytes()
        except OSError as error:
            raise PolicyError(f"policy file {self.path} cannot be read: {error.strerror}") from None
        self.policy = Policy.parse(data, source=str(self.path), catalog=catalog)
        self._digest = hashlib.sha256(data).digest()

    def poll(self) -> bool:
        """Check the file once; True when a new policy was installed and announced."""
        signature = _signature(self.path)
        if signature == self._signature:
            return False
        self._signature = signature
        if signature is None:
            log.warning("policy.file_missing", path=str(self.path), keeping="previous policy")
            return False
        try:
            data = self.path.read_bytes()
        except OSError as error:
            log.warning(
                "policy.unreadable",
                path=str(self.path),
                error=error.strerror,
                keeping="previous policy",
            )
            return False
        digest = hashlib.sha256(data).digest()
        if digest == self._digest:
            log.debug("policy.unchanged", path=str(self.path))
            return False
        try:
            policy = Policy.parse(data, source=str(self.path), catalog=self._catalog)
        except PolicyError as error:
            log.error(
                "policy.reload_rejected",
                path=str(self.path),
                error=error.message,
                keeping="previous policy",
            )
            return False
        self.policy, self._digest = policy, digest
        log.info("policy.reloaded", path=str(self.path), rules=len(policy.rules))
        self.on_change(policy)
        return True

    async def run(self) -> None:
        """Poll every `interval_s` until cancelled; a failing poll is logged, not fatal."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                # A policy file is a few kB: reading it inline is cheaper than a thread hop.
                self.poll()
            except Exception:
                log.exception("policy.watch_failed", path=str(self.path))
