"""`ephemeral`: add an ephemeral container next to the JVM, as the JVM's uid, and read its log.

The container targets the app container (so it shares its PID namespace), runs the agent
with a deadline (so it always exits by itself, because ephemeral containers can never be
removed), and needs only `patch pods/ephemeralcontainers` and `get pods/log`, not exec. Its
securityContext comes from `bot.kube.identity`: no SYS_PTRACE, PodSecurity-compliant.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

import structlog

from bot.backends.protocols import Created, DebugProcess, Unavailable
from bot.jvm.agent import AgentCall, plan_agent_call
from bot.jvm.agent_frames import parse_agent_output
from bot.kube.errors import KubeError, KubeForbidden, KubeInvalid, KubeNotFound
from bot.kube.identity import (
    Identity,
    added_capabilities,
    debug_security_context,
    declared_identity,
    exec_identity,
)
from bot.kube.podjson import container_image
from bot.kube.probe import UNKNOWN_LEVEL
from bot.kube.strategies.context import GRACE_S, KubeContext
from bot.kube.strategies.exec import EXEC_RULES
from bot.kube.strategies.waiting import named_status, wait_until_terminated
from bot.kube.targets import KubeTarget
from bot.model.errors import AmbiguousTarget, Choice, StrategyFailed, TargetNotFound
from bot.model.request import Request
from bot.model.results import AgentOutput

log = structlog.get_logger("jdebug.ephemeral")

RULES = (("patch", "pods", "ephemeralcontainers"), ("get", "pods", "log"))
ROOT_FIX = (
    "run the JVM as a non-root uid (runAsUser), or relax the namespace's PodSecurity to baseline"
)
DEFAULT_JAVA_MAJOR = 25
PROBE_DEADLINE_S = 20
# The uid probe: nobody, nothing it could misuse, and acceptable to PodSecurity restricted.
NOBODY_CONTEXT: dict[str, Any] = {
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def debug_container_name() -> str:
    """`jdebug-` + 5 random lowercase characters (names can never be reused in a pod)."""
    alphabet = string.ascii_lowercase + string.digits
    return "jdebug-" + "".join(secrets.choice(alphabet) for _ in range(5))


@dataclass(frozen=True)
class EphemeralPlan:
    """Add a debug container targeting the app container. `identity` is what the pod spec
    declares; when it is unknown, `run` asks (an `id` exec if allowed, else a probe container)."""

    target: KubeTarget
    identity: Identity
    level: str
    app_caps: tuple[str, ...]
    exec_allowed: bool


class EphemeralStrategy:
    name = "ephemeral"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    async def check(self, request: Request, target: KubeTarget) -> EphemeralPlan | Unavailable:
        if await self.ctx.probe.version() < (1, 23):
            return Unavailable(
                "Kubernetes before 1.23 has no ephemeral containers by default",
                "upgrade the cluster or enable the EphemeralContainers feature gate",
            )
        missing = await self.ctx.probe.can_all(target.namespace, *RULES)
        if missing:
            return Unavailable(
                f"not allowed to {missing}",
                "grant patch on pods/ephemeralcontainers and get on pods/log",
            )
        exec_allowed = await self.ctx.probe.can_all(target.namespace, *EXEC_RULES) is None
        identity = declared_identity(target.pod, target.container)
        level = await self.ctx.probe.pod_security(target.namespace)
        caps = tuple(added_capabilities(target.pod, target.container))
        if identity.known:
            context = debug_security_context(identity, level, list(caps))
            if isinstance(context, str):
                return Unavailable(context, ROOT_FIX)
        return EphemeralPlan(target, identity, level, caps, exec_allowed)

    async def run(self, plan: EphemeralPlan, call: AgentCall, created: Created) -> AgentOutput:
        target = plan.target
        image = await self._image(plan)
        identity = plan.identity
        if not identity.known and plan.exec_allowed:
            identity = await exec_identity(self.ctx.probe, target, identity)
        if not identity.known and plan.level in ("restricted", UNKNOWN_LEVEL):
            # Only root could look without knowing the uid, and restricted forbids root:
            # first ask a nobody-uid probe container for the JVM's uid/gid.
            identity = await self._probe_identity(plan, image, created)
        context = debug_security_context(identity, plan.level, list(plan.app_caps))
        if isinstance(context, str):
            raise StrategyFailed(context)
        output, exit_code, name = await self._run_container(plan, image, call, context, created)
        return AgentOutput(
            stdout=output,
            stderr="",
            exit_code=exit_code,
            where=f"ephemeral container {name} in {target.namespace}/{target.name}",
            debug_container=name,
        )

    async def _image(self, plan: EphemeralPlan) -> str:
        """The debug image; `{java_major}` in it becomes the app's Java major version (from
        `java -version` in the app container when exec is allowed, else 25)."""
        image = self.ctx.settings.debug_image
        if "{java_major}" not in image:
            return image
        major = None
        if plan.exec_allowed:
            target = plan.target
            major = await self.ctx.probe.java_major(
                target.namespace,
                target.name,
                target.container,
                container_image(target.pod, target.container),
            )
        return image.replace("{java_major}", str(major or DEFAULT_JAVA_MAJOR))

    async def _probe_identity(self, plan: EphemeralPlan, image: str, created: Created) -> Identity:
        """Add a short-lived container as uid 65534 with every capability dropped (restricted
        accepts it); /proc/<pid>/status is readable by anyone, so it lists the JVMs' uid/gid."""
        probe = plan_agent_call((), deadline_s=PROBE_DEADLINE_S, pid=plan.target.pid)
        output, _, _ = await self._run_container(plan, image, probe, NOBODY_CONTEXT, created)
        jvms = parse_agent_output(output, probe.nonce).jvms
        if not jvms:
            raise TargetNotFound(f"no JVM is running in {plan.target.description}")
        uids = {(j.uid, j.gid) for j in jvms}
        if len(uids) > 1:
            raise AmbiguousTarget(
                f"{len(jvms)} JVMs run there as different users; pick one with pid=N: "
                + "; ".join(j.describe() for j in jvms),
                tuple(Choice(j.describe(), "pid", str(j.pid)) for j in jvms),
            )
        uid, gid = uids.pop()
        return Identity(uid, gid, "probe container")

    async def _run_container(
        self,
        plan: EphemeralPlan,
        image: str,
        call: AgentCall,
        security_context: dict[str, Any],
        created: Created,
    ) -> tuple[str, int, str]:
        """Add one ephemeral container running the agent; its log, exit code and name once
        it ended."""
        target = plan.target
        name = debug_container_name()
        pod = await self.ctx.api.get_pod(target.namespace, target.name)
        existing = list(pod.get("spec", {}).get("ephemeralContainers") or [])
        spec = container_spec(name, image, target.container, call, security_context)
        try:
            await self.ctx.api.patch_ephemeral_containers(
                target.namespace, target.name, [*existing, spec]
            )
        except KubeNotFound as error:
            if error.is_missing_resource:
                raise StrategyFailed(
                    "this cluster does not serve pods/ephemeralcontainers "
                    "(Kubernetes < 1.23 or the feature gate is off)"
                ) from error
            raise
        except (KubeForbidden, KubeInvalid) as error:
            raise StrategyFailed(error.message) from error
        created.add(DebugProcess("container", target.namespace, target.name, name, call.deadline_s))
        log.info("ephemeral.added", container=name, uid=security_context.get("runAsUser"))
        status = await wait_until_terminated(
            self.ctx.api,
            target.namespace,
            target.name,
            f"the debug container {name}",
            named_status("ephemeralContainerStatuses", name),
            image,
            self.ctx.settings.start_timeout_s,
            call.deadline_s + GRACE_S,
        )
        output = await self.ctx.api.read_log(target.namespace, target.name, name)
        return output, int(status["state"]["terminated"].get("exitCode", -1)), name

    async def cleanup(self, created: Created) -> str:
        """Ephemeral containers cannot be removed: confirm ours ended, or say when it will."""
        process = created.last
        if process is None:
            return "nothing added to the pod"
        name = process.container
        try:
            pod = await self.ctx.api.get_pod(process.namespace, process.pod)
        except KubeError:
            return f"debug container {name} ends by itself within {process.deadline_s}s"
        status = named_status("ephemeralContainerStatuses", name)(pod) or {}
        state = status.get("state") or {}
        if "terminated" in state:
            return f"debug container {name} ended"
        if "running" in state:
            return (
                f"debug container {name} is still running; its deadline ends it "
                f"within {process.deadline_s}s"
            )
        return f"debug container {name} never started"


def container_spec(
    name: str, image: str, target: str, call: AgentCall, security_context: dict[str, Any]
) -> dict[str, Any]:
    """The ephemeral container as it goes into the pod spec."""
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": call.argv(),
        "targetContainerName": target,
        "securityContext": security_context,
        "terminationMessagePolicy": "File",
        "stdin": False,
        "tty": False,
    }
