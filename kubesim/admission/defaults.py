"""The apps/v1 defaults the apiserver stores with a Deployment or ReplicaSet (pkg/apis/apps/v1/
defaults.go, SetDefaults_Deployment and SetDefaults_ReplicaSet), so the controllers, kubectl
describe and `rollout` read the fields a real server has filled in.

Pod templates are not defaulted (a real server also defaults their pod spec and containers).
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def apps_defaults(kind: str, obj: Obj) -> Obj:
    if kind not in ("Deployment", "ReplicaSet") or not isinstance(obj.get("spec"), dict):
        return obj
    obj = copy.deepcopy(obj)
    spec = obj["spec"]
    spec.setdefault("replicas", 1)
    if kind == "ReplicaSet":
        return obj
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    return obj
