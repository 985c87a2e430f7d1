"""deploy/base/rbac.yaml with one rule removed at a time, each bound to its own
ServiceAccount, so one kubesim can prove every rule is needed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "base" / "rbac.yaml"


def rbac_documents() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(RBAC.read_text()) if d]


# Leader election is not a strategy; tests/kube/test_lease.py proves its Role.
NOT_STRATEGY_ROLES = ("jdebug-leader-election",)


def rule_ids() -> list[str]:
    """`ClusterRole/jdebug#3`-style names for every strategy rule in the file."""
    return [
        f"{d['kind']}/{d['metadata']['name']}#{i}"
        for d in rbac_documents()
        if d["kind"] in ("Role", "ClusterRole") and d["metadata"]["name"] not in NOT_STRATEGY_ROLES
        for i in range(len(d["rules"]))
    ]


def variant_account(rule_id: str) -> str:
    return "minus-" + rule_id.lower().replace("/", "-").replace("#", "-")


def write_variants(path: Path) -> Path:
    """One ServiceAccount per rule, bound to copies of the roles without that rule."""
    docs = rbac_documents()
    out: list[dict[str, Any]] = []
    for rule_id in rule_ids():
        account = variant_account(rule_id)
        out.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": account, "namespace": "jdebug"},
            }
        )
        for doc in docs:
            if doc["kind"] not in ("Role", "ClusterRole"):
                continue
            role = copy.deepcopy(doc)
            name = f"{account}-{doc['metadata']['name']}"
            prefix = f"{doc['kind']}/{doc['metadata']['name']}#"
            role["rules"] = [r for i, r in enumerate(doc["rules"]) if f"{prefix}{i}" != rule_id]
            role["metadata"]["name"] = name
            binding_kind = "RoleBinding" if doc["kind"] == "Role" else "ClusterRoleBinding"
            binding: dict[str, Any] = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": binding_kind,
                "metadata": {"name": name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": doc["kind"],
                    "name": name,
                },
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "jdebug"}],
            }
            if doc["kind"] == "Role":
                binding["metadata"]["namespace"] = doc["metadata"]["namespace"]
            out += [role, binding]
    path.write_text(yaml.safe_dump_all(out))
    return path
