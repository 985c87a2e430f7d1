"""`?fieldValidation=Strict|Warn|Ignore` on create, update and patch, as the apiserver decodes.

Unknown fields are found against the release's schemas (kubesim.apiserver.schemas). The
wording follows staging/src/k8s.io/apiserver/pkg/endpoints/handlers: create and update answer
400 `<Kind> in version "v1" cannot be handled as a <Kind>: strict decoding error: unknown field
"spec.x"` (rest.go transformDecodeError); a patch answers 422 on the field `patch` (patch.go
applyPatchToObject); Warn, the default, answers with a `Warning: 299` header per field.
"""

from __future__ import annotations

import json
from typing import Any

from kubesim.apiserver import schemas
from kubesim.status import ApiError, Cause, bad_request

STRICT, WARN, IGNORE = "Strict", "Warn", "Ignore"


def directive(query: Any) -> str:
    value = str(query.get("fieldValidation", "") or WARN)
    if value not in (STRICT, WARN, IGNORE):
        raise bad_request(
            f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{value}"'
        )
    return value


def unknown(obj: Any, group: str, version: str, kind: str, cluster_version: str) -> list[str]:
    """The unknown fields of `obj`, which are dropped from it (whatever the directive, the
    apiserver never stores them)."""
    defs = schemas.definitions(cluster_version)
    found = defs.kind(group, version, kind)
    if found is None or not isinstance(obj, dict):
        return []
    return schemas.unknown_fields(defs, obj, found[1], prune=True)


def _decoding_error(fields: list[str]) -> str:
    return "strict decoding error: " + ", ".join(f'unknown field "{f}"' for f in fields)


def check_body(
    query: Any, obj: Any, group: str, version: str, kind: str, cluster_version: str
) -> list[str]:
    """For create and update: raise on unknown fields under Strict, else the warnings to send."""
    mode = directive(query)
    fields = unknown(obj, group, version, kind, cluster_version)
    if mode == IGNORE:
        return []
    if fields and mode == STRICT:
        why = _decoding_error(fields)
        raise bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {why}')
    return [f'unknown field "{f}"' for f in fields]


def check_patched(
    query: Any,
    patch: bytes,
    result: Any,
    group: str,
    version: str,
    kind: str,
    cluster_version: str,
) -> list[str]:
    """For patches: the patched object's unknown fields, as a 422 on `patch` under Strict."""
    mode = directive(query)
    fields = unknown(result, group, version, kind, cluster_version)
    if mode == IGNORE:
        return []
    if fields and mode == STRICT:
        try:
            shown = json.dumps(json.loads(patch), separators=(",", ":"))
        except ValueError:
            shown = patch.decode(errors="replace")
        text = f"Invalid value: {json.dumps(shown)}: {_decoding_error(fields)}"
        raise ApiError(
            422,
            f' "" is invalid: patch: {text}',
            "Invalid",
            {},
            [Cause("FieldValueInvalid", text, "patch")],
        )
    return [f'unknown field "{f}"' for f in fields]


def warning_headers(warnings: list[str]) -> list[tuple[str, str]]:
    """RFC 7234 warn-code 299 with the apiserver's `-` agent, as `kubectl` prints them."""
    return [("Warning", f"299 - {json.dumps(w)}") for w in warnings]
