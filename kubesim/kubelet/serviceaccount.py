"""The ServiceAccount token volume the kubelet mounts into each of a pod's containers.

`token`, `ca.crt` and `namespace` are written to a per-pod host folder that the runtime binds
read-only at /var/run/secrets/kubernetes.io/serviceaccount inside the container; the token is
the one kubesim's authenticator maps to `system:serviceaccount:NS:NAME`, as `sim.kubeconfig`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubesim.apiserver.auth import Tokens, service_account_user
from kubesim.kubeconfig import write_in_cluster
from kubesim.store import Obj, Store

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(frozen=True)
class ApiEndpoint:
    """Where containers reach the apiserver (the host's loopback) and the CA that signed it."""

    port: int
    ca_pem: bytes


def account_name(pod: Obj) -> str:
    spec = pod["spec"]
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def automounts(store: Store, pod: Obj) -> bool:
    """The pod's `automountServiceAccountToken`, else its ServiceAccount's, else true."""
    wanted = pod["spec"].get("automountServiceAccountToken")
    if wanted is not None:
        return bool(wanted)
    account = store.get("serviceaccounts", pod["metadata"]["namespace"], account_name(pod))
    wanted = (account or {}).get("automountServiceAccountToken")
    return True if wanted is None else bool(wanted)


def token_folder(folder: Path, tokens: Tokens, endpoint: ApiEndpoint, pod: Obj) -> Path:
    """Write (once) the files a pod reads its in-cluster credentials from."""
    if (folder / "token").exists():
        return folder
    namespace = pod["metadata"]["namespace"]
    token = tokens.issue(service_account_user(namespace, account_name(pod)))
    write_in_cluster(folder, endpoint.ca_pem, token, namespace)
    # The kubelet's default mode for the projected volume is 0644: any container uid reads it.
    folder.chmod(0o755)
    for name in ("token", "ca.crt", "namespace"):
        (folder / name).chmod(0o644)
    return folder


def token_mounts(
    store: Store,
    tokens: Tokens,
    endpoint: ApiEndpoint | None,
    pod: Obj,
    folder: Path,
    wanted: bool = True,
) -> tuple[tuple[str, str], ...]:
    """The (host folder, container path) secret mount for one container, if it gets one."""
    if not wanted or endpoint is None or not automounts(store, pod):
        return ()
    return ((str(token_folder(folder, tokens, endpoint, pod)), MOUNT_PATH),)
