"""Parse an API path and method into what RBAC and the handlers need, as the apiserver does.

`/api/v1/namespaces/ns/pods/p/exec` becomes verb get, resource pods, subresource exec, name p.
"""

from __future__ import annotations

from dataclasses import dataclass

VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class RequestInfo:
    verb: str
    group: str
    version: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def parse(method: str, path: str, watch: bool) -> RequestInfo | None:
    """None for paths that are not resource paths (discovery, unknown prefixes)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        return None
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if resource == "namespaces" and namespace == "" and name:
        namespace = name
    if method in ("GET", "HEAD"):
        verb = "get" if name else ("watch" if watch else "list")
    elif method == "DELETE" and not name:
        verb = "deletecollection"
    else:
        verb = VERBS.get(method, method.lower())
    return RequestInfo(verb, group, version, resource, sub, namespace, name)
