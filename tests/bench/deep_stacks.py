"""A JVM whose `Thread.print` is about 50 MB (500 threads parked under 800-frame stacks), built
from source with javac for the memory benchmarks, and how to read a process's RSS.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

_DEEP_SOURCE = """\
package com.example.orders.service.internal;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.LockSupport;

/** Many threads parked at the bottom of deep stacks: a ~50 MB `Thread.print`. */
public final class OrderReconciliationService {
    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        int depth = Integer.parseInt(args[1]);
        CountDownLatch ready = new CountDownLatch(threads);
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> reconcileRecursively(depth, ready), "reconciler-" + i);
            t.setDaemon(true);
            t.start();
        }
        ready.await();
        System.out.println("deep stacks ready");
        System.out.flush();
        while (true) {
            LockSupport.park();
        }
    }

    static void reconcileRecursively(int remaining, CountDownLatch ready) {
        if (remaining == 0) {
            ready.countDown();
            while (true) {
                LockSupport.park();
            }
        }
        reconcileRecursively(remaining - 1, ready);
    }
}
"""
DEEP_MAIN = "com.example.orders.service.internal.OrderReconciliationService"
DEEP_ARGS = ("500", "800")  # threads, frames each: about 50 MB of Thread.print


def build_deep_stacks(folder: Path) -> tuple[Path, Path]:
    """Compile the class (javac --release 11) and pack it as a runnable jar: (classes, jar)."""
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if javac is None or jar_tool is None:
        pytest.skip("javac and jar are needed to build the deep-stacks JVM (make bootstrap)")
    source = folder / "src" / f"{DEEP_MAIN.replace('.', '/')}.java"
    source.parent.mkdir(parents=True)
    source.write_text(_DEEP_SOURCE)
    classes = folder / "classes"
    subprocess.run([javac, "--release", "11", "-d", str(classes), str(source)], check=True)
    jar = folder / "deep-stacks.jar"
    subprocess.run(
        [
            jar_tool,
            "--create",
            "--file",
            str(jar),
            "--main-class",
            DEEP_MAIN,
            "-C",
            str(classes),
            ".",
        ],
        check=True,
    )
    return classes, jar


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the highest resident set size the process has had so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
