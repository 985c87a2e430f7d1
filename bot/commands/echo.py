"""A `Request` written back as the command text a user would type, e.g. for button values.

Buttons carry this text, not a serialized object: a click is parsed by the same grammar as a
typed command, so a forged button can do no more than typing could.
"""

from __future__ import annotations

import dataclasses

from bot.jvm.catalog import FollowUp, tool_named
from bot.model.errors import Choice
from bot.model.request import Request, TargetSelector
from bot.model.results import Place


def command_text(request: Request) -> str:
    """`threaddump pod=cowweb ns=prod count=3 interval=5s`; options only where they differ
    from the tool's defaults."""
    target = request.target
    words = [request.tool]
    if target.pod:
        words.append(f"pod={target.pod}")
    if target.deploy:
        words.append(f"deploy={target.deploy}")
    if target.selector:
        words.append("selector=" + ",".join(f"{k}={v}" for k, v in target.selector))
    if target.namespace:
        words.append(f"ns={target.namespace}")
    if target.container:
        words.append(f"container={target.container}")
    if target.pid is not None:
        words.append(f"pid={target.pid}")
    if target.cluster:
        words.append(f"cluster={target.cluster}")
    for spec in tool_named(request.tool).options:
        value = request.options.get(spec.key, spec.default)
        if value != spec.default:
            words.append(spec.text(value))
    if request.every_pod:
        words.append("all")
    return " ".join(words)


def follow_up_request(request: Request, follow_up: FollowUp) -> Request:
    """What a follow-up button runs: its tool (or the same one) on the same target, with
    the tool's defaults and the follow-up's options on top."""
    if follow_up.tool is None:
        return request
    tool = tool_named(follow_up.tool)
    return dataclasses.replace(
        request, tool=tool.name, options=tool.defaults(**dict(follow_up.options))
    )


def chosen_request(request: Request, choice: Choice) -> Request:
    """The same request with one of several matching targets picked (`pid=` or `pod=`)."""
    target = request.target
    if choice.key == "pid":
        target = dataclasses.replace(target, pid=int(choice.value))
    else:
        namespace, _, pod = choice.value.rpartition("/")
        target = dataclasses.replace(
            target, pod=pod, namespace=namespace or target.namespace, deploy=None, selector=()
        )
    return dataclasses.replace(request, target=target, every_pod=False)


def pod_request(request: Request, place: Place) -> Request:
    """A fan-out's request as if it had named this one pod: what that pod's buttons re-run."""
    if place.pod is None:
        return request
    target = TargetSelector(
        pod=place.pod,
        namespace=place.namespace,
        container=request.target.container,
        cluster=request.target.cluster,
    )
    return dataclasses.replace(request, target=target, every_pod=False)
