"""The Kubernetes API's type schemas (the apiserver's OpenAPI definitions), for kubesim's
OpenAPI documents, strict field validation and strategic-merge patches.

They come from the `kubernetes-validate` package, which ships the upstream OpenAPI definitions
of each release as JSON Schema (`$defs`, with the `x-kubernetes-*` extensions kept).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

Schema = dict[str, Any]
REF = "#/$defs/"


@dataclass(frozen=True)
class Definitions:
    version: str
    defs: dict[str, Schema]

    def resolve(self, schema: Schema | None) -> Schema:
        """`schema` with a `$ref` followed (the ref's own description etc. are dropped)."""
        schema = schema or {}
        while "$ref" in schema:
            schema = self.defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        return schema

    def kind(self, group: str, version: str, kind: str) -> tuple[str, Schema] | None:
        """The definition name and schema of a top-level kind (x-kubernetes-group-version-kind)."""
        for name, schema in self.defs.items():
            for gvk in schema.get("x-kubernetes-group-version-kind") or []:
                if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (
                    group,
                    version,
                    kind,
                ):
                    return name, schema
        return None

    def closure(self, names: list[str]) -> dict[str, Schema]:
        """The named definitions and every definition they reference, directly or not."""
        seen: dict[str, Schema] = {}
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen or name not in self.defs:
                continue
            seen[name] = self.defs[name]
            todo += [ref.rsplit("/", 1)[-1] for ref in _refs(self.defs[name])]
        return seen


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["$ref"])] if "$ref" in node else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@functools.cache
def definitions(cluster_version: str) -> Definitions:
    """The definitions of the newest shipped release not newer than `cluster_version` (or the
    oldest shipped one)."""
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    wanted = tuple(int(x) for x in cluster_version.split(".")[:2])
    shipped = sorted(
        (tuple(int(x) for x in p.name[1:].split("-")[0].split(".")[:2]), p.name)
        for p in root.iterdir()
        if p.name.startswith("v") and p.name.endswith("-local")
    )
    fitting = [name for ver, name in shipped if ver <= wanted] or [shipped[0][1]]
    text = root.joinpath(fitting[-1]).joinpath("_definitions.json").read_text()
    return Definitions(fitting[-1], json.loads(text)["$defs"])


def unknown_fields(
    defs: Definitions, obj: Any, schema: Schema, path: str = "", prune: bool = False
) -> list[str]:
    """Paths of fields the schema does not declare, as the apiserver's strict decoding names
    them (`spec.template.spec.containers[0].foo`). With `prune` they are also removed, as
    decoding into the API's types drops them."""
    schema = defs.resolve(schema)
    found: list[str] = []
    if isinstance(obj, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, value in list(obj.items()):
            where = f"{path}.{key}" if path else str(key)
            if props is not None and key in props:
                found += unknown_fields(defs, value, props[key], where, prune)
            elif isinstance(extra, dict):
                found += unknown_fields(defs, value, extra, where, prune)
            elif props is not None and extra is not True:
                found.append(where)
                if prune:
                    del obj[key]
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(obj):
            found += unknown_fields(defs, item, schema["items"], f"{path}[{index}]", prune)
    return found
