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

from bot.backends.protocols import ResolvedTarget, Verdict
from bot.jvm.agent import AgentCall, parse_agent_output, plan_agent_call
from bot.kube.errors import KubeError, KubeForbidden, KubeInvalid, KubeNotFound
from bot.kube.identity import (
    Identity,
    added_capabilities,
    debug_security_context,
    jvm_identity,
)
from bot.kube.probe import UNKNOWN_LEVEL
from bot.kube.strategies.context import GRACE_S, KubeContext, container_image, pod_of
from bot.kube.strategies.exec import EXEC_RULES
from bot.kube.strategies.waiting import named_status, wait_until_terminated
from bot.model.errors import AmbiguousTarget, StrategyFailed, TargetNotFound
from bot.model.request import Options, Request
from bot.model.results import RawOutput

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


class EphemeralStrategy:
    name = "ephemeral"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx
        self.security_context: dict[str, Any] | None = None
        self.identity: Identity | None = None
        self.container: str | None = None
        self.target: ResolvedTarget | None = None
        self.deadline_s = 0
        self.image = ctx.settings.debug_image
        self.level = "restricted"
        self.app_caps: list[str] = []
        self.needs_probe = False

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
        self.image = await self._image(target, exec_allowed)
        self.identity = await jvm_identity(self.ctx.probe, pod, target.container, exec_allowed)
        self.level = await self.ctx.probe.pod_security(target.namespace)
        self.app_caps = added_capabilities(pod, target.container)
        if not self.identity.known and self.level in ("restricted", UNKNOWN_LEVEL):
            # Only root could look without knowing the uid, and restricted forbids root:
            # run() first asks a nobody-uid probe container for the JVM's uid/gid.
            self.needs_probe = True
            return Verdict(True)
        context = debug_security_context(self.identity, self.level, self.app_caps)
        if isinstance(context, str):
            return Verdict(False, context, ROOT_FIX)
        self.security_context = context
        return Verdict(True)

    async def _image(self, target: ResolvedTarget, exec_allowed: bool) -> str:
        """The debug image; `{java_major}` in it becomes the app's Java major version (from
        `java -version` in the app container when exec is allowed, else 25)."""
        image = self.ctx.settings.debug_image
        if "{java_major}" not in image:
            return image
        major = None
        if exec_allowed:
            assert target.namespace and target.pod and target.container
            major = await self.ctx.probe.java_major(
                target.namespace,
                target.pod,
                target.container,
                container_image(pod_of(target), target.container),
            )
        return image.replace("{java_major}", str(major or DEFAULT_JAVA_MAJOR))

    async def _probe_identity(self, target: ResolvedTarget) -> Identity:
        """Add a short-lived container as uid 65534 with every capability dropped (restricted
        accepts it); /proc/<pid>/status is readable by anyone, so it lists the JVMs' uid/gid."""
        assert target.namespace and target.pod
        probe = plan_agent_call(
            None, "jvms", Options(), deadline_s=PROBE_DEADLINE_S, pid=target.pid
        )
        output, _ = await self._run_container(target, probe, NOBODY_CONTEXT)
        jvms = parse_agent_output(output, probe.nonce).jvms
        if not jvms:
            raise TargetNotFound(f"no JVM is running in {target.description}")
        uids = {(j.uid, j.gid) for j in jvms}
        if len(uids) > 1:
            raise AmbiguousTarget(
                f"{len(jvms)} JVMs run there as different users; pick one with pid=N: "
                + "; ".join(j.describe() for j in jvms),
                tuple(j.describe() for j in jvms),
            )
        uid, gid = uids.pop()
        return Identity(uid, gid, "probe container")

    def container_spec(
        self, target: ResolvedTarget, call: AgentCall, security_context: dict[str, Any]
    ) -> dict[str, Any]:
        assert self.container
        return {
            "name": self.container,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": call.argv(),
            "targetContainerName": target.container,
            "securityContext": security_context,
            "terminationMessagePolicy": "File",
            "stdin": False,
            "tty": False,
        }

    async def run(self, request: Request, target: ResolvedTarget, call: AgentCall) -> RawOutput:
        assert target.namespace and target.pod
        started = time.monotonic()
        self.target, self.deadline_s = target, call.deadline_s
        if self.needs_probe:
            self.identity = await self._probe_identity(target)
            context = debug_security_context(self.identity, self.level, self.app_caps)
            if isinstance(context, str):
                raise StrategyFailed(context)
            self.security_context = context
        assert self.security_context is not None
        output, exit_code = await self._run_container(target, call, self.security_context)
        return RawOutput(
            steps=(),
            exit_code=exit_code,
            stderr="",
            strategy=self.name,
            where=f"ephemeral container {self.container} in {target.namespace}/{target.pod}",
            duration_s=time.monotonic() - started,
            stdout=output,
            debug_container=self.container,
        )

    async def _run_container(
        self, target: ResolvedTarget, call: AgentCall, security_context: dict[str, Any]
    ) -> tuple[str, int]:
        """Add one ephemeral container running the agent; its log and exit code once ended."""
        assert target.namespace and target.pod
        self.container = debug_container_name()
        pod = await self.ctx.api.get_pod(target.namespace, target.pod)
        existing = list(pod.get("spec", {}).get("ephemeralContainers") or [])
        spec = self.container_spec(target, call, security_context)
        try:
            await self.ctx.api.patch_ephemeral_containers(
                target.namespace, target.pod, [*existing, spec]
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
        log.info("ephemeral.added", container=self.container, uid=security_context.get("runAsUser"))
        status = await wait_until_terminated(
            self.ctx.api,
            target.namespace,
            target.pod,
            f"the debug container {self.container}",
            named_status("ephemeralContainerStatuses", self.container),
            self.image,
            self.ctx.settings.start_timeout_s,
            call.deadline_s + GRACE_S,
        )
        output = await self.ctx.api.read_log(target.namespace, target.pod, self.container)
        return output, int(status["state"]["terminated"].get("exitCode", -1))

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
