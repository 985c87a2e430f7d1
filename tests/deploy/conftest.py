"""Renders deploy/'s kustomize overlays once per session (with the real `kubectl kustomize`)
and offers small look-ups over the rendered objects, shared by the deploy tests."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
OVERLAYS = ("socket-mode", "http-mode", "namespaced", "impersonation")
BOT_NAMESPACE = "jdebug"
SECRET_TEMPLATE = DEPLOY / "base" / "slack-secret.example.yaml"
# What shipped templates hold where a real token or person goes.
PLACEHOLDER = "REPLACE-ME"

Obj = dict[str, Any]


def kustomize(folder: Path) -> list[Obj]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed to render deploy/ (kubectl kustomize)")
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize {folder} failed: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Obj]]:
    """Overlay name (and `base`) -> its rendered objects."""
    out = {name: kustomize(DEPLOY / "overlays" / name) for name in OVERLAYS}
    out["base"] = kustomize(DEPLOY / "base")
    return out


def of_kind(docs: Iterable[Obj], kind: str) -> list[Obj]:
    return [d for d in docs if d.get("kind") == kind]


def one(docs: Iterable[Obj], kind: str, name: str, namespace: str | None = None) -> Obj:
    found = [
        d
        for d in of_kind(docs, kind)
        if d["metadata"]["name"] == name
        and (namespace is None or d["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def bot_deployment(docs: Iterable[Obj]) -> Obj:
    return one(docs, "Deployment", "jdebug", BOT_NAMESPACE)


def bot_container(docs: Iterable[Obj]) -> Obj:
    containers = bot_deployment(docs)["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == "jdebug")


def settings_configmap(docs: Iterable[Obj]) -> Obj:
    """The ConfigMap the bot's envFrom names (kustomize gives it a content-hash suffix)."""
    refs = [
        e["configMapRef"]["name"] for e in bot_container(docs)["envFrom"] if "configMapRef" in e
    ]
    assert len(refs) == 1
    return one(docs, "ConfigMap", refs[0], BOT_NAMESPACE)


def selects(selector: Obj, labels: dict[str, str]) -> bool:
    """matchLabels semantics (the only kind of selector deploy/ uses)."""
    assert set(selector) <= {"matchLabels"}, f"unexpected selector {selector}"
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def secret_template() -> Obj:
    docs = [d for d in yaml.safe_load_all(SECRET_TEMPLATE.read_text()) if d]
    assert len(docs) == 1
    template: Obj = docs[0]
    return template
