"""The agent's framed stdout split into the JVM list and the tool steps (see agent.sh).

Each step's text is one slice of the output; from a `Spool` it is decoded straight from the
file, so a 50 MB dump is never held twice.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from bot.jvm.jps import JvmInfo, parse_jvm_lines
from bot.model.results import StepOutput
from bot.model.spool import Spool


@dataclass(frozen=True)
class AgentFrames:
    """The agent's stdout split into the JVM list, the tool steps, and any failure."""

    jvms: tuple[JvmInfo, ...]
    jvm_text: str
    steps: tuple[StepOutput, ...]
    tools: tuple[str, ...]
    fail_rc: int | None
    fail_message: str | None
    unframed: str

    @property
    def target(self) -> JvmInfo | None:
        """The JVM the tool steps ran against, when any ran."""
        pids = {s.pid for s in self.steps}
        return next((j for j in self.jvms if j.pid in pids), None)


_FIELD = re.compile(r"(\w+)=(\S*)")


def _marker_lines(text: str, marker: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, content) of each line that begins with `marker`; `end` is past its
    newline. Found with str.find, so a 50 MB dump is never split into lines."""
    found = 0 if text.startswith(marker) else _next_marker(text, marker, 0)
    while found >= 0:
        eol = text.find("\n", found)
        stop = len(text) if eol < 0 else eol + 1
        yield found, stop, text[found + len(marker) : stop].rstrip("\n")
        found = _next_marker(text, marker, stop - 1) if eol >= 0 else -1


def _next_marker(text: str, marker: str, after: int) -> int:
    """The start of the next line beginning with `marker` at or after `after`, or -1."""
    hit = text.find("\n" + marker, after)
    return hit + 1 if hit >= 0 else -1


def parse_agent_output(stdout: str | Spool, nonce: str) -> AgentFrames:
    """Split framed agent output; text outside frames is kept (it explains odd failures).

    Each step's text is one slice of `stdout`; from a `Spool` it is decoded straight from
    the file, so the whole output is never in memory next to it.
    """
    marker = f"@@jdebug:{nonce} "
    if isinstance(stdout, str):
        return _split_frames(
            _marker_lines(stdout, marker),
            len(stdout),
            lambda spans: "".join(stdout[start:stop] for start, stop in spans),
        )
    return _split_frames(_spooled_marker_lines(stdout, marker), stdout.size, stdout.text)


def _spooled_marker_lines(spool: Spool, marker: str) -> Iterator[tuple[int, int, str]]:
    """`_marker_lines` of a spool, in byte offsets: markers are ASCII and begin and end at
    line breaks, so the spans between them decode alone to what slicing the text gives."""
    prefix = marker.encode()
    for start in spool.line_starts(prefix):
        line = spool.line_at(start)
        content = line[len(prefix) :].decode("utf-8", "replace").rstrip("\n")
        yield start, start + len(line), content


def _split_frames(
    markers: Iterable[tuple[int, int, str]],
    size: int,
    text_of: Callable[[Sequence[tuple[int, int]]], str],
) -> AgentFrames:
    """The frames between `markers` (start, end, content) of an output of `size`, whose
    text `text_of` gives for (start, end) spans."""
    steps: list[StepOutput] = []
    tools: list[str] = []
    jvm_text = ""
    unframed: list[tuple[int, int]] = []
    fail_rc: int | None = None
    fail_message: str | None = None
    current: dict[str, str] | None = None
    body_start = cursor = 0
    for start, stop, content in markers:
        if current is None and start > cursor:
            unframed.append((cursor, start))
        kind, _, rest = content.partition(" ")
        fields = dict(_FIELD.findall(rest))
        if kind == "begin":
            if current is not None:  # a step that never ended: keep what it printed
                unframed.append((body_start, start))
            current, body_start = fields, stop
        elif kind == "end" and current is not None:
            body = text_of([(body_start, start)])
            if current.get("step") == "jvms":
                jvm_text = body
            else:
                pid, rc = current.get("pid", "-"), fields.get("rc", "")
                data = _base64(body) if current.get("enc") == "base64" else None
                steps.append(
                    StepOutput(
                        name=current.get("step", "?"),
                        pid=int(pid) if pid.isdigit() else None,
                        exit_code=int(rc) if rc.isdigit() else -1,
                        text="" if data is not None else body,
                        data=data,
                    )
                )
                tools.append(current.get("tool", "?"))
            current = None
        elif kind == "fail":
            fail_rc = int(fields["rc"]) if fields.get("rc", "").isdigit() else 1
            fail_message = rest.partition(" ")[2]
        cursor = stop
    # Cut off mid-step (or text after the last marker): keep what arrived.
    tail = body_start if current is not None else cursor
    if tail < size:
        unframed.append((tail, size))
    return AgentFrames(
        jvms=parse_jvm_lines(jvm_text),
        jvm_text=jvm_text,
        steps=tuple(steps),
        tools=tuple(tools),
        fail_rc=fail_rc,
        fail_message=fail_message,
        unframed=text_of(unframed),
    )


def _base64(text: str) -> bytes:
    """A file step's bytes, sent as base64 lines; what does not decode is dropped (the
    analyser of a cut file says so)."""
    try:
        return base64.b64decode("".join(text.split()), validate=False)
    except (binascii.Error, ValueError):
        return b""
