"""The "Analyse with jdebug" message shortcut: summarise the thread dump or recording in a
message (a shared file, or a dump pasted as text) and answer in that message's thread.

Nothing runs against a JVM. Files are downloaded with the bot token (`url_private_download`,
scope files:read) and read as they arrive, up to the same cap as `jdebug analyse`; the
answer is redacted like every other. The requester's limits apply as to any request.
"""

from __future__ import annotations

import html
import io
import tempfile
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.model.errors import Busy
from bot.model.results import Analysis
from bot.report.snippets import Snippet
from bot.session.analyse import MAX_BYTES, analyse_stream
from bot.session.service import JdebugService
from handlers.slack.blocks import TEXT_LIMIT, clip, error_text, escape, section
from handlers.slack.reporter import Say, slack_refusal
from handlers.slack.thread import SlackThread

log = structlog.get_logger("jdebug.slack")

CALLBACK_ID = "jdebug_analyse"
NOTHING = (
    "✖ That message holds no file and no text to analyse; use the shortcut on a message with a "
    "thread dump (pasted or as a file) or a .jfr recording."
)
DOWNLOAD_S = 60


async def analyse_message(
    service: JdebugService,
    client: AsyncWebClient,
    body: Mapping[str, Any],
    say: Say,
) -> None:
    """Answer one shortcut: the summary of the message's first file, else of its text."""
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id", ""))
    message = body.get("message") or {}
    ts = str(message.get("thread_ts") or message.get("ts") or "")
    if not user or not channel or not ts:
        await say(NOTHING)
        return
    permit = service.limiter.admit(user)
    if isinstance(permit, Busy):
        await say(error_text(permit))
        return
    with permit:
        permit.start()
        try:
            name, analysis = await _analysis(client, message)
        except _Refused as refused:
            await say(refused.sentence)
            return
        thread = SlackThread(client, channel, root_ts=ts)
        title = f"*jdebug analyse* · `{escape(name)}` · requested by <@{user}>"
        blocks = [section(title), section(f"*{escape(analysis.headline)}*")]
        if analysis.findings:
            blocks.append(section("\n".join(f"• {escape(f)}" for f in analysis.findings)))
        if analysis.notes:
            blocks.append(section("\n".join(f"ⓘ {escape(n)}" for n in analysis.notes)))
        text = clip(f"jdebug analyse · {escape(name)}: {escape(analysis.headline)}", TEXT_LIMIT)
        try:
            await thread.post(text, blocks)
            files = [Snippet(f"{name}-{a.name}", a.title, a.data) for a in analysis.attachments]
            if files:
                await thread.upload(files)
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown"))
            log.warning("slack.analyse_failed", error=code)
            await say(slack_refusal(code))


class _Refused(Exception):
    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


async def _analysis(client: AsyncWebClient, message: Mapping[str, Any]) -> tuple[str, Analysis]:
    files = [f for f in message.get("files") or [] if isinstance(f, Mapping)]
    if files:
        return await _file(client, files[0])
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        # Slack escapes &, < and > in message text; the dump's own `<0x…>` come back.
        data = html.unescape(text).encode()
        return "pasted text", analyse_stream(io.BytesIO(data), "pasted text")
    raise _Refused(NOTHING)


async def _file(client: AsyncWebClient, file: Mapping[str, Any]) -> tuple[str, Analysis]:
    name = str(file.get("name") or "file")
    size = file.get("size")
    if isinstance(size, int) and size > MAX_BYTES:
        raise _Refused(
            f"✖ {escape(name)} is {size >> 20} MB, more than the {MAX_BYTES >> 20} MB jdebug "
            "analyses; share the dump itself (not an archive of many) or a shorter recording."
        )
    url = file.get("url_private_download") or file.get("url_private")
    # The bot token goes only to Slack's own file host (or the API host it is set to use).
    hosts = ("https://files.slack.com/", client.base_url.rsplit("/api/", 1)[0] + "/")
    if not isinstance(url, str) or not url.startswith(hosts):
        raise _Refused(f"✖ Slack gave no download address for {escape(name)}.")
    headers = {"Authorization": f"Bearer {client.token}"}
    with tempfile.TemporaryFile() as spool:
        try:
            timeout = aiohttp.ClientTimeout(total=DOWNLOAD_S)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url, headers=headers) as answer,
            ):
                if answer.content_type == "text/html":  # Slack's sign-in page: no access
                    raise _Refused(
                        f"✖ jdebug may not read {escape(name)}: give the Slack app the "
                        "files:read scope and reinstall it."
                    )
                got = 0
                async for chunk in answer.content.iter_chunked(1 << 16):
                    got += len(chunk)
                    if got > MAX_BYTES:
                        raise _Refused(
                            f"✖ {escape(name)} is larger than the {MAX_BYTES >> 20} MB jdebug "
                            "analyses."
                        )
                    spool.write(chunk)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("slack.download_failed", error=type(error).__name__)
            failed = f"✖ {escape(name)} could not be downloaded from Slack; try again."
            raise _Refused(failed) from error
        spool.seek(0)
        return name, analyse_stream(spool, name)
