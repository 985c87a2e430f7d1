"""Load YAML manifests (Namespaces, Pods, Deployments and ReplicaSets with their pods, RBAC,
ServiceAccounts, Leases,
ConfigMaps, Secrets; PodDisruptionBudgets and NetworkPolicies are stored, not enforced).

Everything goes through the same paths as API calls, so an invalid pod or a PodSecurity
violation in a manifest is reported at load time with the apiserver's message.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from kubesim.admission.defaults import apps_defaults
from kubesim.cluster import Cluster
from kubesim.controllers import deployments, replicasets
from kubesim.kubelet.environment import stored_secret
from kubesim.status import ApiError

# kind -> (store resource, namespaced, load order)
KINDS = {
    "Namespace": ("namespaces", False, 0),
    "ServiceAccount": ("serviceaccounts", True, 1),
    "ConfigMap": ("configmaps", True, 1),
    "Secret": ("secrets", True, 1),
    "ClusterRole": ("clusterroles", False, 1),
    "Role": ("roles", True, 1),
    "ClusterRoleBinding": ("clusterrolebindings", False, 2),
    "RoleBinding": ("rolebindings", True, 2),
    "Lease": ("leases", True, 2),
    # Accepted so rendered deploy/ manifests load whole; nothing here acts on them.
    "PodDisruptionBudget": ("poddisruptionbudgets", True, 2),
    "NetworkPolicy": ("networkpolicies", True, 2),
    "Pod": ("pods", True, 3),
    "Deployment": ("deployments", True, 3),
    "ReplicaSet": ("replicasets", True, 3),
}


class ManifestError(ValueError):
    """A manifest cannot be parsed or applied; the message names the file and document."""


def read_manifests(paths: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    """(where, document) pairs from files or folders of `*.yaml`/`*.yml`/`*.json`."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
        else:
            files.append(path)
    docs: list[tuple[str, dict[str, Any]]] = []
    for file in files:
        try:
            loaded = list(yaml.safe_load_all(file.read_text()))
        except (OSError, yaml.YAMLError) as exc:
            raise ManifestError(f"{file}: cannot read YAML: {exc}") from exc
        for index, doc in enumerate(loaded):
            where = f"{file} (document {index + 1})"
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise ManifestError(f"{where}: expected a mapping, got {type(doc).__name__}")
            items = doc.get("items") if doc.get("kind") == "List" else [doc]
            for item in items or []:
                kind = item.get("kind") if isinstance(item, dict) else None
                if kind not in KINDS:
                    raise ManifestError(
                        f"{where}: kubesim does not support kind {kind!r} "
                        f"(supported: {', '.join(sorted(KINDS))})"
                    )
                if not (item.get("metadata") or {}).get("name"):
                    raise ManifestError(f"{where}: {kind} has no metadata.name")
                docs.append((where, item))
    docs.sort(key=lambda pair: KINDS[pair[1]["kind"]][2])
    return docs


async def apply_manifests(cluster: Cluster, docs: list[tuple[str, dict[str, Any]]]) -> None:
    for where, doc in docs:
        try:
            await _apply(cluster, doc)
        except ApiError as exc:
            raise ManifestError(f"{where}: {exc.message}") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{where}: malformed {doc.get('kind')}: {exc!r}") from exc


async def _apply(cluster: Cluster, doc: dict[str, Any]) -> None:
    kind = doc["kind"]
    resource, namespaced, _ = KINDS[kind]
    meta = doc["metadata"]
    namespace = str(meta.get("namespace") or "default") if namespaced else ""
    if namespace:
        cluster.ensure_namespace(namespace)
    if kind == "Namespace":
        ns = cluster.ensure_namespace(meta["name"], meta.get("labels") or {})
        ns["metadata"]["labels"].update(meta.get("labels") or {})
    elif kind == "Pod":
        await cluster.create_pod(doc, namespace)
    elif kind in ("Deployment", "ReplicaSet"):
        controller = apps_defaults(kind, copy.deepcopy(doc))
        controller["metadata"]["generation"] = 1
        cluster.store.create(resource, namespace, controller)
        sync = deployments.reconcile if kind == "Deployment" else replicasets.reconcile
        await sync(cluster, namespace, meta["name"], strict=True)
    else:
        obj = copy.deepcopy(doc)
        if kind == "Secret":
            obj = stored_secret(obj)
        existing = cluster.store.get(resource, namespace, meta["name"])
        if existing is None:
            cluster.store.create(resource, namespace, obj)
        else:
            # As `kubectl apply` would: e.g. a namespace's own `default` ServiceAccount, made
            # with the namespace, gets the manifest's automountServiceAccountToken.
            for key in ("uid", "creationTimestamp", "namespace"):
                if key in existing["metadata"]:
                    obj["metadata"][key] = existing["metadata"][key]
            cluster.store.update(resource, namespace, obj)
