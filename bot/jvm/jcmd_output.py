"""What the jcmd analysers share around their own parsing: the lines worth reading (blank
lines and jcmd's leading `<pid>:` line dropped), and the note about lines nobody recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

_JCMD_PID_LINE = re.compile(r"\d+:")


def content_lines(text: str) -> Iterator[str]:
    """Each non-blank line, stripped; a first line of just `<pid>:` (jcmd's header) is
    skipped, since jattach and the raw attach protocol print none."""
    first = True
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if first and _JCMD_PID_LINE.fullmatch(line):
            first = False
            continue
        first = False
        yield line


def unrecognised_note(lines: Sequence[str]) -> str:
    """`2 line(s) were not recognised, e.g. '...'.` for a non-empty list of lines."""
    return f"{len(lines)} line(s) were not recognised, e.g. {lines[0][:80]!r}."
