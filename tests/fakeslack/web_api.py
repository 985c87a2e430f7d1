"""The fake's HTTP endpoints: the Web API (`/api/<method>`), upload URLs (`/upload/v1/<key>`)
and `response_url`s (`/commands/<team>/<n>/<secret>`), with auth, faults, delays and recording.

Request parsing accepts what slack_sdk sends: query string plus form or JSON body, and the token
in `Authorization: Bearer` (or a `token` argument). What each method does is in messages.py
and uploads.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from aiohttp import BodyPartReader, web

from tests.fakeslack import limits
from tests.fakeslack.blocks import check_message_blocks
from tests.fakeslack.errors import SlackError
from tests.fakeslack.faults import RESPONSE_URL, UPLOAD, Fault, FaultPlan
from tests.fakeslack.mentions import mentions_in_message
from tests.fakeslack.messages import Messages
from tests.fakeslack.rate_limits import RateLimits
from tests.fakeslack.records import Call, JsonDict, ResponsePost
from tests.fakeslack.scopes import EMAIL_SCOPE, require_scope
from tests.fakeslack.uploads import Uploads
from tests.fakeslack.workspace import Workspace

_JSON_PARAMS = ("blocks", "attachments", "files", "view")


# What url_private answers without a valid token: Slack's sign-in page, status 200.
_SIGN_IN_PAGE = "<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"


async def read_params(request: web.Request) -> JsonDict:
    """Query string, then form or JSON body, the way Slack accepts arguments."""
    params: JsonDict = dict(request.query)
    if request.body_exists:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for name in _JSON_PARAMS:
        if isinstance(params.get(name), str):
            try:
                params[name] = json.loads(params[name])
            except ValueError as e:
                error = "invalid_blocks_format" if name == "blocks" else "invalid_json"
                raise SlackError(error) from e
    return params


def _json(body: JsonDict, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


class WebApi:
    """aiohttp handlers that read and write a `Workspace`."""

    def __init__(
        self,
        workspace: Workspace,
        faults: FaultPlan,
        origin: Callable[[], str],
        issue_socket_url: Callable[[], str],
        *,
        scopes: tuple[str, ...],
        rate_limits: RateLimits,
        any_token: bool = False,
    ) -> None:
        self.ws = workspace
        self.faults = faults
        self.scopes = scopes
        self.rate_limits = rate_limits
        # Standalone (`python -m tests.fakeslack`): any xoxb-/xapp- token is the bot's or the app's.
        self.any_token = any_token
        self.issue_socket_url = issue_socket_url
        self.messages = Messages(workspace)
        self.uploads = Uploads(workspace, origin)
        self._methods: dict[str, Callable[[JsonDict], JsonDict]] = {
            "auth.test": self._auth_test,
            "apps.connections.open": self._apps_connections_open,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroup_users,
            "chat.postMessage": self.messages.post_message,
            "chat.update": self.messages.update,
            "chat.postEphemeral": self.messages.post_ephemeral,
            "views.publish": self.messages.publish_view,
            "files.getUploadURLExternal": self.uploads.get_upload_url_external,
            "files.completeUploadExternal": self.uploads.complete_upload_external,
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/api/{method}", self.api),
            web.post("/upload/v1/{key}", self.upload),
            web.post("/commands/{team}/{n}/{secret}", self.response_url),
            web.get("/files-pri/{team_file}/{name}", self.private_file),
            web.get("/files-pri/{team_file}/download/{name}", self.private_file),
        ]

    # --- shared plumbing ---------------------------------------------------------------------

    def _record(
        self,
        method: str,
        params: JsonDict,
        request: web.Request,
        started: float,
        status: int,
        response: JsonDict | None,
        response_headers: dict[str, str] | None = None,
    ) -> None:
        call = Call(
            method, params, dict(request.headers), started, status, response, response_headers or {}
        )
        self.ws.calls.append(call)
        self.ws.changed()

    async def _planned(self, method: str) -> Fault | None:
        delay = self.faults.delay_for(method)
        if delay:
            await asyncio.sleep(delay)
        return self.faults.take(method)

    def _faulted(
        self, method: str, fault: Fault, params: JsonDict, request: web.Request, started: float
    ) -> web.Response:
        if fault.drop:  # recorded as status 0: no answer at all
            self._record(method, params, request, started, 0, None)
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=204)
        self._record(method, params, request, started, fault.status, fault.body(), fault.headers())
        return _json(fault.body(), fault.status, fault.headers())

    def _check_token(self, method: str, request: web.Request, params: JsonDict) -> None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
        token = token or params.pop("token", None)
        ident = self.ws.identity
        if not token:
            raise SlackError("not_authed")
        if self.any_token and token.startswith(("xoxb-", "xapp-")):
            is_app = token.startswith("xapp-")
        elif token in (ident.bot_token, ident.app_token):
            is_app = token == ident.app_token
        else:
            raise SlackError("invalid_auth")
        # App-level tokens open connections and nothing else; bot tokens cannot open them.
        if (method == "apps.connections.open") != is_app:
            raise SlackError("not_allowed_token_type")

    def _retry_after(self, method: str, params: JsonDict) -> int | None:
        channel = params.get("channel")
        return self.rate_limits.retry_after(method, str(channel) if channel else None)

    # --- /api/<method> -----------------------------------------------------------------------

    async def api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        started = time.monotonic()
        params: JsonDict = {}
        try:
            params = await read_params(request)
            fault = await self._planned(method)
            if fault is not None:
                params.pop("token", None)
                return self._faulted(method, fault, params, request, started)
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method")
            self._check_token(method, request, params)
            require_scope(method, self.scopes)
            wait = self._retry_after(method, params)
            if wait is not None:
                body, headers = {"ok": False, "error": "ratelimited"}, {"Retry-After": str(wait)}
                self._record(method, params, request, started, 429, body, headers)
                return _json(body, 429, headers)
            body = handler(params)
        except SlackError as e:
            body = e.body()
        self._record(method, params, request, started, 200, body)
        return _json(body)

    def _auth_test(self, params: JsonDict) -> JsonDict:
        ident = self.ws.identity
        return {
            "ok": True,
            "url": f"https://{ident.team_domain}.slack.com/",
            "team": ident.team_name,
            "user": ident.bot_name,
            "team_id": ident.team_id,
            "user_id": ident.bot_user_id,
            "bot_id": ident.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: JsonDict) -> JsonDict:
        return {"ok": True, "url": self.issue_socket_url()}

    def _usergroup_users(self, params: JsonDict) -> JsonDict:
        """usergroups.users.list (docs.slack.dev/reference/methods/usergroups.users.list): the
        member IDs of one user group; `no_such_subteam` for an unknown one."""
        members = self.ws.usergroups.get(str(params.get("usergroup", "")))
        if members is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(members)}

    async def private_file(self, request: web.Request) -> web.Response:
        """`url_private(_download)` of a shared file: the bytes, with the bot token as
        `Authorization: Bearer` and the files:read scope ("Downloading files", Slack docs);
        otherwise Slack answers with its sign-in page (HTML), not an error code."""
        started = time.monotonic()
        file_id = request.match_info["team_file"].rpartition("-")[2]
        auth = request.headers.get("Authorization", "")
        params: JsonDict = {"file": file_id}
        allowed = auth == f"Bearer {self.ws.identity.bot_token}" and "files:read" in self.scopes
        data = self.ws.shared_files.get(file_id)
        if not allowed or data is None:
            self._record("files-pri", params, request, started, 200, None)
            return web.Response(text=_SIGN_IN_PAGE, content_type="text/html")
        self._record("files-pri", params, request, started, 200, None)
        return web.Response(body=data, content_type="application/octet-stream")

    def _users_info(self, params: JsonDict) -> JsonDict:
        user = self.ws.users.get(str(params.get("user", "")))
        if user is None:
            raise SlackError("user_not_found")
        profile: JsonDict = {"real_name": user.real_name, "display_name": user.name}
        if user.email is not None and EMAIL_SCOPE in self.scopes:
            profile["email"] = user.email
        return {
            "ok": True,
            "user": {
                "id": user.id,
                "team_id": self.ws.identity.team_id,
                "name": user.name,
                "deleted": user.deleted,
                "real_name": user.real_name,
                "tz": user.tz,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "profile": profile,
            },
        }

    # --- /upload/v1/<key> ----------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        key = request.match_info["key"]
        params: JsonDict = {"file_id": self.uploads.file_id_for(key)}
        fault = await self._planned(UPLOAD)
        if fault is not None:
            return self._faulted(UPLOAD, fault, params, request, started)
        # Slack takes raw bytes or a multipart form; slack_sdk sends raw bytes.
        data = b""
        if request.content_type == "multipart/form-data":
            async for part in await request.multipart():
                if isinstance(part, BodyPartReader):
                    data = await part.read()
                    break
        else:
            data = await request.read()
        stored = self.uploads.store(key, data)
        params["length"] = len(data)
        if stored is None:
            self._record(UPLOAD, params, request, started, 404, None)
            return web.Response(status=404, text="Not Found")
        self._record(UPLOAD, params, request, started, 200, None)
        # slack_sdk reads this answer as text/plain; anything else is parsed as JSON.
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    # --- response_url ------------------------------------------------------------------------

    async def response_url(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        target = self.ws.response_urls.get(request.match_info["secret"])
        body: JsonDict = {}
        if request.content_type == "application/json":
            parsed = await request.json()
            body = parsed if isinstance(parsed, dict) else {}
        fault = await self._planned(RESPONSE_URL)
        if fault is not None:
            return self._faulted(RESPONSE_URL, fault, body, request, started)
        refusal = None
        if target is None:
            refusal = "invalid_token"
        elif sum(1 for r in self.ws.responses if r.url == target.url) >= limits.RESPONSE_URL_USES:
            refusal = "used_url"
        else:
            refusal = self._response_refusal(body)
        if refusal is None and target is not None:
            self.ws.mentions.extend(
                mentions_in_message(RESPONSE_URL, body.get("text"), body.get("blocks") or [])
            )
            self.ws.responses.append(
                ResponsePost(target.url, target.channel_id, target.user_id, body, time.monotonic())
            )
            self._record(RESPONSE_URL, body, request, started, 200, None)
            return web.Response(text="ok", content_type="text/plain")
        status = 400 if refusal in ("invalid_blocks", "no_text") else 404
        self._record(RESPONSE_URL, body, request, started, status, None)
        return web.Response(status=status, text=refusal)

    @staticmethod
    def _response_refusal(body: JsonDict) -> str | None:
        """Why Slack would refuse this response_url message (answered as plain text), if it would.

        The blocks are judged as a message's; the cumulative-text limit is not applied here,
        since the same blocks go through a response_url (slackapi/bolt-js#2867)."""
        if not body.get("text") and not body.get("blocks") and not body.get("delete_original"):
            return "no_text"
        try:
            check_message_blocks(body.get("blocks") or [], total_limit=False)
        except SlackError as e:
            return e.error
        return None
