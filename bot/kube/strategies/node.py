"""`node`: a short-lived hostPID pod on the target's node, when ephemeral containers are off
or forbidden. It finds the JVM by the container ID in `/proc/<pid>/cgroup`, runs as root
with the runtime's default capabilities (never privileged, never SYS_PTRACE) and the agent
drops to the JVM's uid/gid. It has a deadline, is labelled for the janitor, carries an
ownerReference to the bot's pod, and is deleted when the request ends.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import structlog

from bot.backends.protocols import ResolvedTarget, Verdict
from bot.jvm.agent import AgentCall
from bot.kube.errors import KubeError, KubeForbidden, KubeInvalid
from bot.kube.probe import UNKNOWN_LEVEL
from bot.kube.strategies.context import GRACE_S, KubeContext, pod_of
from bot.kube.strategies.waiting import named_status, wait_until_terminated
from bot.model.errors import StrategyFailed
from bot.model.request import Request
from bot.model.results import RawOutput

log = structlog.get_logger("jdebug.node")

MANAGED_BY = "app.kubernetes.io/managed-by"
SESSION_LABEL = "jdebug/session"
RULES = (
    ("create", "pods", ""),
    ("delete", "pods", ""),
    ("get", "pods", ""),
    ("get", "pods", "log"),
)


def container_id(pod: dict[str, Any], container: str) -> str | None:
    """The runtime's ID without its scheme (`containerd://abc…` → `abc…`)."""
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == container and status.get("containerID"):
            return str(status["containerID"]).split("://", 1)[-1]
    return None


class NodeStrategy:
    name = "node"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx
        self.pod_name: str | None = None
        self.cid: str | None = None

    async def check(self, request: Request, target: ResolvedTarget) -> Verdict:
        pod = pod_of(target)
        assert target.container
        namespace = self.ctx.settings.node_namespace
        if request.target.pid is not None:
            return Verdict(
                False, "pid= names a pid inside the container, which a node pod does not see"
            )
        self.cid = container_id(pod, target.container)
        if not self.cid or not pod.get("spec", {}).get("nodeName"):
            return Verdict(False, "the container has no ID or node yet")
        missing = await self.ctx.probe.can_all(namespace, *RULES)
        if missing:
            return Verdict(
                False,
                f"not allowed to {missing}",
                f"grant create, delete and get on pods and get on pods/log in {namespace}",
            )
        level = await self.ctx.probe.pod_security(namespace)
        if level == UNKNOWN_LEVEL:
            return Verdict(
                False,
                f"the PodSecurity level of namespace {namespace} cannot be read, and hostPID "
                "pods need privileged",
                "grant get on namespaces",
            )
        if level != "privileged":
            return Verdict(
                False,
                f"namespace {namespace} enforces PodSecurity {level}, which forbids hostPID pods",
                f"label {namespace} pod-security.kubernetes.io/enforce=privileged",
            )
        return Verdict(True)

    def pod_spec(self, target: ResolvedTarget, call: AgentCall) -> dict[str, Any]:
        assert self.pod_name and self.cid
        metadata: dict[str, Any] = {
            "name": self.pod_name,
            "namespace": self.ctx.settings.node_namespace,
            "labels": {
                MANAGED_BY: "jdebug",
                SESSION_LABEL: self.pod_name.removeprefix("jdebug-node-"),
            },
            "annotations": {"jdebug/target": f"{target.namespace}/{target.pod}/{target.container}"},
        }
        if self.ctx.settings.owner:
            metadata["ownerReferences"] = [self.ctx.settings.owner]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": {
                "nodeName": pod_of(target)["spec"]["nodeName"],
                "hostPID": True,
                "restartPolicy": "Never",
                "activeDeadlineSeconds": call.deadline_s + GRACE_S,
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 0,
                "tolerations": [{"operator": "Exists"}],
                "containers": [
                    {
                        "name": "agent",
                        "image": self.ctx.settings.debug_image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": call.in_cgroup(self.cid).argv(),
                        "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": False},
                    }
                ],
            },
        }

    async def run(self, request: Request, target: ResolvedTarget, call: AgentCall) -> RawOutput:
        started = time.monotonic()
        namespace = self.ctx.settings.node_namespace
        self.pod_name = f"jdebug-node-{secrets.token_hex(4)}"
        try:
            await self.ctx.api.create_pod(namespace, self.pod_spec(target, call))
        except (KubeForbidden, KubeInvalid) as error:
            self.pod_name = None
            raise StrategyFailed(error.message) from error
        log.info("node.pod_created", pod=self.pod_name, namespace=namespace)
        status = await wait_until_terminated(
            self.ctx.api,
            namespace,
            self.pod_name,
            f"the node debug pod {self.pod_name}",
            named_status("containerStatuses", "agent"),
            self.ctx.settings.debug_image,
            self.ctx.settings.start_timeout_s,
            call.deadline_s + GRACE_S,
        )
        output = await self.ctx.api.read_log(namespace, self.pod_name, "agent")
        return RawOutput(
            steps=(),
            exit_code=int(status["state"]["terminated"].get("exitCode", -1)),
            stderr="",
            strategy=self.name,
            where=f"node debug pod {namespace}/{self.pod_name}",
            duration_s=time.monotonic() - started,
            stdout=output,
            debug_container=self.pod_name,
        )

    async def cleanup(self) -> str:
        if self.pod_name is None:
            return "nothing created"
        name, self.pod_name = self.pod_name, None
        try:
            await self.ctx.api.delete_pod(self.ctx.settings.node_namespace, name)
        except KubeError as error:
            log.warning("node.delete_failed", pod=name, error=error.message)
            return (
                f"node debug pod {name} could not be deleted now ({error.message}); its "
                "deadline ends it and the janitor removes it"
            )
        return f"node debug pod {name} deleted"
