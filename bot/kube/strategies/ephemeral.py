"""`ephemeral`: add an ephemeral container next to the JVM, as the JVM's uid, and read its log.

The container targets the app container (so it shares its PID namespace), runs the agent
with a deadline (so it always exits by itself, because ephemeral containers can never be
removed), and needs only `patch pods/ephemeralcontainers` and `get pods/log`, not exec. Its
securityContext comes from `bot.kube.identity`: no SYS_PTRACE, PodSecurity-compliant.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

import structlog

from bot.errors import StrategyFailed
from bot.jvm.agent import AgentCall
from bot.kube.errors import KubeError, KubeForbidden, KubeInvalid, KubeNotFound
from bot.kube.identity import (
    Identity,
    added_capabilities,
    debug_security_context,
    jvm_identity,
)
from bot.kube.strategies.context import GRACE_S, KubeContext, pod_of
from bot.kube.strategies.exec import EXEC_RULES
from bot.kube.strategies.waiting import named_status, wait_until_terminated
from bot.request import Request
from bot.results import RawOutput
from bot.strategy import ResolvedTarget, Verdict

log = structlog.get_logger("jdebug.ephemeral")

RULES = (("patch", "pods", "ephemeralcontainers"), ("get", "pods", "log"))


def debug_container_name() -> str:
    """`jdebug-` + 5 random lowercase characters (names can never be reused in a pod)."""
    alphabet = string.ascii_lowercase + string.digits
    return "jdebug-" + "".join(secrets.choice(alphabet) for _ in range(5))


class EphemeralStrategy:
    name = "ephemeral"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx
        self.security_context: dict[str, Any] | None = None
        self.identity: Identity | None = None
        self.container: str | None = None
        self.target: ResolvedTarget | None = None
        self.deadline_s = 0

    async def check(self, request: Request, target: ResolvedTarget) -> Verdict:
        pod = pod_of(target)
        assert target.namespace and target.container
        if await self.ctx.probe.version() < (1, 23):
            return Verdict(
                False,
                "Kubernetes before 1.23 has no ephemeral containers by default",
                "upgrade the cluster or enable the EphemeralContainers feature gate",
            )
        missing = await self.ctx.probe.can_all(target.namespace, *RULES)
        if missing:
            return Verdict(
                False,
                f"not allowed to {missing}",
                "grant patch on pods/ephemeralcontainers and get on pods/log",
            )
        exec_allowed = await self.ctx.probe.can_all(target.namespace, *EXEC_RULES) is None
        self.identity = await jvm_identity(self.ctx.probe, pod, target.container, exec_allowed)
        level = await self.ctx.probe.pod_security(target.namespace)
        context = debug_security_context(
            self.identity, level, added_capabilities(pod, target.container)
        )
        if isinstance(context, str):
            return Verdict(
                False,
                context,
                "run the JVM as a non-root uid (runAsUser), or "
                "relax the namespace's PodSecurity to baseline",
            )
        self.security_context = context
        return Verdict(True)

    def container_spec(self, target: ResolvedTarget, call: AgentCall) -> dict[str, Any]:
        assert self.container and self.security_context is not None
        return {
            "name": self.container,
            "image": self.ctx.settings.debug_image,
            "imagePullPolicy": "IfNotPresent",
            "command": call.argv(),
            "targetContainerName": target.container,
            "securityContext": self.security_context,
            "terminationMessagePolicy": "File",
            "stdin": False,
            "tty": False,
        }

    async def run(self, request: Request, target: ResolvedTarget, call: AgentCall) -> RawOutput:
        assert target.namespace and target.pod
        started = time.monotonic()
        self.target, self.deadline_s = target, call.deadline_s
        self.container = debug_container_name()
        pod = await self.ctx.api.get_pod(target.namespace, target.pod)
        existing = list(pod.get("spec", {}).get("ephemeralContainers") or [])
        try:
            await self.ctx.api.patch_ephemeral_containers(
                target.namespace, target.pod, [*existing, self.container_spec(target, call)]
            )
        except KubeNotFound as error:
            self.container = None
            if error.is_missing_resource:
                raise StrategyFailed(
                    "this cluster does not serve pods/ephemeralcontainers "
                    "(Kubernetes < 1.23 or the feature gate is off)"
                ) from error
            raise
        except (KubeForbidden, KubeInvalid) as error:
            self.container = None
            raise StrategyFailed(error.message) from error
        log.info(
            "ephemeral.added",
            container=self.container,
            uid=self.security_context.get("runAsUser") if self.security_context else None,
        )
        status = await wait_until_terminated(
            self.ctx.api,
            target.namespace,
            target.pod,
            f"the debug container {self.container}",
            named_status("ephemeralContainerStatuses", self.container),
            self.ctx.settings.debug_image,
            self.ctx.settings.start_timeout_s,
            call.deadline_s + GRACE_S,
        )
        terminated = status["state"]["terminated"]
        output = await self.ctx.api.read_log(target.namespace, target.pod, self.container)
        return RawOutput(
            steps=(),
            exit_code=int(terminated.get("exitCode", -1)),
            stderr="",
            strategy=self.name,
            where=f"ephemeral container {self.container} in {target.namespace}/{target.pod}",
            duration_s=time.monotonic() - started,
            stdout=output,
        )

    async def cleanup(self) -> str:
        """Ephemeral containers cannot be removed: confirm ours ended, or say when it will."""
        if self.container is None or self.target is None:
            return "nothing added to the pod"
        assert self.target.namespace and self.target.pod
        try:
            pod = await self.ctx.api.get_pod(self.target.namespace, self.target.pod)
        except KubeError:
            return f"debug container {self.container} ends by itself within {self.deadline_s}s"
        status = named_status("ephemeralContainerStatuses", self.container)(pod) or {}
        state = status.get("state") or {}
        if "terminated" in state:
            return f"debug container {self.container} ended"
        if "running" in state:
            return (
                f"debug container {self.container} is still running; its deadline ends it "
                f"within {self.deadline_s}s"
            )
        return f"debug container {self.container} never started"
