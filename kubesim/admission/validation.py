"""Pod validation with the apiserver's field paths and messages (create and ephemeral updates).

Each rule yields a `Cause` whose message is the one `field.ErrorList` prints, e.g.
`Forbidden: cannot be set for an Ephemeral Container`; `status.invalid` builds the 422.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubesim.status import Cause

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
EPHEMERAL_FORBIDDEN = (
    "ports",
    "resources",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "restartPolicy",
    "resizePolicy",
)
FORBIDDEN_EPHEMERAL = "Forbidden: cannot be set for an Ephemeral Container"
RESTART_POLICIES = ("Always", "OnFailure", "Never")


def required(path: str) -> Cause:
    return Cause("FieldValueRequired", "Required value", path)


def duplicate(path: str, value: str) -> Cause:
    return Cause("FieldValueDuplicate", f"Duplicate value: {json.dumps(value)}", path)


def not_found(path: str, value: str) -> Cause:
    return Cause("FieldValueNotFound", f"Not found: {json.dumps(value)}", path)


def forbidden(path: str, detail: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {detail}", path)


def invalid_value(path: str, value: Any, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {json.dumps(value)}: {detail}", path)


def _label_error(value: str) -> str:
    return (
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
        "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    )


def _container_basics(c: dict[str, Any], path: str) -> list[Cause]:
    causes = []
    name = c.get("name")
    if not name:
        causes.append(required(f"{path}.name"))
    elif not DNS_LABEL.match(str(name)) or len(str(name)) > 63:
        causes.append(invalid_value(f"{path}.name", name, _label_error(str(name))))
    if not c.get("image"):
        causes.append(required(f"{path}.image"))
    return causes


def _names(spec: dict[str, Any], causes: list[Cause]) -> set[str]:
    seen: set[str] = set()
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(key) or []):
            name = str(c.get("name") or "")
            if name and name in seen:
                causes.append(duplicate(f"spec.{key}[{i}].name", name))
            seen.add(name)
    return seen


def validate_new_pod(pod: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    name = str(meta.get("name") or "")
    if not name:
        causes.append(
            Cause(
                "FieldValueRequired",
                "Required value: name or generateName is required",
                "metadata.name",
            )
        )
    elif not DNS_SUBDOMAIN.match(name) or len(name) > 253:
        causes.append(
            invalid_value(
                "metadata.name",
                name,
                "a lowercase RFC 1123 subdomain must "
                "consist of lower case alphanumeric characters, '-' or '.', "
                "and must start and end with an alphanumeric character",
            )
        )
    if not spec.get("containers"):
        causes.append(required("spec.containers"))
    for i, c in enumerate(spec.get("containers") or []):
        causes += _container_basics(c, f"spec.containers[{i}]")
    _names(spec, causes)
    if spec.get("ephemeralContainers"):
        causes.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    policy = spec.get("restartPolicy", "Always")
    if policy not in RESTART_POLICIES:
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {json.dumps(policy)}: "
                'supported values: "Always", "OnFailure", "Never"',
                "spec.restartPolicy",
            )
        )
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and (not isinstance(deadline, int) or not 1 <= deadline <= 2**31 - 1):
        causes.append(
            invalid_value(
                "spec.activeDeadlineSeconds",
                deadline,
                "must be between 1 and 2147483647, inclusive",
            )
        )
    return causes


def _is_empty(value: Any) -> bool:
    return value in (None, {}, [], "")


def validate_ephemeral_update(
    old: dict[str, Any], new_list: list[dict[str, Any]], regular_spec: dict[str, Any]
) -> list[Cause]:
    """`pods/ephemeralcontainers` rules: forbidden fields, names, target, immutability."""
    causes: list[Cause] = []
    for i, c in enumerate(new_list):
        path = f"spec.ephemeralContainers[{i}]"
        causes += _container_basics(c, path)
        for key in EPHEMERAL_FORBIDDEN:
            if not _is_empty(c.get(key)):
                causes.append(Cause("FieldValueForbidden", FORBIDDEN_EPHEMERAL, f"{path}.{key}"))
        for j, mount in enumerate(c.get("volumeMounts") or []):
            for key in ("subPath", "subPathExpr"):
                if mount.get(key):
                    causes.append(
                        Cause(
                            "FieldValueForbidden",
                            FORBIDDEN_EPHEMERAL,
                            f"{path}.volumeMounts[{j}].{key}",
                        )
                    )
    spec = {**regular_spec, "ephemeralContainers": new_list}
    _names(spec, causes)
    targets = {str(c.get("name")) for c in regular_spec.get("containers") or []}
    targets |= {str(c.get("name")) for c in regular_spec.get("initContainers") or []}
    for i, c in enumerate(new_list):
        target = c.get("targetContainerName")
        if target and target not in targets:
            causes.append(not_found(f"spec.ephemeralContainers[{i}].targetContainerName", target))
    new_by_name = {str(c.get("name")): c for c in new_list}
    for existing in old.get("ephemeralContainers") or []:
        name = str(existing.get("name"))
        if name not in new_by_name:
            causes.append(
                forbidden(
                    "spec.ephemeralContainers",
                    f'existing ephemeral containers "{name}" may not be removed',
                )
            )
        elif _normal(new_by_name[name]) != _normal(existing):
            causes.append(
                forbidden(
                    "spec.ephemeralContainers",
                    f'existing ephemeral containers "{name}" may not be changed',
                )
            )
    return causes


def _normal(container: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in container.items() if not _is_empty(v)}
