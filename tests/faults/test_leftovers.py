"""The leftover checks themselves: a stray debug tool is found even after its parent exited,
and an ended one is not (otherwise every "nothing left" assertion would prove nothing)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.faults.leftovers import adopt_orphans, stray_debug_processes


def test_an_orphaned_jattach_is_found_and_then_gone_once_killed(tmp_path):
    adopt_orphans()
    fake = tmp_path / "jattach"  # a `sleep` whose name (comm) is jattach
    shutil.copy("/bin/sleep", fake)
    # The shell starts it in the background and exits at once: the tool is an orphan.
    subprocess.run(["/bin/sh", "-c", '"$0" 60 >/dev/null 2>&1 & echo $!', str(fake)], check=True)
    for _ in range(100):
        found = [line for line in stray_debug_processes() if str(fake) in line]
        if found:
            break
        time.sleep(0.05)
    assert len(found) == 1
    pid = int(found[0].split(":")[0])
    stat = Path(f"/proc/{pid}/stat").read_text()
    assert int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid()  # adopted, not init's
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # adopted: this process reaps it
    assert [line for line in stray_debug_processes() if str(fake) in line] == []
