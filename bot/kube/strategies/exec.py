"""`exec` and `sidecar`: run the agent with `pods/exec` in a container that has a JDK tool.

`exec` uses the app container itself (its image has jcmd or jattach); `sidecar` uses another
container of a pod with `shareProcessNamespace: true` (the seed's always-on JDK sidecar).
Nothing is added to the pod, so nothing is left behind: the exec'd agent ends by itself.

Whether an image has a tool is learnt by running the agent there (it lists the JVMs, then
says "no attach tool" at once); the answer is remembered per image, so `check()` never execs.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.backends.protocols import Created, Unavailable
from bot.jvm.agent import EXIT_NO_TOOL, AgentCall
from bot.jvm.catalog import tool_named
from bot.kube.errors import KubeExecFailed, KubeForbidden
from bot.kube.podjson import container_image, running_image_ref
from bot.kube.strategies.context import GRACE_S, KubeContext
from bot.kube.targets import KubeTarget
from bot.model.errors import StrategyFailed
from bot.model.request import Request
from bot.model.results import AgentOutput

EXEC_RULES = (("get", "pods", "exec"), ("create", "pods", "exec"))
EXEC_FIX = "grant get and create on pods/exec"


@dataclass(frozen=True)
class ExecPlan:
    """Run the agent by exec in these containers of the pod, the first that has a tool."""

    target: KubeTarget
    containers: tuple[tuple[str, str], ...]  # (container, image)


async def _exec_agent(ctx: KubeContext, plan: ExecPlan, call: AgentCall, how: str) -> AgentOutput:
    """The agent's output from the first planned container whose image has a tool."""
    target = plan.target
    missing: list[str] = []
    for container, image in plan.containers:
        try:
            result = await ctx.api.exec_spooled(
                target.namespace,
                target.name,
                container,
                call.argv(),
                timeout_s=call.deadline_s + GRACE_S,
            )
        except KubeForbidden as error:
            raise StrategyFailed(error.message) from error
        except KubeExecFailed as error:  # no /bin/sh in the image (distroless)
            ctx.probe.remember_no_tool(image)
            if (ref := running_image_ref(target.pod, container)) is not None:
                # So an ephemeral container does not try this image next, only to fail too.
                ctx.probe.remember_no_shell(ref)
            missing.append(f"{container}: {no_shell(error.message)}")
            continue
        if result.exit_code == EXIT_NO_TOOL:
            result.stdout.close()
            ctx.probe.remember_no_tool(image)
            missing.append(f"{container} ({image or '?'}) has no jcmd or jattach")
            continue
        return AgentOutput(
            stdout=result.stdout,
            stderr=result.stderr,
            exit_code=result.exit_code,
            where=f"container {container} of {target.namespace}/{target.name} ({how})",
            debug_container=container,
        )
    raise StrategyFailed("; ".join(missing) or "no container to run the agent in")


def no_shell(message: str) -> str:
    """The runtime's refusal to start /bin/sh, as a sentence: what it means, what it said."""
    said = message[message.rfind('exec: "') :] if 'exec: "' in message else message
    said = said.removesuffix(": unknown")
    return (
        "the image has no shell (/bin/sh), as distroless images do, so exec cannot run "
        f"jdebug's agent there; an ephemeral container or a node debug pod can (the runtime "
        f"said: {said})"
    )


class ExecStrategy:
    """The app image already has a JDK tool: run the agent right there."""

    name = "exec"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    async def check(self, request: Request, target: KubeTarget) -> ExecPlan | Unavailable:
        missing = await self.ctx.probe.can_all(target.namespace, *EXEC_RULES)
        if missing:
            return Unavailable(f"not allowed to {missing}", EXEC_FIX)
        image = container_image(target.pod, target.container)
        # jps only lists /proc: it needs a shell, not an attach tool.
        needs_tool = bool(tool_named(request.tool).steps(request.options))
        if needs_tool and self.ctx.probe.has_no_tool(image):
            return Unavailable(f"the app image has no jcmd or jattach ({image or '?'})")
        return ExecPlan(target, ((target.container, image),))

    async def run(self, plan: ExecPlan, call: AgentCall, created: Created) -> AgentOutput:
        return await _exec_agent(self.ctx, plan, call, "exec")

    async def cleanup(self, created: Created) -> str:
        return "nothing added to the pod"


class SidecarStrategy:
    """A JDK container already shares the pod's process namespace: run the agent there."""

    name = "sidecar"

    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    async def check(self, request: Request, target: KubeTarget) -> ExecPlan | Unavailable:
        spec = target.pod.get("spec", {})
        if not spec.get("shareProcessNamespace"):
            return Unavailable("the pod does not share its process namespace")
        others = [
            (name, container_image(target.pod, name))
            for name in (c.get("name", "") for c in spec.get("containers", []))
            if name != target.container
        ]
        if not others:
            return Unavailable("the pod has no other container")
        missing = await self.ctx.probe.can_all(target.namespace, *EXEC_RULES)
        if missing:
            return Unavailable(f"not allowed to {missing}", EXEC_FIX)
        usable = tuple((n, i) for n, i in others if not self.ctx.probe.has_no_tool(i))
        if not usable:
            return Unavailable("no other container in the pod has jcmd or jattach")
        return ExecPlan(target, usable)

    async def run(self, plan: ExecPlan, call: AgentCall, created: Created) -> AgentOutput:
        return await _exec_agent(self.ctx, plan, call, "sidecar exec")

    async def cleanup(self, created: Created) -> str:
        return "nothing added to the pod"
