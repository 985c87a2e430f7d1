"""Where JVMs are looked for: one backend per cluster, chosen by a request's `cluster=`.

Without a clusters file there is one: the cluster of the kubeconfig or in-cluster
configuration, else this machine (the embedded default for the demo and a laptop). A clusters
file names several, each a kubeconfig context or the in-cluster configuration:

    default: prod                    # used when a command gives no cluster=
    clusters:
      prod: {context: prod-admin}    # a context of JDEBUG_KUBECONFIG / $KUBECONFIG
      staging: {kubeconfig: /etc/jdebug/staging.yaml, context: staging}
      here: {in_cluster: true}
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.backends.protocols import Backend
from bot.kube.api import KubeApi
from bot.kube.backend import KubeBackend
from bot.kube.config import SERVICE_ACCOUNT_DIR
from bot.kube.strategies.context import KubeSettings
from bot.local.strategy import LocalBackend
from bot.model.errors import JdebugError, TargetNotFound
from bot.settings import JdebugSettings


class ClustersFileError(JdebugError):
    """The clusters file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Backends:
    """The backend of each named cluster, and the one used without `cluster=`."""

    default: Backend
    named: Mapping[str, Backend]
    default_name: str | None = None

    def get(self, cluster: str | None) -> Backend:
        if cluster is None:
            return self.default
        backend = self.named.get(cluster)
        if backend is not None:
            return backend
        if not self.named:
            raise TargetNotFound(
                f"there is no cluster {cluster}: this jdebug knows one cluster only",
                fix="name clusters in JDEBUG_CLUSTERS_FILE",
            )
        close = difflib.get_close_matches(cluster, list(self.named), n=1)
        hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(sorted(self.named))}"
        raise TargetNotFound(f"there is no cluster {cluster}; {hint}")

    def all(self) -> list[Backend]:
        seen: list[Backend] = [self.default]
        for backend in self.named.values():
            if backend not in seen:
                seen.append(backend)
        return seen


def owner_reference(pod_name: str | None, pod_uid: str | None) -> dict[str, Any] | None:
    """An ownerReference to the bot's own pod (downward API), when it runs in one."""
    if not pod_name or not pod_uid:
        return None
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": pod_name,
        "uid": pod_uid,
        "controller": False,
        "blockOwnerDeletion": False,
    }


def kube_settings(settings: JdebugSettings, cluster: str | None) -> KubeSettings:
    node_namespace = settings.node_namespace or settings.pod_namespace or "jdebug"
    # ownerReferences only work within one namespace: own node pods only in our namespace,
    # and only in the cluster the bot runs in.
    same = settings.pod_namespace is None or node_namespace == settings.pod_namespace
    owner = owner_reference(settings.pod_name, settings.pod_uid) if same else None
    return KubeSettings(
        debug_image=settings.debug_image,
        default_namespace=settings.namespace,
        node_namespace=node_namespace,
        owner=owner,
        cluster=cluster,
        helpers_dir=str(settings.attach_helper_dir) if settings.attach_helper_dir else None,
        debug_from_app_image=settings.debug_from_app_image,
        image_pull_secrets=settings.image_pull_secrets,
    )


def build_backends(settings: JdebugSettings) -> Backends:
    """The one place backends are built, for `jdebug run` and `jdebug serve` alike."""
    if settings.clusters_file is not None:
        return _from_clusters_file(settings, settings.clusters_file)
    api = KubeApi.from_environment(settings.kubeconfig)
    if api is None:
        return Backends(LocalBackend(java_home=settings.local_java_home), {})
    return Backends(KubeBackend(api, kube_settings(settings, None), settings.strategies), {})


def _from_clusters_file(settings: JdebugSettings, path: Path) -> Backends:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ClustersFileError(f"cannot read the clusters file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise ClustersFileError(f"the clusters file {path} is not valid YAML") from error
    clusters = doc.get("clusters") if isinstance(doc, dict) else None
    if not isinstance(clusters, dict) or not clusters:
        raise ClustersFileError(f"the clusters file {path} needs a `clusters:` mapping")
    named: dict[str, Backend] = {}
    for name, entry in clusters.items():
        api = _api(path, str(name), entry, settings.kubeconfig)
        named[str(name)] = KubeBackend(api, kube_settings(settings, str(name)), settings.strategies)
    default = doc.get("default", next(iter(named)))
    if default not in named:
        raise ClustersFileError(
            f"{path}: default cluster {default} is not one of {', '.join(named)}"
        )
    return Backends(named[default], named, str(default))


def _api(path: Path, name: str, entry: object, kubeconfig: str | None) -> KubeApi:
    where = f"{path}, clusters.{name}"
    if not isinstance(entry, dict):
        raise ClustersFileError(f"{where}: needs `context:`, `kubeconfig:` or `in_cluster: true`")
    unknown = set(entry) - {"context", "kubeconfig", "in_cluster"}
    if unknown:
        raise ClustersFileError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    if entry.get("in_cluster") is True:
        return KubeApi.from_in_cluster(SERVICE_ACCOUNT_DIR)
    file = entry.get("kubeconfig") or kubeconfig
    context = entry.get("context")
    if not isinstance(context, str | None) or not isinstance(file, str | None):
        raise ClustersFileError(f"{where}: `context:` and `kubeconfig:` are text")
    return KubeApi.from_kubeconfig(file, context)
