"""One parent message and its thread: post it, update it in place (throttled), and upload
the raw outputs into the thread as snippets or files.

Slack facts used here (facts/slack.md): chat.update edits by channel+ts; files_upload_v2
takes `thread_ts` of the *parent*; snippets are limited to 1 MB, so larger outputs go up
as plain files, and large ones gzipped. Raw outputs can be tens of MB: the big ones are
compressed slice by slice, and only one upload's bytes are held at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.report.snippets import Snippet
from handlers.slack.pacing import PACER

Block = dict[str, Any]

SNIPPET_LIMIT = 1_000_000
# Above this a plain file is not worth reading in Slack's viewer, and holding its bytes
# would cost the bot that much memory; gzip shrinks thread dumps ~10-20x.
GZIP_ABOVE = 8_000_000
# One files_upload_v2 call holds the bytes of all its files at once; keep that bounded.
BATCH_BYTES = 8_000_000
# chat.update is Tier 3; one edit per 2 s per message keeps us far from it and readable.
UPDATE_INTERVAL_S = 2.0
_SLICE_CHARS = 1 << 20

log = structlog.get_logger("jdebug.slack")


@dataclass(frozen=True)
class UploadItem:
    """One file as files_upload_v2 takes it: the bytes and how Slack should show them."""

    filename: str
    title: str
    data: bytes
    snippet: bool

    def as_sdk(self) -> dict[str, object]:
        item: dict[str, object] = {
            "content": self.data,
            "filename": self.filename,
            "title": self.title,
        }
        if self.snippet:
            item["snippet_type"] = "text"
        return item


class SlackThread:
    """The bot's message for one request, created on first `post`.

    With `root_ts` (a follow-up from a button) the message is a reply in that thread and
    files go to that root; otherwise the message is itself the thread's parent.
    Intermediate updates (`show`) are coalesced: at most one per `min_interval_s`, always
    the latest; `finish` replaces any that is still waiting.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        channel: str,
        root_ts: str | None = None,
        min_interval_s: float = UPDATE_INTERVAL_S,
    ) -> None:
        self.client = client
        self.channel = channel
        self.root_ts = root_ts
        self.min_interval_s = min_interval_s
        self.ts: str | None = None
        self._last_update = 0.0
        self._pending: tuple[str, list[Block]] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._sending = False

    @property
    def files_ts(self) -> str | None:
        """Where files go: always the thread's parent, never a reply."""
        return self.root_ts or self.ts

    async def post(self, text: str, blocks: Sequence[Block]) -> str:
        await PACER.wait(self.client.base_url, self.channel)
        response = await self.client.chat_postMessage(
            channel=self.channel, text=text, blocks=list(blocks), thread_ts=self.root_ts
        )
        self.ts = str(response["ts"])
        self._last_update = time.monotonic()
        return self.ts

    def show(self, text: str, blocks: Sequence[Block]) -> None:
        """Queue a progress update; it is sent when the throttle allows, if still current."""
        if self.ts is None:
            return
        self._pending = (text, list(blocks))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_pending())

    async def _flush_pending(self) -> None:
        while self._pending is not None:
            wait = self._last_update + self.min_interval_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            pending, self._pending = self._pending, None
            if pending is None or self.ts is None:
                return
            self._last_update = time.monotonic()
            self._sending = True
            try:
                await self.client.chat_update(
                    channel=self.channel, ts=self.ts, text=pending[0], blocks=pending[1]
                )
            except SlackApiError as error:
                # Progress is best effort; the final update tells the user what matters.
                log.warning("slack.progress_update_failed", error=error.response.get("error"))
            except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
                # slack_sdk passes aiohttp's own errors through: a lost connection must not
                # surface at close() and cost the request its audit record.
                log.warning("slack.progress_update_failed", error=type(error).__name__)
            finally:
                self._sending = False

    async def _stop_progress(self) -> None:
        """Drop waiting progress; let an update already on the wire land first, so the
        final one is never overtaken."""
        self._pending = None
        flusher, self._flusher = self._flusher, None
        if flusher is None or flusher.done():
            return
        if not self._sending:
            flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher

    async def finish(self, text: str, blocks: Sequence[Block]) -> None:
        """The last edit of the parent (result or error), sent at once."""
        await self._stop_progress()
        if self.ts is None:
            return
        self._last_update = time.monotonic()
        await self.client.chat_update(
            channel=self.channel, ts=self.ts, text=text, blocks=list(blocks)
        )

    async def close(self) -> None:
        await self._stop_progress()

    async def upload(self, snippets: Sequence[Snippet]) -> int:
        """Upload every raw output into the thread; return how many files were shared.

        Small outputs share one message (one files_upload_v2 call); big ones go one per
        call, so the bot never holds more than about BATCH_BYTES of encoded output.
        """
        thread_ts = self.files_ts
        if thread_ts is None or not snippets:
            return 0
        shared = 0
        for batch in _batches(snippets):
            await self.client.files_upload_v2(
                file_uploads=[item.as_sdk() for item in batch],
                channel=self.channel,
                thread_ts=thread_ts,
            )
            shared += len(batch)
        return shared


def _batches(snippets: Sequence[Snippet]) -> Iterator[list[UploadItem]]:
    """Upload items grouped so that one group's bytes stay within BATCH_BYTES."""
    batch: list[UploadItem] = []
    size = 0
    for snippet in snippets:
        item = upload_item(snippet)
        if batch and size + len(item.data) > BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item.data)
    if batch:
        yield batch


def utf8_length(text: str) -> int:
    """The UTF-8 size of `text` without encoding all of it at once."""
    if text.isascii():
        return len(text)
    return sum(len(piece.encode("utf-8")) for piece in _slices(text))


def _slices(text: str) -> Iterator[str]:
    for start in range(0, len(text), _SLICE_CHARS):
        yield text[start : start + _SLICE_CHARS]


def gzip_text(text: str) -> bytes:
    """`text` as UTF-8 in a gzip file, compressed slice by slice."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    parts = [compressor.compress(piece.encode("utf-8")) for piece in _slices(text)]
    parts.append(compressor.flush())
    return b"".join(parts)


def upload_item(snippet: Snippet) -> UploadItem:
    """A snippet up to 1 MB, a plain text file up to GZIP_ABOVE, gzip above that; bytes (an
    image, a recording) go up as they are, so Slack shows an image inline."""
    if isinstance(snippet.text, bytes):
        return UploadItem(snippet.filename, snippet.title, snippet.text, False)
    size = utf8_length(snippet.text)
    if size <= SNIPPET_LIMIT:
        return UploadItem(snippet.filename, snippet.title, snippet.text.encode(), True)
    if size <= GZIP_ABOVE:
        return UploadItem(snippet.filename, snippet.title, snippet.text.encode(), False)
    return UploadItem(
        snippet.filename + ".gz", snippet.title + " (gzip)", gzip_text(snippet.text), False
    )
