"""`ephemeral`: add an ephemeral container next to the JVM, as the JVM's uid, and stream it the
agent.

The container targets the app container (so it shares its PID namespace) and starts from
the app's own image when it can (already on the node: no pull), else from the small debug
image. Its command is a fixed bootstrap; the agent, our static attach helper and the argv
arrive on stdin over `pods/attach` (debug_container.py), so nothing of the request stays in
the pod spec. It needs `patch pods/ephemeralcontainers` and `pods/attach`, not exec, and its
securityContext comes from `bot.kube.identity`: no SYS_PTRACE, PodSecurity-compliant.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import structlog

from bot.backends.protocols import Created, Unavailable
from bot.jvm.agent import AgentCall, plan_agent_call
from bot.jvm.agent_frames import parse_agent_output
from bot.jvm.delivery import attach_helpers
from bot.kube.errors import KubeError
from bot.kube.identity import (
    Identity,
    added_capabilities,
    debug_security_context,
    declared_identity,
    exec_identity,
)
from bot.kube.podjson import container_image, running_image_ref
from bot.kube.probe import MISSING_NAMESPACE, UNKNOWN_LEVEL
from bot.kube.strategies.context import KubeContext
from bot.kube.strategies.debug_container import (
    CannotStart,
    ContainerRun,
    jdebug_containers,
    run_debug_container,
)
from bot.kube.strategies.waiting import named_status
from bot.kube.targets import KubeTarget
from bot.model.errors import AmbiguousTarget, Choice, StrategyFailed, TargetNotFound
from bot.model.request import Request
from bot.model.results import AgentOutput
from bot.model.spool import Spool

log = structlog.get_logger("jdebug.ephemeral")

RBAC_FIX = "grant patch on pods/ephemeralcontainers and get and create on pods/attach"
ROOT_FIX = (
    "run the JVM as a non-root uid (runAsUser), or relax the namespace's PodSecurity to baseline"
)
DEFAULT_JAVA_MAJOR = 25
PROBE_DEADLINE_S = 20
# Beyond this many ended debug containers in one pod the answer says the pod should be
# replaced some day: they are never removed, and each adds to the pod object.
MANY_CONTAINERS = 50
# The uid probe: nobody, nothing it could misuse, and acceptable to PodSecurity restricted.
NOBODY_CONTEXT: dict[str, Any] = {
    "runAsUser": 65534,
    "runAsGroup": 65534,
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


@dataclass(frozen=True)
class EphemeralPlan:
    """Add a debug container targeting the app container, from the first of `images` that
    can run it: the app's own image (already on the node: no pull) when it may have a shell,
    then the debug image. `identity` is what the pod spec declares; when it is unknown, `run`
    asks (an `id` exec if allowed, else a probe container)."""

    target: KubeTarget
    identity: Identity
    level: str
    app_caps: tuple[str, ...]
    exec_allowed: bool
    images: tuple[str, ...]
    app_image: str | None = None


class EphemeralStrategy:
    name = "ephemeral"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    async def check(self, request: Request, target: KubeTarget) -> EphemeralPlan | Unavailable:
        probe = self.ctx.probe
        if await probe.version() < (1, 23):
            return Unavailable(
                "Kubernetes before 1.23 has no ephemeral containers by default",
                "upgrade the cluster or enable the EphemeralContainers feature gate",
            )
        rules = (("patch", "pods", "ephemeralcontainers"), *await probe.stream_rules("attach"))
        missing = await probe.can_all(target.namespace, *rules)
        if missing:
            return Unavailable(f"not allowed to {missing}", RBAC_FIX)
        exec_rules = await probe.stream_rules("exec")
        exec_allowed = await probe.can_all(target.namespace, *exec_rules) is None
        identity = declared_identity(target.pod, target.container)
        level = await probe.pod_security(target.namespace)
        if level == MISSING_NAMESPACE:  # gone since the pod was read: as if unreadable
            level = UNKNOWN_LEVEL
        caps = tuple(added_capabilities(target.pod, target.container))
        if identity.known:
            context = debug_security_context(identity, level, list(caps))
            if isinstance(context, str):
                return Unavailable(context, ROOT_FIX)
        images: tuple[str, ...] = (self.ctx.settings.debug_image,)
        app_image = running_image_ref(target.pod, target.container)
        reuse = self.ctx.settings.debug_from_app_image and self._helpers()
        if reuse and app_image and not probe.has_no_shell(app_image):
            images = (app_image, *images)
        first = images[0] if len(images) > 1 else None
        return EphemeralPlan(target, identity, level, caps, exec_allowed, images, first)

    def _helpers(self) -> dict[str, bytes]:
        return attach_helpers(self.ctx.settings.helpers_dir)

    async def run(self, plan: EphemeralPlan, call: AgentCall, created: Created) -> AgentOutput:
        target = plan.target
        identity = plan.identity
        if not identity.known and plan.exec_allowed:
            identity = await exec_identity(self.ctx.probe, target, identity)
        if not identity.known and plan.level in ("restricted", UNKNOWN_LEVEL):
            # Only root could look without knowing the uid, and restricted forbids root:
            # first ask a nobody-uid probe container for the JVM's uid/gid.
            identity = await self._probe_identity(plan, created)
        context = debug_security_context(identity, plan.level, list(plan.app_caps))
        if isinstance(context, str):
            raise StrategyFailed(context)
        ran = await self._first_image(plan, call, context, created)
        return AgentOutput(
            stdout=ran.stdout,
            stderr=ran.stderr,
            exit_code=ran.exit_code,
            where=f"ephemeral container {ran.name} in {target.namespace}/{target.name} "
            f"({ran.image_note})",
            debug_container=ran.name,
        )

    async def _first_image(
        self,
        plan: EphemeralPlan,
        call: AgentCall,
        security_context: dict[str, Any],
        created: Created,
    ) -> ContainerRun:
        """Run the agent from the first image that can start it; an image that cannot (no
        /bin/sh) is remembered, so the next request goes straight to the debug image."""
        why = ""
        for image in plan.images:
            resolved = await self._image(plan, image)
            try:
                ran = await run_debug_container(
                    self.ctx,
                    plan.target,
                    resolved,
                    security_context,
                    call,
                    self._helpers(),
                    created,
                )
            except CannotStart as error:
                self.ctx.probe.remember_no_shell(image)
                why = f"{resolved} cannot run jdebug's bootstrap ({error})"
                log.info("ephemeral.no_shell", image=resolved)
                continue
            note = (
                "from the app's own image: nothing pulled"
                if image == plan.app_image
                else f"from {resolved}"
            )
            return dataclasses.replace(ran, image_note=note)
        raise StrategyFailed(why or "no image to run the debug container from")

    async def _image(self, plan: EphemeralPlan, image: str) -> str:
        """`{java_major}` in the debug image becomes the app's Java major version (from
        `java -version` in the app container when exec is allowed, else 25)."""
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

    async def _probe_identity(self, plan: EphemeralPlan, created: Created) -> Identity:
        """Add a short-lived container as uid 65534 with every capability dropped (restricted
        accepts it); /proc/<pid>/status is readable by anyone, so it lists the JVMs' uid/gid."""
        probe = plan_agent_call((), deadline_s=PROBE_DEADLINE_S, pid=plan.target.pid)
        ran = await self._first_image(plan, probe, NOBODY_CONTEXT, created)
        try:
            jvms = parse_agent_output(ran.stdout, probe.nonce).jvms
        finally:
            if isinstance(ran.stdout, Spool):
                ran.stdout.close()
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

    async def cleanup(self, created: Created) -> str:
        """Ephemeral containers cannot be removed: confirm ours ended, or say when it will;
        and say so once when the pod holds many of them."""
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
            said = f"debug container {name} ended"
        elif "running" in state:
            said = (
                f"debug container {name} is still running; its deadline ends it "
                f"within {process.deadline_s}s"
            )
        else:
            said = f"debug container {name} never started"
        many = jdebug_containers(pod)
        if many > MANY_CONTAINERS and self.ctx.probe.first_warning(process.namespace, process.pod):
            said += (
                f". This pod now holds {many} ended jdebug debug containers: Kubernetes never "
                "removes them, and each adds to the pod object; they go when the pod is "
                "replaced (e.g. kubectl rollout restart)"
            )
        return said
