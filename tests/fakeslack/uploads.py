"""The three-step external upload: `files.getUploadURLExternal`, the POST of the bytes to the
upload URL, and `files.completeUploadExternal`, which shares the file into a channel or thread.

Follows slack_sdk's `files_upload_v2` (web/async_client.py) and the two methods' pages at
docs.slack.dev/reference/methods; the choices Slack leaves open are listed in the package docstring.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from tests.fakeslack.channels import require_channel
from tests.fakeslack.errors import SlackError
from tests.fakeslack.mentions import mentions_in_message
from tests.fakeslack.records import JsonDict, UploadedFile
from tests.fakeslack.workspace import Workspace, slack_id


class Uploads:
    def __init__(self, workspace: Workspace, origin: Callable[[], str]) -> None:
        self.ws = workspace
        self.origin = origin
        self._keys: dict[str, str] = {}  # upload URL key -> file id

    def get_upload_url_external(self, params: JsonDict) -> JsonDict:
        filename = str(params.get("filename") or "")
        try:
            length = int(params.get("length", ""))
        except ValueError as e:
            raise SlackError("invalid_arguments") from e
        if not filename or length < 0:
            raise SlackError("invalid_arguments")
        # No size limit for snippets: Slack's method page names none (an earlier version of
        # this fake refused > 1,000,000 bytes, a number taken from the bot's own notes).
        snippet_type = params.get("snippet_type") or None
        file_id = slack_id("F")
        key = slack_id("", 24)
        self._keys[key] = file_id
        self.ws.pending_uploads[file_id] = UploadedFile(
            id=file_id,
            filename=filename,
            length_declared=length,
            snippet_type=str(snippet_type) if snippet_type else None,
            alt_txt=params.get("alt_txt"),
        )
        return {"ok": True, "upload_url": f"{self.origin()}/upload/v1/{key}", "file_id": file_id}

    def file_id_for(self, key: str) -> str | None:
        return self._keys.get(key)

    def store(self, key: str, data: bytes) -> UploadedFile | None:
        """Keep the bytes POSTed to an upload URL; None if the URL was never handed out."""
        pending = self.ws.pending_uploads.get(self._keys.get(key, ""))
        if pending is None:
            return None
        stored = replace(pending, data=data)
        self.ws.pending_uploads[stored.id] = stored
        return stored

    def _file_json(self, f: UploadedFile) -> JsonDict:
        now = int(time.time())
        return {
            "id": f.id,
            "created": now,
            "timestamp": now,
            "name": f.filename,
            "title": f.title,
            "mimetype": "text/plain",
            "filetype": f.snippet_type or "text",
            "pretty_type": "Plain Text",
            "user": self.ws.identity.bot_user_id,
            "mode": "snippet" if f.snippet_type else "hosted",
            "size": len(f.data or b""),
            "is_external": False,
            "url_private": f"{self.origin()}/files-pri/{f.id}/{f.filename}",
            "permalink": f"https://{self.ws.identity.team_domain}.slack.com/files/{f.id}",
            # Sharing happens asynchronously at Slack, so the answer lists no channels yet.
            "channels": [],
            "groups": [],
            "ims": [],
        }

    def complete_upload_external(self, params: JsonDict) -> JsonDict:
        items = params.get("files")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise SlackError("invalid_arguments")
        channel: str | None = None
        if params.get("channel_id"):
            channel = require_channel(self.ws, params, "channel_id")
        elif params.get("channels"):
            channel = require_channel(self.ws, params, "channels")
        # Refuse before changing anything, so a failed call leaves no half-shared upload.
        for item in items:
            pending = self.ws.pending_uploads.get(str(item.get("id")))
            if pending is None or pending.data is None:
                raise SlackError("file_not_found")
        thread_ts = params.get("thread_ts") or None
        comment = params.get("initial_comment")
        if isinstance(comment, str):  # shared with the files as a message: Slack parses it
            self.ws.mentions.extend(
                mentions_in_message("files.completeUploadExternal", comment, [])
            )
        done = []
        for item in items:
            f = replace(
                self.ws.pending_uploads.pop(str(item["id"])),
                title=item.get("title") or None,
                channel=channel,
                thread_ts=str(thread_ts) if thread_ts else None,
                initial_comment=params.get("initial_comment") or None,
                completed=True,
            )
            self.ws.files[f.id] = f
            done.append(self._file_json(f))
        return {"ok": True, "files": done}
