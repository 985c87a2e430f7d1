"""Kubeconfig files (admin, one per ServiceAccount; bearer tokens) and in-cluster credentials."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml


def write_kubeconfig(
    path: Path, server: str, ca_pem: bytes, user: str, token: str, namespace: str = "default"
) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kubesim",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": "kubesim",
                "context": {
                    "cluster": "kubesim",
                    "user": user,
                    "namespace": namespace,
                },
            }
        ],
        "current-context": "kubesim",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def write_in_cluster(folder: Path, ca_pem: bytes, token: str, namespace: str) -> Path:
    """The files a pod finds under /var/run/secrets/kubernetes.io/serviceaccount."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "token").write_text(token)
    (folder / "ca.crt").write_bytes(ca_pem)
    (folder / "namespace").write_text(namespace)
    return folder
