"""A `Request` written back as the command text a user would type, e.g. for button values.

Buttons carry this text, not a serialized object: a click is parsed by the same grammar as a
typed command, so a forged button can do no more than typing could.
"""

from __future__ import annotations

from bot.model.request import Options, Request


def command_text(request: Request) -> str:
    """`threaddump pod=cowweb ns=prod count=3 interval=5s`; only options the tool takes."""
    tool, options = request.tool, request.options
    target = request.target
    words = [tool]
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
    if tool == "threaddump" and options.count > 1:
        words += [f"count={options.count}", f"interval={options.interval_s}s"]
    if tool == "histo" and options.top != Options().top:
        words.append(f"top={options.top}")
    if options.every_pod or (options.all and tool in ("flags", "histo")):
        words.append("all")
    return " ".join(words)
