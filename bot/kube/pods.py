"""The REST calls on pods that `KubeApi` offers: get, list, log, create, delete and the
`ephemeralcontainers` patch, each with the retry policy that is safe for it.
"""

from __future__ import annotations

import functools
from typing import Any

from bot.kube.calls import PATCH, READ, WRITE, ApiCaller
from bot.kube.errors import KubeNotFound

STRATEGIC_MERGE = "application/strategic-merge-patch+json"


async def get_pod(
    calls: ApiCaller, namespace: str, name: str, timeout_s: float | None
) -> dict[str, Any]:
    return await calls.json(
        "GET",
        "/api/v1/namespaces/{namespace}/pods/{name}",
        params={"namespace": namespace, "name": name},
        what=f"get pod {namespace}/{name}",
        timeout_s=timeout_s,
    )


async def list_pods(
    calls: ApiCaller,
    namespace: str | None,
    label_selector: str | None,
    field_selector: str | None,
    timeout_s: float | None,
) -> list[dict[str, Any]]:
    query = [("labelSelector", label_selector), ("fieldSelector", field_selector)]
    found = await calls.json(
        "GET",
        "/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods",
        params={"namespace": namespace} if namespace else None,
        query=[(k, v) for k, v in query if v],
        what=f"list pods in {namespace or 'all namespaces'}",
        timeout_s=timeout_s,
    )
    items = found.get("items") or []
    return [item for item in items if isinstance(item, dict)]


async def read_log(
    calls: ApiCaller,
    namespace: str,
    pod: str,
    container: str,
    tail_lines: int | None,
    timeout_s: float | None,
) -> str:
    query = [("container", container)]
    if tail_lines is not None:
        query.append(("tailLines", str(tail_lines)))
    work = functools.partial(
        calls.request,
        "GET",
        "/api/v1/namespaces/{namespace}/pods/{name}/log",
        params={"namespace": namespace, "name": pod},
        query=query,
        accept="text/plain, */*",
    )
    data = await calls.call(f"read the log of {namespace}/{pod}/{container}", work, READ, timeout_s)
    return data.decode("utf-8", "replace")


async def patch_ephemeral_containers(
    calls: ApiCaller,
    namespace: str,
    pod: str,
    containers: list[dict[str, Any]],
    timeout_s: float | None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"ephemeralContainers": containers}
    if len(containers) > 1:
        spec["$setElementOrder/ephemeralContainers"] = [{"name": c["name"]} for c in containers]
    return await calls.json(
        "PATCH",
        "/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers",
        params={"namespace": namespace, "name": pod},
        body={"spec": spec},
        content_type=STRATEGIC_MERGE,
        retry=PATCH,
        what=f"add an ephemeral container to {namespace}/{pod}",
        timeout_s=timeout_s,
    )


async def create_pod(
    calls: ApiCaller, namespace: str, body: dict[str, Any], timeout_s: float | None
) -> dict[str, Any]:
    name = (body.get("metadata") or {}).get("name") or (body.get("metadata") or {}).get(
        "generateName", "?"
    )
    return await calls.json(
        "POST",
        "/api/v1/namespaces/{namespace}/pods",
        params={"namespace": namespace},
        body=body,
        retry=WRITE,
        what=f"create pod {namespace}/{name}",
        timeout_s=timeout_s,
    )


async def delete_pod(
    calls: ApiCaller, namespace: str, name: str, grace_period_seconds: int, timeout_s: float | None
) -> bool:
    work = functools.partial(
        calls.request,
        "DELETE",
        "/api/v1/namespaces/{namespace}/pods/{name}",
        params={"namespace": namespace, "name": name},
        query=[("gracePeriodSeconds", str(grace_period_seconds))],
    )
    try:
        await calls.call(f"delete pod {namespace}/{name}", work, WRITE, timeout_s)
    except KubeNotFound as exc:
        if exc.is_missing_resource:
            raise
        return False
    return True
