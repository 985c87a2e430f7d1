"""The three PATCH flavours the apiserver accepts: strategic merge, JSON merge and JSON patch.

Strategic merge follows a kind's schema (its list merge keys and patch strategies) or, for
Pods, MERGE_KEYS; it honours the `$setElementOrder`, `$patch`, `$retainKeys`,
`$deleteFromPrimitiveList` and `null` directives kubectl sends.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from kubesim.apiserver.schemas import Definitions, Schema
from kubesim.status import ApiError, bad_request

MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "volumeDevices": "devicePath",
}
ORDER = "$setElementOrder/"
DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
RETAIN = "$retainKeys"
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _field(schema: Schema | None, defs: Definitions | None, name: str) -> tuple[Any, str, set[str]]:
    """A field's schema, list merge key and patch strategies (`merge`, `retainKeys`, ...):
    from the kind's schema when there is one, else kubesim's table for Pods."""
    if schema is None or defs is None:
        key = MERGE_KEYS.get(name, "")
        return None, key, {"merge"} if key else set()
    resolved = defs.resolve(schema)
    prop = (resolved.get("properties") or {}).get(name)
    extra = resolved.get("additionalProperties")
    if prop is None and isinstance(extra, dict):
        prop = extra  # a map's values
    if prop is None:
        return {}, "", set()
    strategies = set(str(prop.get("x-kubernetes-patch-strategy", "")).split(",")) - {""}
    return prop, str(prop.get("x-kubernetes-patch-merge-key", "")), strategies


def _merge_list(
    old: list[Any], patch: list[Any], key: str, item: Any, defs: Definitions | None
) -> list[Any]:
    result = [copy.deepcopy(x) for x in old]
    for entry in patch:
        if not isinstance(entry, dict) or key not in entry:
            raise bad_request(f"map: {entry} does not contain declared merge key: {key}")
        index = next(
            (i for i, x in enumerate(result) if isinstance(x, dict) and x.get(key) == entry[key]),
            None,
        )
        if entry.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(strategic_merge({}, entry, item, defs))
        else:
            result[index] = strategic_merge(result[index], entry, item, defs)
    return result


def _order(items: list[Any], order: list[Any], key: str) -> list[Any]:
    if not key:  # a list of primitives: the order lists the values themselves
        ranked = [x for x in order if x in items]
    else:
        wanted = [o.get(key) for o in order if isinstance(o, dict)]
        ranked = [x for w in wanted for x in items if isinstance(x, dict) and x.get(key) == w]
    return ranked + [x for x in items if x not in ranked]


def strategic_merge(
    target: Any, patch: Any, schema: Schema | None = None, defs: Definitions | None = None
) -> Any:
    """apimachinery's strategicpatch, directives included, with the merge keys and strategies
    of `schema` (x-kubernetes-patch-merge-key / -strategy) or, without one, of MERGE_KEYS."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    orders = {}
    for name, value in patch.items():
        if name.startswith(ORDER):
            orders[name[len(ORDER) :]] = value
        elif name.startswith(DELETE_PRIMITIVE):
            field = name[len(DELETE_PRIMITIVE) :]
            result[field] = [x for x in result.get(field) or [] if x not in (value or [])]
        elif name.startswith("$"):
            continue
        elif value is None:
            result.pop(name, None)
        else:
            sub, key, strategies = _field(schema, defs, name)
            merge = "merge" in strategies
            items = defs.resolve(sub).get("items") if defs and isinstance(sub, dict) else None
            if isinstance(value, list) and merge and key:
                result[name] = _merge_list(result.get(name) or [], value, key, items, defs)
            elif isinstance(value, list) and merge:
                old = list(result.get(name) or [])
                result[name] = old + [x for x in value if x not in old]
            elif isinstance(value, dict):
                result[name] = strategic_merge(result.get(name), value, sub, defs)
            else:
                result[name] = copy.deepcopy(value)
    if isinstance(patch.get(RETAIN), list):
        result = {k: v for k, v in result.items() if k in patch[RETAIN]}
    for name, order in orders.items():
        _, key, strategies = _field(schema, defs, name)
        if isinstance(result.get(name), list) and "merge" in strategies and isinstance(order, list):
            result[name] = _order(result[name], order, key)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(
            f"the server rejected our request due to an error in our request: invalid path {path!r}"
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, list):
            doc = doc[int(part)]
        elif isinstance(doc, dict):
            doc = doc[part]
        else:
            raise KeyError(part)
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        try:
            kind, parts = op["op"], _pointer(op["path"])
            if kind in ("move", "copy"):
                value = copy.deepcopy(_walk(doc, _pointer(op["from"])))
                if kind == "move":
                    doc = _apply(doc, _pointer(op["from"]), "remove", None)
                doc = _apply(doc, parts, "add", value)
            elif kind == "test":
                if _walk(doc, parts) != op.get("value"):
                    raise ApiError(422, f"testing value {op['path']} failed", "Invalid")
            else:
                doc = _apply(doc, parts, kind, op.get("value"))
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(
                422,
                f"the server rejected our request due to an error in our request: {exc}",
                "Invalid",
            ) from exc
    return doc


def _apply(doc: Any, parts: list[str], kind: str, value: Any) -> Any:
    if not parts:
        return copy.deepcopy(value) if kind in ("add", "replace") else None
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if kind == "add":
            parent.insert(index, copy.deepcopy(value))
        elif kind == "remove":
            parent.pop(index)
        elif kind == "replace":
            parent[index] = copy.deepcopy(value)
    elif isinstance(parent, dict):
        if kind in ("remove", "replace") and last not in parent:
            raise KeyError(last)
        if kind == "remove":
            del parent[last]
        else:
            parent[last] = copy.deepcopy(value)
    else:
        raise KeyError(last)
    return doc


def apply_patch(
    target: dict[str, Any],
    content_type: str,
    body: bytes,
    schema: Schema | None = None,
    defs: Definitions | None = None,
) -> dict[str, Any]:
    """`body` applied to `target`; strategic merge follows `schema` when given."""
    kind = content_type.split(";")[0].strip()
    if kind not in (STRATEGIC, MERGE, JSON_PATCH, APPLY):
        raise ApiError(
            415,
            f"the body of the request was in an unknown format - accepted media "
            f"types include: {JSON_PATCH}, {MERGE}, {STRATEGIC}, {APPLY}",
            "UnsupportedMediaType",
        )
    try:
        if kind == APPLY:
            import yaml

            patch = yaml.safe_load(body)
        else:
            patch = json.loads(body)
    except (ValueError, Exception) as exc:
        raise bad_request(f"error decoding patch: {exc}") from exc
    if kind == JSON_PATCH:
        result = json_patch(target, patch)
    elif kind == MERGE:
        result = merge_patch(target, patch)
    else:
        result = strategic_merge(target, patch, schema, defs)
    if not isinstance(result, dict):
        raise bad_request("patch result is not an object")
    return result
