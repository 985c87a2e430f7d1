"""The leftover checks themselves: a stray debug tool is found even after its parent exited,
and an ended one is not (otherwise every "nothing left" assertion would prove nothing)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.faults.leftovers import reap_ended_children, stray_debug_processes
from tests.support.polling import wait_for


def test_an_orphaned_jattach_is_found_and_then_gone_once_killed(tmp_path: Path, orphans) -> None:
    fake = tmp_path / "jattach"  # a `sleep` whose name (comm) is jattach
    shutil.copy("/bin/sleep", fake)
    # The shell starts it in the background and exits at once: the tool is an orphan.
    started = subprocess.run(
        ["/bin/sh", "-c", '"$0" 60 >/dev/null 2>&1 & echo $!', str(fake)],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(started.stdout)
    try:

        def found() -> list[str]:
            return [line for line in stray_debug_processes() if str(fake) in line]

        (line,) = wait_for(found, 5, "the orphaned jattach to be found")
        assert int(line.split(":")[0]) == pid
        stat = Path(f"/proc/{pid}/stat").read_text()
        assert int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()  # adopted, not init's
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    # Adopted, it is this process's to reap once it has ended.
    wait_for(lambda: pid in reap_ended_children(), 5, "the killed jattach to be reaped")
    assert found() == []
