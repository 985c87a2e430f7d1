"""`/openapi/v3` and `/openapi/v3/<group-version>`: the documents kubectl reads before it writes.

kubectl (cli-runtime's query_param_verifier_v3.go) looks for a `fieldValidation` query parameter
on the PATCH operation tagged with the kind's `x-kubernetes-group-version-kind`; finding it, it
sends `?fieldValidation=Strict` and leaves validation to the server. `kubectl apply` also reads
`components.schemas` for the kind's list merge keys. The schemas are the release's own
(kubesim.apiserver.schemas); OpenAPI v2 is protobuf only (client-go's OpenAPISchema), so it is
not served.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from kubesim.apiserver import discovery, schemas
from kubesim.apiserver.discovery import Resource

V3 = "/openapi/v3"
COMPONENTS = "#/components/schemas/"
# Query parameters the apiserver declares on writes (staging/src/k8s.io/apiserver/pkg/endpoints/
# installer.go adds dryRun, fieldManager and fieldValidation to create, update and patch).
WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
# The PATCH body types (kubectl's apply patcher reads them: strategic merge only if listed).
PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)


def _gv(r: Resource) -> str:
    return f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _op(r: Resource, action: str, writes: bool, ref: str) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if action == "patch":
        obj = {"schema": {"type": "object"}}
        body = {"requestBody": {"content": dict.fromkeys(PATCH_TYPES, obj), "required": True}}
    return {
        **body,
        "operationId": f"{action}{r.kind}",
        "parameters": [_query(p) for p in WRITE_PARAMS] if writes else [],
        "responses": {
            "200": {"content": {"application/json": {"schema": {"$ref": COMPONENTS + ref}}}}
        },
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    }


def _paths(r: Resource, ref: str) -> dict[str, Any]:
    base = f"/{_gv(r)}/namespaces/{{namespace}}/{r.name}" if r.namespaced else f"/{_gv(r)}/{r.name}"
    collection: dict[str, Any] = {}
    item: dict[str, Any] = {}
    verbs = {
        "list": (collection, "get"),
        "create": (collection, "post"),
        "get": (item, "get"),
        "update": (item, "put"),
        "patch": (item, "patch"),
        "delete": (item, "delete"),
    }
    for verb, (where, method) in verbs.items():
        if verb in r.verbs:
            where[method] = _op(r, verb, verb in ("create", "update", "patch"), ref)
    out = {base: collection} if collection else {}
    if item:
        out[base + "/{name}"] = item
    return out


def _upstream_form(node: Any) -> Any:
    """JSON Schema back to OpenAPI: `#/$defs/X` refs to components, `[t, "null"]` to `t`."""
    if isinstance(node, list):
        return [_upstream_form(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = COMPONENTS + str(value).rsplit("/", 1)[-1]
        elif key == "type" and isinstance(value, list):
            kept = [t for t in value if t != "null"]
            if kept:
                out[key] = kept[0]
        else:
            out[key] = _upstream_form(value)
    return out


@functools.cache
def _documents(cluster_version: str) -> dict[str, bytes]:
    defs = schemas.definitions(cluster_version)
    docs: dict[str, dict[str, Any]] = {}
    kinds: dict[str, list[str]] = {}
    for r in discovery.RESOURCES:
        found = defs.kind(r.group, r.version, r.kind)
        if found is None:
            continue
        info = {"title": "Kubernetes", "version": f"v{cluster_version}"}
        doc = docs.setdefault(_gv(r), {"openapi": "3.0.0", "info": info, "paths": {}})
        doc["paths"].update(_paths(r, found[0]))
        kinds.setdefault(_gv(r), []).append(found[0])
    for gv, doc in docs.items():
        doc["components"] = {"schemas": _upstream_form(defs.closure(kinds[gv]))}
    return {gv: json.dumps(doc).encode() for gv, doc in docs.items()}


def _hash(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest()[:128].upper()


def document(path: str, cluster_version: str) -> bytes | None:
    """The body for `path` (under /openapi/v3), or None when there is no such document."""
    docs = _documents(cluster_version)
    if path.rstrip("/") == V3:
        index = {
            "paths": {
                gv: {"serverRelativeURL": f"{V3}/{gv}?hash={_hash(body)}"}
                for gv, body in docs.items()
            }
        }
        return json.dumps(index).encode()
    return docs.get(path[len(V3) + 1 :].strip("/"))
