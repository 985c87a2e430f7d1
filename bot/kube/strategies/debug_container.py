"""One ephemeral debug container: added with a fixed bootstrap as its command, given the agent
and its argv on stdin over `pods/attach`, and read from that same stream until it exits.

What stays in the pod spec forever is the same few hundred bytes for every request (issue:
an agent stored in `command` grew the pod by ~13 KB a request until etcd refused it).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from bot.backends.protocols import Created, DebugProcess
from bot.jvm.agent import AgentCall
from bot.jvm.delivery import bootstrap_argv, stdin_payload
from bot.kube.errors import KubeError, KubeForbidden, KubeInvalid, KubeNotFound
from bot.kube.strategies.context import GRACE_S, KubeContext
from bot.kube.strategies.waiting import (
    named_status,
    pod_secrets_note,
    wait_until_started,
    wait_until_terminated,
)
from bot.kube.targets import KubeTarget
from bot.model.errors import DeadlineExceeded, StrategyFailed
from bot.model.spool import Spool

# The apiserver passes etcd's refusal of an object over --max-request-bytes through as is.
ETCD_TOO_LARGE = "etcdserver: request is too large"

log = structlog.get_logger("jdebug.ephemeral")

# Waiting for the container to end once its output stream closed.
END_S = 15


class CannotStart(Exception):
    """The image cannot run the bootstrap (no /bin/sh, as distroless images have none)."""


@dataclass(frozen=True)
class ContainerRun:
    stdout: str | Spool
    stderr: str
    exit_code: int
    name: str
    image_note: str = ""


def debug_container_name() -> str:
    """`jdebug-` + 5 random lowercase characters (names can never be reused in a pod)."""
    alphabet = string.ascii_lowercase + string.digits
    return "jdebug-" + "".join(secrets.choice(alphabet) for _ in range(5))


def container_spec(
    name: str, image: str, target: str, security_context: dict[str, Any]
) -> dict[str, Any]:
    """The ephemeral container as it goes into the pod spec: nothing of the request in it."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": bootstrap_argv(),
        "targetContainerName": target,
        "securityContext": security_context,
        "stdin": True,
        "stdinOnce": True,
    }


async def run_debug_container(
    ctx: KubeContext,
    target: KubeTarget,
    image: str,
    security_context: dict[str, Any],
    call: AgentCall,
    helpers: Mapping[str, bytes],
    created: Created,
) -> ContainerRun:
    """Add one ephemeral container, feed it the agent, and return what it printed."""
    name = debug_container_name()
    pod = await ctx.api.get_pod(target.namespace, target.name)
    existing = list(pod.get("spec", {}).get("ephemeralContainers") or [])
    spec = container_spec(name, image, target.container, security_context)
    try:
        await ctx.api.patch_ephemeral_containers(target.namespace, target.name, [*existing, spec])
    except KubeNotFound as error:
        if error.is_missing_resource:
            raise StrategyFailed(
                "this cluster does not serve pods/ephemeralcontainers "
                "(Kubernetes < 1.23 or the feature gate is off)"
            ) from error
        raise
    except (KubeForbidden, KubeInvalid) as error:
        raise StrategyFailed(error.message) from error
    except KubeError as error:
        if ETCD_TOO_LARGE not in error.message:
            raise
        # etcd's limit (1.5 MiB), a plain 500 from the apiserver (kubernetes#112152).
        raise StrategyFailed(
            f"the pod object is at etcd's size limit (it holds {len(existing)} ephemeral "
            "containers, which Kubernetes never removes), so no debug container can be added; "
            "replace the pod (e.g. kubectl rollout restart) to shed them"
        ) from error
    created.add(DebugProcess("container", target.namespace, target.name, name, call.deadline_s))
    log.info("ephemeral.added", container=name, image=image, uid=security_context.get("runAsUser"))
    status_of = named_status("ephemeralContainerStatuses", name)
    what = f"the debug container {name}"
    started = await wait_until_started(
        ctx.api,
        target.namespace,
        target.name,
        what,
        status_of,
        image,
        ctx.settings.start_timeout_s,
        pod_secrets_note(pod),
    )
    ended = (started.get("state") or {}).get("terminated")
    if ended is not None:  # it never got to read its stdin
        if ended.get("reason") == "StartError" or ended.get("exitCode") in (126, 127, 128):
            raise CannotStart(str(ended.get("message") or ended.get("reason") or "no shell"))
        return ContainerRun(
            "", str(ended.get("message") or ""), int(ended.get("exitCode", -1)), name
        )
    try:
        streamed = await ctx.api.attach(
            target.namespace,
            target.name,
            name,
            stdin_payload(call, helpers),
            timeout_s=call.deadline_s + GRACE_S,
        )
    except KubeForbidden as error:
        raise StrategyFailed(error.message) from error
    try:
        status = await wait_until_terminated(
            ctx.api, target.namespace, target.name, what, status_of, image, END_S, END_S
        )
        exit_code = int(status["state"]["terminated"].get("exitCode", -1))
    except (KubeError, DeadlineExceeded):  # the output is in; cleanup reports the state
        exit_code = -1
    return ContainerRun(streamed.stdout, streamed.stderr, exit_code, name)


def jdebug_containers(pod: dict[str, Any]) -> int:
    """How many of jdebug's debug containers the pod spec holds (they are never removed)."""
    return sum(
        1
        for c in pod.get("spec", {}).get("ephemeralContainers") or []
        if str(c.get("name", "")).startswith("jdebug-")
    )
