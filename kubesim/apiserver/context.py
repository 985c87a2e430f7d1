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
from kubesim.status import bad_request, request_entity_too_large

# The apiserver decodes at most this much of a write's body (k8s.io/apiserver/pkg/server/
# config.go, MaxRequestBodyBytes: twice etcd's 1.5 MiB, for JSON's overhead over protobuf).
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024


@dataclass(frozen=True)
class Ctx:
    request: web.Request
    info: RequestInfo
    user: User
    cluster: Cluster

    @property
    def query(self) -> Any:
        return self.request.query

    async def raw_body(self) -> bytes:
        """The request body, refused with the apiserver's 413 above its limit."""
        raw = await self.request.read()
        if len(raw) > MAX_REQUEST_BODY_BYTES:
            raise request_entity_too_large(MAX_REQUEST_BODY_BYTES)
        return raw

    async def body(self) -> dict[str, Any]:
        """The request body as an object; malformed bodies are the apiserver's 400."""
        raw = await self.raw_body()
        try:
            doc = yaml.safe_load(raw) if "yaml" in self.request.content_type else json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc
        if not isinstance(doc, dict):
            raise bad_request("the object provided is unrecognized (must be of type object)")
        return doc


def ok(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status)
