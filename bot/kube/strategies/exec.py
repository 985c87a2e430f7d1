"""`exec` and `sidecar`: run the agent with `pods/exec` in a container that has a JDK tool.

`exec` uses the app container itself (its image has jcmd or jattach); `sidecar` uses another
container of a pod with `shareProcessNamespace: true` (the seed's always-on JDK sidecar).
Nothing is added to the pod, so nothing is left behind: the exec'd agent ends by itself.
"""

from __future__ import annotations

import time

from bot.backends.protocols import ResolvedTarget, Verdict
from bot.jvm.agent import AgentCall
from bot.kube.errors import KubeError, KubeForbidden
from bot.kube.strategies.context import GRACE_S, KubeContext, container_image, pod_of
from bot.model.errors import StrategyFailed
from bot.model.request import Request
from bot.model.results import RawOutput

EXEC_RULES = (("get", "pods", "exec"), ("create", "pods", "exec"))


async def _exec_agent(
    ctx: KubeContext, name: str, target: ResolvedTarget, container: str, call: AgentCall
) -> RawOutput:
    assert target.namespace and target.pod
    started = time.monotonic()
    try:
        result = await ctx.api.exec(
            target.namespace,
            target.pod,
            container,
            call.argv(),
            timeout_s=call.deadline_s + GRACE_S,
        )
    except KubeForbidden as error:
        raise StrategyFailed(error.message) from error
    return RawOutput(
        steps=(),
        exit_code=result.exit_code,
        stderr=result.stderr,
        strategy=name,
        where=f"container {container} of {target.namespace}/{target.pod} (exec)",
        duration_s=time.monotonic() - started,
        stdout=result.stdout,
        debug_container=container,
    )


class ExecStrategy:
    """The app image already has a JDK tool: run the agent right there."""

    name = "exec"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    async def check(self, request: Request, target: ResolvedTarget) -> Verdict:
        pod = pod_of(target)
        assert target.namespace and target.container
        missing = await self.ctx.probe.can_all(target.namespace, *EXEC_RULES)
        if missing:
            return Verdict(False, f"not allowed to {missing}", "grant get and create on pods/exec")
        image = container_image(pod, target.container)
        tools = await self.ctx.probe.tools(
            target.namespace, str(target.pod), target.container, image
        )
        if not tools:
            return Verdict(False, f"the app image has no jcmd or jattach ({image or '?'})")
        return Verdict(True)

    async def run(self, request: Request, target: ResolvedTarget, call: AgentCall) -> RawOutput:
        assert target.container
        return await _exec_agent(self.ctx, self.name, target, target.container, call)

    async def cleanup(self) -> str:
        return "nothing added to the pod"


class SidecarStrategy:
    """A JDK container already shares the pod's process namespace: run the agent there."""

    name = "sidecar"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx
        self.sidecar: str | None = None

    async def check(self, request: Request, target: ResolvedTarget) -> Verdict:
        pod = pod_of(target)
        assert target.namespace and target.pod
        if not pod.get("spec", {}).get("shareProcessNamespace"):
            return Verdict(False, "the pod does not share its process namespace")
        others = [c for c in pod["spec"].get("containers", []) if c["name"] != target.container]
        if not others:
            return Verdict(False, "the pod has no other container")
        missing = await self.ctx.probe.can_all(target.namespace, *EXEC_RULES)
        if missing:
            return Verdict(False, f"not allowed to {missing}", "grant get and create on pods/exec")
        for container in others:
            try:
                tools = await self.ctx.probe.tools(
                    target.namespace,
                    target.pod,
                    container["name"],
                    container_image(pod, container["name"]),
                )
            except KubeError:
                continue
            if tools:
                self.sidecar = str(container["name"])
                return Verdict(True)
        return Verdict(False, "no other container in the pod has jcmd or jattach")

    async def run(self, request: Request, target: ResolvedTarget, call: AgentCall) -> RawOutput:
        assert self.sidecar
        return await _exec_agent(self.ctx, self.name, target, self.sidecar, call)

    async def cleanup(self) -> str:
        return "nothing added to the pod"
