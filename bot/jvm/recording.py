"""`profile`: a JDK Flight Recorder recording of the live JVM, as agent steps, and its answer.

The recording uses jdebug's own settings (`recording_settings`), written into the JVM's /tmp:
only the events the summary reads, so it costs the JVM little, and none of the events that
carry the environment, the system properties or the command line (`settings=profile` records
those, and the .jfr goes into Slack as it is). `duration=` makes the JVM stop it by itself
even if jdebug dies; jdebug stops it itself first, which writes the file at once.
"""

from __future__ import annotations

import gzip
import io
from typing import Literal

from bot.jvm.flamegraph import collapsed_stacks, profile_flame_graph, render_flame_graph
from bot.jvm.jfr import read_recording
from bot.jvm.profile import summarise_profile
from bot.jvm.steps import Fetch, GuardRecording, Jcmd, Pause, Put, Step
from bot.model.request import Options
from bot.model.results import Analysis, Attachment, ToolRun

ProfileEvent = Literal["cpu", "alloc", "lock"]
# Stopped by jdebug at `duration`; the JVM's own stop comes this much later, as a safety net.
SAFETY_S = 30
# The recording never grows past this (JFR drops its oldest data first).
MAX_SIZE = 64 * 1024 * 1024
# Above this the .jfr goes into Slack gzipped.
GZIP_ABOVE = 8 * 1024 * 1024

# The periods and thresholds are those of the JDK's own profile.jfc (JDK 17 to 25).
_ALWAYS = {
    "jdk.GarbageCollection": {"enabled": "true", "threshold": "0 ms"},
    "jdk.GCPhasePause": {"enabled": "true", "threshold": "0 ms"},
    "jdk.CPULoad": {"enabled": "true", "period": "1000 ms"},
}
_BY_EVENT: dict[str, dict[str, dict[str, str]]] = {
    "cpu": {
        "jdk.ExecutionSample": {"enabled": "true", "period": "10 ms"},
        "jdk.NativeMethodSample": {"enabled": "true", "period": "20 ms"},
    },
    "alloc": {
        # JDK 16+; older JDKs only have the TLAB events, which the summary falls back to.
        "jdk.ObjectAllocationSample": {
            "enabled": "true",
            "throttle": "300/s",
            "stackTrace": "true",
        },
        "jdk.ObjectAllocationInNewTLAB": {"enabled": "true", "stackTrace": "true"},
        "jdk.ObjectAllocationOutsideTLAB": {"enabled": "true", "stackTrace": "true"},
    },
    "lock": {
        "jdk.JavaMonitorEnter": {"enabled": "true", "threshold": "10 ms", "stackTrace": "true"},
        "jdk.ThreadPark": {"enabled": "true", "threshold": "10 ms", "stackTrace": "true"},
    },
}


def recording_settings(event: str) -> bytes:
    """A .jfc enabling only what the `event` summary reads (events a JDK lacks are ignored)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<configuration version="2.0" label="jdebug" provider="jdebug"'
        ' description="jdebug profile: only the events its summary reads">',
    ]
    for name, settings in {**_BY_EVENT.get(event, {}), **_ALWAYS}.items():
        lines.append(f'  <event name="{name}">')
        lines += [f'    <setting name="{k}">{v}</setting>' for k, v in settings.items()]
        lines.append("  </event>")
    lines.append("</configuration>")
    return ("\n".join(lines) + "\n").encode()


def profile_steps(options: Options) -> tuple[Step, ...]:
    """Refuse if one of ours runs; write the settings; record for `duration` s; stop; fetch."""
    duration = options.number("duration", 20)
    event = options.word("event", "cpu")
    name = "jdebug-@NONCE@"
    return (
        GuardRecording(),
        Put("jfc", recording_settings(event)),
        Jcmd(
            "profile.start",
            f"JFR.start name={name} settings=@FILE.jfc@ duration={duration + SAFETY_S}s "
            f"maxsize={MAX_SIZE} filename=@FILE.jfr@",
        ),
        Pause(duration),
        Jcmd("profile.stop", f"JFR.stop name={name}", optional=True),
        Fetch("profile", "jfr", binary=True),
    )


def summarise_recording(
    data: bytes, event: str, name: str = "profile", *, attach_recording: bool = True
) -> Analysis:
    """The summary of a recording, with its flame graph, collapsed stacks and (when it was
    just recorded, not read from the user's own file) the .jfr."""
    recording = read_recording(io.BytesIO(data))
    summary = summarise_profile(recording, _event(event))
    analysis = summary.analysis
    jfr = Attachment(f"{name}.jfr", "the recording (JDK Mission Control opens it)", data)
    if len(data) > GZIP_ABOVE:
        jfr = Attachment(f"{name}.jfr.gz", "the recording, gzipped", gzip.compress(data, 6))
    # Without stacks there is no graph to draw, but the recording still holds the GC and CPU
    # events (and what JMC shows): the user keeps it either way.
    graphs = (
        (
            Attachment(
                "flame.png",
                f"flame graph ({summary.event})",
                render_flame_graph(profile_flame_graph(summary)),
            ),
            Attachment(
                "collapsed.txt", "collapsed stacks", collapsed_stacks(summary.stacks).encode()
            ),
        )
        if summary.stacks
        else ()
    )
    attachments = (*graphs, *((jfr,) if attach_recording else ()))
    notes = analysis.notes
    if len(data) >= MAX_SIZE * 0.95:
        notes = (
            *notes,
            f"the recording reached jdebug's {MAX_SIZE >> 20} MB cap: JFR dropped its oldest data",
        )
    return Analysis(analysis.headline, analysis.findings, notes, attachments)


def summarise_profile_run(run: ToolRun) -> Analysis:
    """The `profile` tool's analyser: the fetched recording, or why there is none."""
    fetched = run.step("profile")
    if fetched is None or not fetched.data:
        started = run.text_of("profile.start").strip()
        return Analysis(
            "no recording came back from the JVM",
            notes=(f"JFR.start said: {started[:300]}",) if started else (),
        )
    return summarise_recording(fetched.data, run.options.word("event", "cpu"))


def _event(word: str) -> ProfileEvent:
    if word == "alloc":
        return "alloc"
    if word == "lock":
        return "lock"
    return "cpu"
