"""`node`: a short-lived hostPID pod on the target's node, when ephemeral containers are off
or forbidden. It finds the JVM by the container ID in `/proc/<pid>/cgroup`, runs as root
with the runtime's default capabilities (never privileged, never SYS_PTRACE) and the agent
drops to the JVM's uid/gid. It has a deadline, is labelled for the janitor, carries an
ownerReference to the bot's pod, and is deleted when the request ends.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import structlog

from bot.backends.protocols import Created, DebugProcess, Unavailable
from bot.jvm.agent import AgentCall
from bot.kube.errors import KubeError, KubeForbidden, KubeInvalid
from bot.kube.podjson import container_id
from bot.kube.probe import MISSING_NAMESPACE, UNKNOWN_LEVEL
from bot.kube.strategies.context import GRACE_S, KubeContext
from bot.kube.strategies.waiting import (
    named_status,
    pull_secrets,
    pull_secrets_note,
    wait_until_terminated,
)
from bot.kube.targets import KubeTarget
from bot.model.errors import StrategyFailed
from bot.model.request import Request
from bot.model.results import AgentOutput

log = structlog.get_logger("jdebug.node")

MANAGED_BY = "app.kubernetes.io/managed-by"
SESSION_LABEL = "jdebug/session"
RULES = (
    ("create", "pods", ""),
    ("delete", "pods", ""),
    ("get", "pods", ""),
    ("get", "pods", "log"),
)


@dataclass(frozen=True)
class NodePlan:
    """A hostPID pod on `node` in `namespace`, finding the JVM by its container ID."""

    target: KubeTarget
    node: str
    container_id: str
    namespace: str


class NodeStrategy:
    name = "node"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    async def check(self, request: Request, target: KubeTarget) -> NodePlan | Unavailable:
        namespace = self.ctx.settings.node_namespace
        if target.pid is not None:
            return Unavailable(
                "pid= names a pid inside the container, which a node pod does not see"
            )
        cid = container_id(target.pod, target.container)
        if not cid or not target.node:
            return Unavailable("the container has no ID or node yet")
        level = await self.ctx.probe.pod_security(namespace)
        if level == MISSING_NAMESPACE:
            return Unavailable(
                f"the node debug pods' namespace {namespace} does not exist",
                "create it (labelled pod-security.kubernetes.io/enforce=privileged), or set "
                "JDEBUG_NODE_NAMESPACE to one that exists",
            )
        missing = await self.ctx.probe.can_all(namespace, *RULES)
        if missing:
            return Unavailable(
                f"not allowed to {missing}",
                f"grant create, delete and get on pods and get on pods/log in {namespace}",
            )
        if level == UNKNOWN_LEVEL:
            return Unavailable(
                f"the PodSecurity level of namespace {namespace} cannot be read, and hostPID "
                "pods need privileged",
                "grant get on namespaces",
            )
        if level != "privileged":
            return Unavailable(
                f"namespace {namespace} enforces PodSecurity {level}, which forbids hostPID pods",
                f"label {namespace} pod-security.kubernetes.io/enforce=privileged",
            )
        return NodePlan(target, target.node, cid, namespace)

    def pod_spec(self, plan: NodePlan, name: str, call: AgentCall) -> dict[str, Any]:
        target = plan.target
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": plan.namespace,
            "labels": {MANAGED_BY: "jdebug", SESSION_LABEL: name.removeprefix("jdebug-node-")},
            "annotations": {
                "jdebug/target": f"{target.namespace}/{target.name}/{target.container}"
            },
        }
        if self.ctx.settings.owner:
            metadata["ownerReferences"] = [self.ctx.settings.owner]
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata,
            "spec": {
                "nodeName": plan.node,
                "hostPID": True,
                "restartPolicy": "Never",
                "activeDeadlineSeconds": call.deadline_s + GRACE_S,
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 0,
                "tolerations": [{"operator": "Exists"}],
                **pull_secrets(self.ctx.settings.image_pull_secrets),
                "containers": [
                    {
                        "name": "agent",
                        "image": self.ctx.settings.debug_image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": call.in_cgroup(plan.container_id).argv(),
                        "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": False},
                    }
                ],
            },
        }

    async def run(self, plan: NodePlan, call: AgentCall, created: Created) -> AgentOutput:
        name = f"jdebug-node-{secrets.token_hex(4)}"
        try:
            await self.ctx.api.create_pod(plan.namespace, self.pod_spec(plan, name, call))
        except (KubeForbidden, KubeInvalid) as error:
            raise StrategyFailed(error.message) from error
        created.add(DebugProcess("pod", plan.namespace, name, "agent", call.deadline_s))
        log.info("node.pod_created", pod=name, namespace=plan.namespace)
        status = await wait_until_terminated(
            self.ctx.api,
            plan.namespace,
            name,
            f"the node debug pod {name}",
            named_status("containerStatuses", "agent"),
            self.ctx.settings.debug_image,
            self.ctx.settings.start_timeout_s,
            call.deadline_s + GRACE_S,
            pull_secrets_note(self.ctx.settings.image_pull_secrets, "the node debug pod"),
        )
        output = await self.ctx.api.read_log(plan.namespace, name, "agent")
        return AgentOutput(
            stdout=output,
            stderr="",
            exit_code=int(status["state"]["terminated"].get("exitCode", -1)),
            where=f"node debug pod {plan.namespace}/{name}",
            debug_container=name,
        )

    async def cleanup(self, created: Created) -> str:
        process = created.last
        if process is None:
            return "nothing created"
        try:
            await self.ctx.api.delete_pod(process.namespace, process.pod)
        except KubeError as error:
            log.warning("node.delete_failed", pod=process.pod, error=error.message)
            return (
                f"node debug pod {process.pod} could not be deleted now ({error.message}); its "
                "deadline ends it and the janitor removes it"
            )
        return f"node debug pod {process.pod} deleted"
