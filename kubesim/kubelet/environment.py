"""A container's environment as the kubelet builds it: image env, envFrom, env, service variables.

ConfigMaps and Secrets are stored as the apiserver stores them (a Secret's `stringData` folded
into base64 `data`). A missing object or key raises `ConfigError` with the kubelet's message,
which keeps the container waiting in CreateContainerConfigError, unless the reference is optional.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from kubesim.node import NAME as NODE
from kubesim.store import Obj, Store

# The apiserver's ClusterIP for `kubernetes.default` is the host here (pods share its network).
SERVICE_HOST = "127.0.0.1"
LABEL_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
SOURCES = {
    "configMapRef": ("configmaps", "ConfigMap"),
    "configMapKeyRef": ("configmaps", "ConfigMap"),
    "secretRef": ("secrets", "Secret"),
    "secretKeyRef": ("secrets", "Secret"),
}


class ConfigError(Exception):
    """A referenced ConfigMap, Secret or key is missing; the message is the kubelet's."""


def stored_secret(doc: Obj) -> Obj:
    """`stringData` merged into base64 `data` (it wins on a clash), `type` defaulted."""
    data = dict(doc.get("data") or {})
    for key, value in (doc.pop("stringData", None) or {}).items():
        data[str(key)] = base64.b64encode(str(value).encode()).decode()
    if data:
        doc["data"] = data
    doc.setdefault("type", "Opaque")
    return doc


def _decode(value: Any) -> str:
    try:
        return base64.b64decode(str(value), validate=True).decode(errors="replace")
    except (binascii.Error, ValueError):
        return ""


def service_env(port: int) -> dict[str, str]:
    """What the kubelet injects for the `kubernetes` Service into every container."""
    url = f"tcp://{SERVICE_HOST}:{port}"
    prefix = f"KUBERNETES_PORT_{port}_TCP"
    return {
        "KUBERNETES_SERVICE_HOST": SERVICE_HOST,
        "KUBERNETES_SERVICE_PORT": str(port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
        "KUBERNETES_PORT": url,
        prefix: url,
        f"{prefix}_PROTO": "tcp",
        f"{prefix}_PORT": str(port),
        f"{prefix}_ADDR": SERVICE_HOST,
    }


class Sources:
    """ConfigMaps and Secrets of one namespace, read as the kubelet reads them."""

    def __init__(self, store: Store, namespace: str) -> None:
        self.store = store
        self.namespace = namespace

    def values(self, source: str, ref: dict[str, Any]) -> dict[str, str] | None:
        """Every key of the object `ref` names; None when it is missing but optional."""
        resource, kind = SOURCES[source]
        name = str(ref.get("name") or "")
        obj = self.store.get(resource, self.namespace, name)
        if obj is None:
            if ref.get("optional"):
                return None
            raise ConfigError(f'{kind.lower()} "{name}" not found')
        if kind == "Secret":
            return {str(k): _decode(v) for k, v in (obj.get("data") or {}).items()}
        values = {str(k): _decode(v) for k, v in (obj.get("binaryData") or {}).items()}
        values.update({str(k): str(v) for k, v in (obj.get("data") or {}).items()})
        return values

    def key(self, source: str, ref: dict[str, Any]) -> str | None:
        values = self.values(source, ref)
        if values is None:
            return None
        key = str(ref.get("key") or "")
        if key not in values:
            if ref.get("optional"):
                return None
            _, kind = SOURCES[source]
            raise ConfigError(f"couldn't find key {key} in {kind} {self.namespace}/{ref['name']}")
        return values[key]


def field_value(pod: Obj, path: str) -> str:
    """The downward API's `fieldRef.fieldPath` for this pod (the node is the host)."""
    meta = pod["metadata"]
    if match := LABEL_FIELD.match(path):
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    fields = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": pod["spec"].get("nodeName") or NODE,
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "status.podIP": "127.0.0.1",
        "status.podIPs": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
        "status.hostIPs": "127.0.0.1",
    }
    return str(fields.get(path, ""))


def expand(text: str, known: dict[str, str]) -> str:
    """`$(NAME)` references to earlier variables; unknown ones stay as written, `$$` is `$`."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return known.get(match.group(1), match.group(0))

    return REFERENCE.sub(one, text)


def kubelet_env(store: Store, pod: Obj, container: Obj, port: int | None) -> dict[str, str]:
    """envFrom, then env (which overrides it), then the service variables not already set."""
    sources = Sources(store, pod["metadata"].get("namespace", ""))
    services = service_env(port) if port else {}
    env: dict[str, str] = {}
    for item in container.get("envFrom") or []:
        prefix = str(item.get("prefix") or "")
        for source in ("configMapRef", "secretRef"):
            if source in item:
                for key, text in (sources.values(source, item[source]) or {}).items():
                    env[prefix + key] = text
    for item in container.get("env") or []:
        name = str(item["name"])
        origin = item.get("valueFrom")
        if not origin:
            env[name] = expand(str(item.get("value", "")), {**services, **env})
            continue
        found: str | None = ""
        if ref := origin.get("fieldRef"):
            found = field_value(pod, str(ref.get("fieldPath", "")))
        for source in ("configMapKeyRef", "secretKeyRef"):
            if source in origin:
                found = sources.key(source, origin[source])
        if found is not None:
            env[name] = found
    for key, text in services.items():
        env.setdefault(key, text)
    return env
