"""Where jdebug's Kubernetes credentials come from: a kubeconfig file or a pod's ServiceAccount.

Each loader returns the client's `Configuration` plus the namespace to default to, or raises
`KubeConfigError` saying which file or folder could not be used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from kubernetes import client, config
from kubernetes.config.incluster_config import InClusterConfigLoader

from bot.kube.errors import KubeConfigError

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class ClusterConfig:
    configuration: client.Configuration
    namespace: str


def load_kubeconfig(path: str | None = None, context: str | None = None) -> ClusterConfig:
    """From a kubeconfig file (`path`, else $KUBECONFIG, else ~/.kube/config); `context`
    picks one other than the current context."""
    where = path or os.environ.get("KUBECONFIG") or "~/.kube/config"
    files = os.pathsep.join(str(Path(p).expanduser()) for p in where.split(os.pathsep))
    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=files,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
        contexts, current = config.list_kube_config_contexts(files)  # type: ignore[no-untyped-call]
    except (config.ConfigException, OSError, ValueError, KeyError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"cannot use kubeconfig {where}: {exc}") from exc
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else None
    namespace = ((chosen or current or {}).get("context") or {}).get("namespace") or "default"
    return ClusterConfig(configuration, namespace)


def load_in_cluster(folder: Path, host: str | None, port: int | None) -> ClusterConfig:
    """From a pod's ServiceAccount files (token, ca.crt, namespace) in `folder`; the server is
    KUBERNETES_SERVICE_HOST/PORT unless `host`/`port` say otherwise. The token is re-read every
    minute, so projected tokens that the kubelet rotates keep working."""
    environ = {
        "KUBERNETES_SERVICE_HOST": host or os.environ.get("KUBERNETES_SERVICE_HOST", ""),
        "KUBERNETES_SERVICE_PORT": str(port or os.environ.get("KUBERNETES_SERVICE_PORT", 443)),
    }
    configuration = client.Configuration()
    loader = InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=str(folder / "token"),
        cert_filename=str(folder / "ca.crt"),
        environ=environ,
    )
    try:
        loader.load_and_set(configuration)  # type: ignore[no-untyped-call]
        namespace_file = folder / "namespace"
        namespace = (
            namespace_file.read_text().strip() if namespace_file.exists() else ""
        ) or "default"
    except (config.ConfigException, OSError) as exc:
        raise KubeConfigError(f"cannot use in-cluster credentials in {folder}: {exc}") from exc
    return ClusterConfig(configuration, namespace)


def load_from_environment(kubeconfig: str | None, token_dir: str) -> ClusterConfig | None:
    """`kubeconfig` if given, else $KUBECONFIG, else the ServiceAccount in `token_dir` when
    running in a pod, else None (a developer's ~/.kube/config is never picked up by accident)."""
    if kubeconfig:
        return load_kubeconfig(kubeconfig)
    if os.environ.get("KUBECONFIG"):
        return load_kubeconfig(os.environ["KUBECONFIG"])
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return load_in_cluster(Path(token_dir), None, None)
    return None
