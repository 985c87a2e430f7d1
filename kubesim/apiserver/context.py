"""What every API handler receives: the request, its parsed RequestInfo, the caller, the cluster."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web

from kubesim.apiserver.auth import User
from kubesim.apiserver.requestinfo import RequestInfo
from kubesim.cluster import Cluster
from kubesim.status import bad_request


@dataclass(frozen=True)
class Ctx:
    request: web.Request
    info: RequestInfo
    user: User
    cluster: Cluster

    @property
    def query(self) -> Any:
        return self.request.query

    async def body(self) -> dict[str, Any]:
        """The request body as an object; malformed bodies are the apiserver's 400."""
        raw = await self.request.read()
        try:
            doc = yaml.safe_load(raw) if "yaml" in self.request.content_type else json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc
        if not isinstance(doc, dict):
            raise bad_request("the object provided is unrecognized (must be of type object)")
        return doc


def ok(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status)
